"""Sessions with the Neovim capability preset: no documentChanges, no change annotations, UTF-8
positions. The review goes through window/showMessageRequest (Apply / Show diff / Discard), the diff
through a file opened with window/showDocument, and new files are written by the server once the user
said Apply (a plain `changes` edit cannot create files)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_lsp
from pytest_lsp import LanguageClient

from tests.fakes.model_server import ScriptedModelServer
from tests.lsp.conftest import Editor, server_config, start_scripted_editor
from tests.lsp.test_session_vscode import (
    EXPECTED,
    LEAP,
    TESTS,
    implement_leap,
    leap_script,
    setup_leap,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(scope="module", config=server_config())
async def neovim(lsp_client: LanguageClient, model: ScriptedModelServer, tmp_path_factory: pytest.TempPathFactory):
    lsp_client.editor = await start_scripted_editor(  # type: ignore[attr-defined]
        lsp_client, model, tmp_path_factory.mktemp("neovim"), "neovim",
    )
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def editor(neovim: LanguageClient) -> Iterator[Editor]:
    editor: Editor = neovim.editor  # type: ignore[attr-defined]
    yield editor
    editor.answers.clear()


async def test_show_diff_then_apply(editor: Editor, model: ScriptedModelServer) -> None:
    assert editor.encoding == "utf-8"
    folder = "nvim-apply"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    editor.answers[:] = ["Show diff", "Apply"]
    session = await implement_leap(editor, folder)
    status = await editor.wait_finished(session)

    assert status["state"] == "applied", status
    first, second = editor.message_requests[-2:]
    assert first.message == "little-coder: implement `leap` — 2 files, +7 −2. Apply?"
    assert [a.title for a in first.actions or []] == ["Apply", "Show diff", "Discard"]
    assert [a.title for a in second.actions or []] == ["Apply", "Discard"]

    diff_path = editor.root / ".little-coder" / f"{session}.diff"
    (shown,) = [d for d in editor.client.shown_documents if d.uri.endswith(f"{session}.diff")]
    assert shown.uri == editor.uri(f".little-coder/{session}.diff") and shown.take_focus
    diff = diff_path.read_text(encoding="utf-8")
    assert f"+++ b/{folder}/leap.py" in diff and "+    return year % 4 == 0" in diff
    assert f"--- /dev/null\n+++ b/{folder}/test_leap.py" in diff

    # A plain `changes` edit in UTF-8 columns; the new file was written by the server.
    request = editor.edit_requests[-1]
    assert request.edit.document_changes is None and set(request.edit.changes or {}) == {
        editor.uri(f"{folder}/leap.py")}
    last = request.edit.changes[editor.uri(f"{folder}/leap.py")][-1].range  # type: ignore[index]
    assert last.end.character == len(LEAP.split("\n")[-1].encode("utf-8"))
    assert editor.text(f"{folder}/leap.py") == EXPECTED
    assert editor.text(f"{folder}/test_leap.py") == TESTS


async def test_discard_changes_nothing_and_can_be_revised(editor: Editor, model: ScriptedModelServer) -> None:
    folder = "nvim-discard"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    edits_before = len(editor.edit_requests)
    editor.answers[:] = ["Discard"]
    session = await implement_leap(editor, folder)
    status = await editor.wait_finished(session)
    assert status["state"] == "discarded"
    assert len(editor.edit_requests) == edits_before
    assert editor.text(f"{folder}/leap.py") == LEAP
    assert not editor.path(f"{folder}/test_leap.py").exists()
    assert len(status["rejected"]) == 3

    before = len(model.requests)
    model.replace_replies(leap_script(folder)[1:])
    editor.answers[:] = ["Apply"]
    revised = await editor.execute("littleCoder.revise", {"sessionId": session, "comment": "try again"})
    assert (await editor.wait_finished(revised["sessionId"]))["state"] == "applied"
    assert "You discarded all 3 changes" in str(model.requests[before]["messages"])
    assert editor.text(f"{folder}/leap.py") == EXPECTED


async def test_undo_deletes_a_created_file_on_a_client_without_delete_edits(
        editor: Editor, model: ScriptedModelServer) -> None:
    folder = "nvim-undo"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    editor.answers[:] = ["Apply"]
    session = await implement_leap(editor, folder)
    assert (await editor.wait_finished(session))["state"] == "applied"
    result = await editor.execute("littleCoder.undo", {"sessionId": session})
    assert result["undone"] is True
    assert editor.text(f"{folder}/leap.py") == LEAP
    assert not editor.path(f"{folder}/test_leap.py").exists()
    assert isinstance(editor.edit_requests[-1].edit.changes, dict)


async def test_review_each_applies_change_by_change_and_sums_up_once(
        editor: Editor, model: ScriptedModelServer) -> None:
    folder = "nvim-each"
    setup_leap(editor, folder)
    await editor.configure(review="each")
    try:
        model.replace_replies(leap_script(folder))
        editor.default_answer = "Apply"
        shown = len(editor.client.messages)
        session = await implement_leap(editor, folder)
        status = await editor.wait_finished(session)
    finally:
        editor.default_answer = None
        await editor.configure()
    assert status["state"] == "applied", status
    assert editor.text(f"{folder}/leap.py") == EXPECTED and editor.text(f"{folder}/test_leap.py") == TESTS
    told = [m.message for m in editor.client.messages[shown:] if m.message.startswith("little-coder: implement")]
    assert told == [f"little-coder: implement `leap` — Applied all {len(status['accepted'])} changes."], told
