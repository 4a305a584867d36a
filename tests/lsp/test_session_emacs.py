"""Sessions with the Emacs (Eglot) capability preset, and the fallback's hard cases seen in real Eglot and
in Helix's source: a buffer that reports the applied edit late, an editor that cannot open the diff,
and one that cannot ask a question at all."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.fakes.model_server import ScriptedModelServer
from tests.lsp.conftest import Editor, server_config, start_scripted_editor
from tests.lsp.test_session_vscode import EXPECTED, LEAP, TESTS, implement_leap, leap_script, setup_leap
from tests.lsp.test_undo_apply import on_apply

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(scope="module", config=server_config())
async def emacs(lsp_client: LanguageClient, model: ScriptedModelServer, tmp_path_factory: pytest.TempPathFactory):
    lsp_client.editor = await start_scripted_editor(  # type: ignore[attr-defined]
        lsp_client, model, tmp_path_factory.mktemp("emacs"), "emacs",
    )
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def editor(emacs: LanguageClient) -> Iterator[Editor]:
    editor: Editor = emacs.editor  # type: ignore[attr-defined]
    yield editor
    editor.answers.clear()


def summary_of(editor: Editor, since: int) -> str:
    (told,) = [m.message for m in editor.client.messages[since:] if m.message.startswith("little-coder: implement")]
    return told


async def test_an_edit_the_buffer_reports_late_counts_as_applied(editor: Editor, model: ScriptedModelServer) -> None:
    # Eglot sends didChange when the user is next idle, which after its y-or-n question may be minutes.
    folder = "late"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    editor.answers[:] = ["Apply"]
    def later(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        asyncio.get_running_loop().call_later(1.5, editor.apply, params.edit)
        return types.ApplyWorkspaceEditResult(applied=True)

    shown = len(editor.client.messages)
    restore = on_apply(editor, later)
    try:
        session = await implement_leap(editor, folder)
        status = await editor.wait_finished(session)
        await asyncio.sleep(1.6)  # the buffer reports the edit after all
    finally:
        restore()
    assert status["state"] == "applied" and len(status["accepted"]) == 3, status
    assert summary_of(editor, shown) == "little-coder: implement `leap` — Applied all 3 changes."
    assert editor.text(f"{folder}/leap.py") == EXPECTED and editor.text(f"{folder}/test_leap.py") == TESTS


async def test_show_diff_in_an_editor_that_cannot_open_it_names_the_file(
        editor: Editor, model: ScriptedModelServer) -> None:
    folder = "no-show"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    editor.answers[:] = ["Show diff", "Apply"]
    session = await implement_leap(editor, folder)
    status = await editor.wait_finished(session)
    assert status["state"] == "applied"
    assert editor.client.shown_documents == []
    second = editor.message_requests[-1]
    assert second.message.endswith(f"Apply? The diff is in .little-coder/{session}.diff.")
    assert [a.title for a in second.actions or []] == ["Apply", "Discard"]


async def test_an_editor_that_cannot_ask_keeps_the_proposal_as_a_patch(
        editor: Editor, model: ScriptedModelServer) -> None:
    # Helix 25.07 answers window/showMessageRequest with "method not found": nothing is applied, and
    # nothing counts as rejected either.
    folder = "no-ask"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))

    features = editor.client.protocol.fm.features
    handler = features.pop(types.WINDOW_SHOW_MESSAGE_REQUEST)  # the client now answers "method not found"
    editor.client.report_server_error = lambda error, source: None  # type: ignore[method-assign]  # expected
    shown = len(editor.client.messages)
    try:
        session = await implement_leap(editor, folder)
        status = await editor.wait_finished(session)
    finally:
        features[types.WINDOW_SHOW_MESSAGE_REQUEST] = handler
        del editor.client.report_server_error
    assert status["state"] == "closed" and status["rejected"] == [] and len(status["undecided"]) == 3
    assert editor.text(f"{folder}/leap.py") == LEAP
    patch = f".little-coder/{session}.diff"
    assert summary_of(editor, shown) == (
        "little-coder: implement `leap` — The review was closed: none of the 3 changes was applied, and none was "
        f"rejected. Your editor cannot ask whether to apply them: the patch is in {patch} (git apply takes it), "
        "or ask little-coder to revise.")
    # The patch applies to the user's files as they are.
    check = subprocess.run(["git", "apply", "--check", "--unsafe-paths", patch], cwd=editor.root,
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
