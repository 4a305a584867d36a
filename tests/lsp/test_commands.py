"""Command arguments and settings through the real server: a bad call gets InvalidParams naming the
field (never a traceback), settings from initializationOptions and workspace/configuration, one
showMessage per invalid setting, secrets refused, status and cancel answers."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pytest_lsp import LanguageClient

from tests.lsp.conftest import MODEL, Editor, server_config, start_editor

pytestmark = pytest.mark.asyncio(loop_scope="module")

ORDINARY = "def add(a, b):\n    return a + b\n"


@pytest_lsp.fixture(scope="module", config=server_config())
async def vscode(lsp_client: LanguageClient, tmp_path_factory: pytest.TempPathFactory):
    editor = await start_editor(lsp_client, tmp_path_factory.mktemp("commands"), "visual-studio-code",
                                backend="ollama", baseUrl="http://127.0.0.1:9", model=MODEL)
    editor.write("add.py", ORDINARY)
    lsp_client.editor = editor  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def editor(vscode: LanguageClient) -> Editor:
    return vscode.editor  # type: ignore[attr-defined,no-any-return]


async def invalid(editor: Editor, command: str, *arguments: Any) -> JsonRpcInvalidParams:
    with pytest.raises(JsonRpcInvalidParams) as caught:
        await editor.execute(command, *arguments)
    error = caught.value
    assert "Traceback" not in error.message and not (error.data and "traceback" in str(error.data))
    return error


@pytest.mark.parametrize(("arguments", "field", "words"), [
    ({}, "uri", "Field required"),
    ({"uri": "file:///x.py"}, "", "give a position or a range"),
    ({"uri": "file:///x.py", "position": {"line": "three", "character": 0}}, "position.line", "valid integer"),
    ({"uri": "file:///x.py", "position": {"line": 1, "character": -2}}, "position.character", "greater than"),
    ({"uri": "file:///x.py", "position": {"line": 1, "character": 0}, "bogus": 1}, "bogus", "Extra inputs"),
    ({"uri": "file:///x.py", "range": {"start": {"line": 0, "character": 0}}}, "range.end", "Field required"),
    ({"uri": "file:///x.py", "position": {"line": 0, "character": 0}, "kind": "class"}, "kind", "'stub'"),
])
async def test_implement_arguments_are_validated(editor: Editor, arguments: dict[str, Any], field: str,
                                                 words: str) -> None:
    error = await invalid(editor, "littleCoder.implement", arguments)
    assert error.message.startswith("littleCoder.implement: invalid argument")
    assert words in error.message
    if field:
        assert f"'{field}'" in error.message and error.data == {"field": field}


async def test_one_object_argument(editor: Editor) -> None:
    error = await invalid(editor, "littleCoder.ask", {"instruction": "a"}, {"instruction": "b"})
    assert error.message == "littleCoder.ask takes one JSON object argument, got 2 arguments"
    error = await invalid(editor, "littleCoder.ask", "write tests")
    assert error.message == "littleCoder.ask takes one JSON object argument, got str"
    error = await invalid(editor, "littleCoder.ask", {"instruction": "   "})
    assert "'instruction'" in error.message


async def test_camel_and_snake_case_both_work(editor: Editor) -> None:
    for key in ("sessionId", "session_id"):
        error = await invalid(editor, "littleCoder.revise", {key: "no-such-session"})
        assert error.message == "invalid argument 'sessionId': no session 'no-such-session'"


async def test_nothing_to_implement_on_ordinary_code(editor: Editor) -> None:
    error = await invalid(editor, "littleCoder.implement",
                          {"uri": editor.uri("add.py"), "position": {"line": 1, "character": 6}})
    assert "nothing to implement at line 2" in error.message and error.data == {"field": "position"}


async def test_unreadable_or_foreign_uris(editor: Editor) -> None:
    error = await invalid(editor, "littleCoder.implement",
                          {"uri": editor.uri("missing.py"), "position": {"line": 0, "character": 0}})
    assert error.message.startswith("invalid argument 'uri': cannot read") and error.data == {"field": "uri"}
    error = await invalid(editor, "littleCoder.ask", {"instruction": "x", "uri": "untitled:Untitled-1"})
    assert "only file: URIs" in error.message


async def test_cancel_status_and_undo_answers(editor: Editor) -> None:
    error = await invalid(editor, "littleCoder.cancel", {})
    assert "give sessionId, or all: true" in error.message
    assert await editor.execute("littleCoder.cancel", {"all": True}) == {"cancelled": []}
    assert (await editor.status())["sessions"] == []
    with pytest.raises(JsonRpcException, match="nothing to undo"):
        await editor.execute("littleCoder.undo")


async def test_invalid_setting_is_shown_once_and_blocks_sessions(editor: Editor) -> None:
    shown_before = len(editor.client.messages)
    await editor.configure(maxTurns=0)
    await editor.configure(maxTurns=0)  # re-pulled unchanged: not shown again
    errors = [m for m in editor.client.messages[shown_before:] if m.type == types.MessageType.Error]
    assert [m.message for m in errors] == [(
        "little-coder: invalid setting 'maxTurns': Input should be greater than or equal to 1 — "
        "fix it in your editor's littleCoder settings"
    )]
    with pytest.raises(JsonRpcException, match="invalid setting 'maxTurns'"):
        await editor.execute("littleCoder.ask", {"instruction": "say hello"})
    await editor.configure()


async def test_secrets_are_refused_in_editor_settings(editor: Editor) -> None:
    shown_before = len(editor.client.messages)
    await editor.configure(apiKey="sk-not-here")
    (message,) = [m.message for m in editor.client.messages[shown_before:]]
    assert message.startswith("little-coder: invalid setting 'apiKey': secrets are not read from editor settings")
    await editor.configure()


async def test_settings_reach_the_session(editor: Editor) -> None:
    """initializationOptions point at a dead server; workspace/configuration changes the turn cap."""
    await editor.configure(maxTurns=7)
    try:
        result = await editor.execute("littleCoder.ask", {"instruction": "say hello", "wait": True})
    finally:
        await editor.configure()
    assert result["state"] == "error" and result["cap"] == 7
    assert "127.0.0.1:9" in result["message"]


async def test_hover_is_silent_away_from_sessions(editor: Editor) -> None:
    uri = editor.open("add.py")
    found = await editor.client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=1, character=4)))
    assert found is None
