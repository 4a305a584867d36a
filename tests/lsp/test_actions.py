"""Code actions: offered on a stub, a TODO, a selection and a diagnostic; never on ordinary code; lazy
command resolution for clients that resolve `command` (Neovim), eager for VS Code."""

from __future__ import annotations

import time
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.lsp.conftest import Editor, server_config, start_editor

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOURCE = '''import math


def leap(year: int) -> bool:
    """Is `year` a leap year? (grégorien 😀)"""
    raise NotImplementedError


def double(x):
    # TODO: handle negative numbers
    return x * 2


def ordinary(a, b):
    return a + b
'''


@pytest_lsp.fixture(scope="module", config=server_config())
async def vscode(lsp_client: LanguageClient, tmp_path_factory: pytest.TempPathFactory):
    editor = await start_editor(lsp_client, tmp_path_factory.mktemp("actions"), "visual-studio-code")
    editor.write("src/calc.py", SOURCE)
    editor.open("src/calc.py")
    lsp_client.editor = editor  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def editor(vscode: LanguageClient) -> Editor:
    return vscode.editor  # type: ignore[attr-defined,no-any-return]


async def actions_at(editor: Editor, start: tuple[int, int], end: tuple[int, int] | None = None,
                     diagnostics: list[types.Diagnostic] | None = None,
                     only: list[str] | None = None) -> list[types.CodeAction]:
    end = end or start
    result = await editor.client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=editor.uri("src/calc.py")),
        range=types.Range(start=types.Position(line=start[0], character=start[1]),
                          end=types.Position(line=end[0], character=end[1])),
        context=types.CodeActionContext(diagnostics=diagnostics or [], only=only),
    ))
    found = list(result or [])
    assert all(isinstance(a, types.CodeAction) for a in found)
    return found  # type: ignore[return-value]


def arguments(action: types.CodeAction) -> dict[str, Any]:
    assert action.command is not None and action.command.command == "littleCoder.implement"
    (args,) = action.command.arguments or []
    return dict(args)


async def test_stub_offers_implement_with_the_symbol_name(editor: Editor) -> None:
    (action,) = await actions_at(editor, (5, 8))  # inside `raise NotImplementedError`
    assert action.title == "Ask little-coder to implement `leap`"
    assert action.kind == types.CodeActionKind.RefactorRewrite
    args = arguments(action)  # VS Code resolves only `edit` lazily: the command comes at once
    assert args["kind"] == "stub" and args["symbol"] == "leap"
    assert args["position"] == {"line": 3, "character": 0}
    assert args["uri"] == editor.uri("src/calc.py")


async def test_nothing_on_ordinary_code(editor: Editor) -> None:
    assert await actions_at(editor, (14, 10)) == []
    assert await actions_at(editor, (0, 3)) == []
    assert await actions_at(editor, (11, 4)) == []  # `return x * 2` under the TODO's line


async def test_todo_comment_offers_implement(editor: Editor) -> None:
    (action,) = await actions_at(editor, (9, 10))
    assert action.title == "Ask little-coder to implement `double`"
    args = arguments(action)
    assert args["kind"] == "todo" and args["symbol"] == "double"
    assert args["position"] == {"line": 9, "character": 4}


async def test_selection_offers_implement_this(editor: Editor) -> None:
    found = await actions_at(editor, (14, 4), (14, 16))
    assert [a.title for a in found] == ["Ask little-coder to implement this"]
    args = arguments(found[0])
    assert args["kind"] == "selection"
    assert args["range"] == {"start": {"line": 14, "character": 4}, "end": {"line": 14, "character": 16}}
    # A selection of blanks is not code to implement.
    assert await actions_at(editor, (12, 0), (13, 0)) == []


async def test_diagnostic_offers_a_quickfix(editor: Editor) -> None:
    diagnostic = types.Diagnostic(
        range=types.Range(start=types.Position(line=14, character=11), end=types.Position(line=14, character=16)),
        message="Operator \"+\" not supported for types \"str\" and \"int\"\nsecond line of detail",
        source="pyright", code="reportOperatorIssue",
    )
    (action,) = await actions_at(editor, (14, 12), diagnostics=[diagnostic])
    assert action.kind == types.CodeActionKind.QuickFix
    assert action.title == 'Ask little-coder to fix: Operator "+" not supported for types "str" and "int"'
    assert list(action.diagnostics or []) == [diagnostic]
    args = arguments(action)
    assert args["diagnostic"]["message"] == diagnostic.message
    assert args["diagnostic"]["source"] == "pyright" and args["diagnostic"]["code"] == "reportOperatorIssue"


async def test_only_filter(editor: Editor) -> None:
    assert await actions_at(editor, (5, 8), only=[types.CodeActionKind.QuickFix]) == []
    assert len(await actions_at(editor, (5, 8), only=[types.CodeActionKind.Refactor])) == 1


async def test_positions_are_utf16_after_non_ascii(editor: Editor) -> None:
    # Line 4 holds "é" and "😀" (two UTF-16 units): a selection after them must map to the right text.
    line = SOURCE.split("\n")[4]
    start = len(line[: line.index("😀")].encode("utf-16-le")) // 2
    found = await actions_at(editor, (4, start), (4, start + 2))  # exactly the emoji
    assert found and arguments(found[0])["kind"] == "selection"


async def test_code_action_is_fast(editor: Editor) -> None:
    await actions_at(editor, (5, 8))
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        await actions_at(editor, (5, 8))
        timings.append(time.perf_counter() - started)
    timings.sort()
    assert timings[len(timings) // 2] < 0.02, timings  # round trip through a subprocess, median


async def test_after_an_edit_the_new_text_counts(editor: Editor) -> None:
    # The user implements `leap` by hand: the stub action disappears at once.
    text = editor.text("src/calc.py")
    assert text is not None
    at = text.index("raise NotImplementedError")
    editor.type("src/calc.py", at, "return year % 4 == 0\n    ")
    assert await actions_at(editor, (5, 8)) == []


@pytest_lsp.fixture(scope="module", config=server_config())
async def neovim(lsp_client: LanguageClient, tmp_path_factory: pytest.TempPathFactory):
    editor = await start_editor(lsp_client, tmp_path_factory.mktemp("actions-nvim"), "neovim")
    editor.write("src/calc.py", SOURCE)
    editor.open("src/calc.py")
    lsp_client.editor = editor  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


async def test_neovim_gets_the_command_through_resolve(neovim: LanguageClient) -> None:
    editor: Editor = neovim.editor  # type: ignore[attr-defined]
    assert editor.encoding == "utf-8"
    (action,) = await actions_at(editor, (5, 8))
    assert action.command is None and action.data is not None  # Neovim can resolve `command` lazily
    resolved = await neovim.code_action_resolve_async(action)
    assert resolved.title == "Ask little-coder to implement `leap`"
    assert arguments(resolved) == {"uri": editor.uri("src/calc.py"), "kind": "stub", "symbol": "leap",
                                   "position": {"line": 3, "character": 0}}
