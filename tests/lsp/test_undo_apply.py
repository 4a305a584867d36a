"""Undo and apply tell the truth, end to end (real server, scripted model server, scripted editor).

- undo never reverts or deletes what the user changed after the apply: a created file they edited
  stays, and so do lines typed right after accepting (inside the server's settle window);
- an edit the editor aborts partway is reported as partial, names what landed and what did not, and
  is undoable; an undo the editor applies only in part leaves the rest undoable;
- an unopened file that changed on disk while the user was deciding is rebased before the edit goes
  out (a plain `changes` edit has no version to protect it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.fakes.model_server import Call, Reply, ScriptedModelServer
from tests.lsp.conftest import Editor, server_config, start_scripted_editor
from tests.lsp.test_session_vscode import (
    EXPECTED,
    IMPLEMENTED,
    LEAP,
    NEW_LABEL,
    TESTS,
    implement_leap,
    leap_script,
    setup_leap,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

OLD_LABEL = '    return "leap 📅" if leap(year) else "common"'
STUB = "    raise NotImplementedError\n"


@pytest_lsp.fixture(scope="module", config=server_config())
async def vscode(lsp_client: LanguageClient, model: ScriptedModelServer, tmp_path_factory: pytest.TempPathFactory):
    lsp_client.editor = await start_scripted_editor(  # type: ignore[attr-defined]
        lsp_client, model, tmp_path_factory.mktemp("undo-vscode"), "visual-studio-code",
    )
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(scope="module", config=server_config())
async def neovim(lsp_client: LanguageClient, model: ScriptedModelServer, tmp_path_factory: pytest.TempPathFactory):
    lsp_client.editor = await start_scripted_editor(  # type: ignore[attr-defined]
        lsp_client, model, tmp_path_factory.mktemp("undo-neovim"), "neovim",
    )
    yield
    await lsp_client.shutdown_session()


def _override(editor: Editor, method: str, handler: Callable[..., Any]) -> Callable[[], None]:
    """Replace one of the scripted editor's request handlers; returns the restore."""
    features = editor.client.protocol.fm.features
    original = features[method]
    features[method] = handler
    return lambda: features.__setitem__(method, original)


@pytest.fixture
def editor(vscode: LanguageClient) -> Iterator[Editor]:
    editor: Editor = vscode.editor  # type: ignore[attr-defined]
    yield editor
    editor.answers.clear()


def on_apply(editor: Editor, then: Callable[[types.ApplyWorkspaceEditParams], types.ApplyWorkspaceEditResult]
             ) -> Callable[[], None]:
    async def handler(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        editor.edit_requests.append(params)
        return then(params)

    return _override(editor, types.WORKSPACE_APPLY_EDIT, handler)


def first_changes(editor: Editor, edit: types.WorkspaceEdit, count: int) -> None:
    """Apply only the first `count` documentChanges of `edit`, as an editor that stopped partway."""
    editor.apply(types.WorkspaceEdit(document_changes=list(edit.document_changes or [])[:count],
                                     change_annotations=edit.change_annotations))


async def accepted_session(editor: Editor, model: ScriptedModelServer, folder: str) -> str:
    model.replace_replies(leap_script(folder))
    session = await implement_leap(editor, folder)
    assert (await editor.wait_finished(session))["state"] == "applied"
    return session


def shown_since(editor: Editor, before: int) -> list[types.ShowMessageParams]:
    return editor.client.messages[before:]


async def test_undo_keeps_a_created_file_the_user_edited(editor: Editor, model: ScriptedModelServer) -> None:
    folder = "created-edited"
    setup_leap(editor, folder)
    session = await accepted_session(editor, model, folder)
    mine = TESTS + "\n\ndef test_century() -> None:\n    assert not leap(1900)\n"
    editor.write(f"{folder}/test_leap.py", mine)  # the user extends the agent's new file (not open)

    shown = len(editor.client.messages)
    result = await editor.execute("littleCoder.undo", {"sessionId": session})
    assert editor.text(f"{folder}/leap.py") == LEAP
    assert editor.text(f"{folder}/test_leap.py") == mine
    expected = (f"little-coder: undo of implement `leap`: kept {folder}/test_leap.py: you edited it since "
                "little-coder created it, so it was not deleted; undid the rest.")
    assert result["message"] == expected
    assert result["undone"] is True and result["files"] == [f"{folder}/leap.py"] and result["notUndone"] == []
    assert [(k["path"], k["where"]) for k in result["kept"]] == [(f"{folder}/test_leap.py", "the whole file")]
    assert [(m.type, m.message) for m in shown_since(editor, shown)] == [(types.MessageType.Warning, expected)]
    assert not any(isinstance(c, types.DeleteFile) for c in editor.edit_requests[-1].edit.document_changes or [])
    with pytest.raises(JsonRpcException, match="nothing to undo"):
        await editor.execute("littleCoder.undo", {"sessionId": session})


async def test_undo_keeps_what_the_user_typed_right_after_accepting(
        editor: Editor, model: ScriptedModelServer) -> None:
    folder = "typed-after"
    setup_leap(editor, folder)

    def apply_then_type(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        editor.apply(params.edit)
        # The user types 50 ms after accepting: while the server still waits for the documents to settle.
        asyncio.get_running_loop().call_later(0.05, editor.type, f"{folder}/leap.py", 0, "# mine\n")
        return types.ApplyWorkspaceEditResult(applied=True)

    restore = on_apply(editor, apply_then_type)
    try:
        session = await accepted_session(editor, model, folder)
    finally:
        restore()
    assert editor.text(f"{folder}/leap.py") == "# mine\n" + EXPECTED
    # Later the user also changes a line the agent wrote (the last one, line 11 now).
    editor.type(f"{folder}/leap.py", len("# mine\n" + EXPECTED), "  # checked")

    shown = len(editor.client.messages)
    result = await editor.execute("littleCoder.undo", {"sessionId": session})
    assert editor.text(f"{folder}/leap.py") == "# mine\n" + LEAP.replace(OLD_LABEL, NEW_LABEL + "  # checked")
    assert not editor.path(f"{folder}/test_leap.py").exists()
    expected = f"little-coder: undo of implement `leap`: kept your edits in {folder}/leap.py line 11; undid the rest."
    assert result["message"] == expected and result["undone"] is True
    assert sorted(result["files"]) == [f"{folder}/leap.py", f"{folder}/test_leap.py"]
    assert [(k["path"], k["where"], k["reason"]) for k in result["kept"]] == [
        (f"{folder}/leap.py", "line 11", "you changed them since")]
    assert [m.message for m in shown_since(editor, shown)] == [expected]


async def test_an_edit_aborted_partway_is_partial_reported_and_undoable(
        editor: Editor, model: ScriptedModelServer) -> None:
    folder = "aborted"
    setup_leap(editor, folder)

    def abort_after_the_first_file(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        first_changes(editor, params.edit, 1)
        return types.ApplyWorkspaceEditResult(applied=False, failure_reason="disk full", failed_change=1)

    shown = len(editor.client.messages)
    model.replace_replies(leap_script(folder))
    restore = on_apply(editor, abort_after_the_first_file)
    try:
        session = await implement_leap(editor, folder)
        status = await editor.wait_finished(session)
    finally:
        restore()
    first = (editor.edit_requests[-1].edit.document_changes or [])[0]
    assert isinstance(first, types.TextDocumentEdit) and first.text_document.uri == editor.uri(f"{folder}/leap.py")
    assert editor.text(f"{folder}/leap.py") == EXPECTED and not editor.path(f"{folder}/test_leap.py").exists()
    assert status["state"] == "partial", status
    assert status["accepted"] == [f"{folder}/leap.py#1", f"{folder}/leap.py#2"]
    assert status["failed"] == [f"{folder}/test_leap.py#1"] and status["rejected"] == []
    facts = (f"Applied 2 of 3 changes. The editor did not apply (disk full): {folder}/test_leap.py: new file (+5). "
             "They are kept: ask little-coder to revise to redo them on the current files.")
    assert status["message"] == facts
    (warning,) = [m for m in shown_since(editor, shown) if m.type == types.MessageType.Warning]
    assert warning.message == f"little-coder: implement `leap` — {facts}"

    result = await editor.execute("littleCoder.undo", {})
    assert result["sessionId"] == session and result["undone"] is True
    assert result["message"] == f"little-coder: undo of implement `leap`: undid its changes to {folder}/leap.py."
    assert editor.text(f"{folder}/leap.py") == LEAP and not editor.path(f"{folder}/test_leap.py").exists()

    # A revise tells the model the same facts the user was shown.
    before = len(model.requests)
    model.replace_replies([Reply("Nothing to redo yet.")])
    revised = await editor.execute("littleCoder.revise", {"sessionId": session})
    await editor.wait_finished(revised["sessionId"])
    told = "\n".join(str(m["content"]) for m in model.requests[before]["messages"] if m["role"] == "user")
    assert f"was told: \u201c{facts}\u201d" in told
    assert "The editor did not apply these" in told and "test_leap.py: new file (+5)" in told
    undone = f"undo of implement `leap`: undid its changes to {folder}/leap.py."
    assert f"The user was told since: \u201c{undone}\u201d" in told


async def test_an_undo_the_editor_applied_in_part_stays_undoable(editor: Editor, model: ScriptedModelServer) -> None:
    folder = "undo-in-part"
    setup_leap(editor, folder)
    session = await accepted_session(editor, model, folder)

    def only_the_first_change(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        first_changes(editor, params.edit, 1)
        return types.ApplyWorkspaceEditResult(applied=True)  # says yes, did not delete the file

    restore = on_apply(editor, only_the_first_change)
    try:
        result = await editor.execute("littleCoder.undo", {"sessionId": session})
    finally:
        restore()
    assert editor.text(f"{folder}/leap.py") == LEAP and editor.text(f"{folder}/test_leap.py") == TESTS
    assert result["undone"] is False and result["state"] == "applied"
    assert result["files"] == [f"{folder}/leap.py"] and result["notUndone"] == [f"{folder}/test_leap.py"]
    assert result["message"] == (
        f"little-coder: undo of implement `leap`: undid its changes to {folder}/leap.py; the editor did not apply "
        f"the undo to {folder}/test_leap.py; they are unchanged and still undoable.")

    again = await editor.execute("littleCoder.undo", {})
    assert again["sessionId"] == session and again["undone"] is True and again["files"] == [f"{folder}/test_leap.py"]
    assert not editor.path(f"{folder}/test_leap.py").exists() and editor.text(f"{folder}/leap.py") == LEAP
    assert (await editor.status(session))["state"] == "undone"


async def test_an_unopened_file_changed_on_disk_during_review_is_rebased(
        neovim: LanguageClient, model: ScriptedModelServer) -> None:
    editor: Editor = neovim.editor  # type: ignore[attr-defined]
    folder = "disk-moved"
    setup_leap(editor, folder, open_buffer=False)
    theirs_label = '    return "leap" if leap(year) else "plain"'
    on_disk = "# header\n# more\n" + LEAP.replace(OLD_LABEL, theirs_label)

    def change_disk_then_apply(params: types.ShowMessageRequestParams) -> types.MessageActionItem:
        # While the user reads "Apply?", the file changes on disk (another tool, a git checkout); the
        # conflict that makes is then answered "Keep mine".
        if params.message.endswith("Apply?"):
            editor.write(f"{folder}/leap.py", on_disk)
            return types.MessageActionItem(title="Apply")
        return types.MessageActionItem(title="Keep mine")

    shown = len(editor.client.messages)
    model.replace_replies(leap_script(folder))
    restore = _override(editor, types.WINDOW_SHOW_MESSAGE_REQUEST, change_disk_then_apply)
    try:
        session = await implement_leap(editor, folder)
        status = await editor.wait_finished(session)
    finally:
        restore()
    # The stub's implementation landed where the stub is now; the user's label line is theirs.
    assert editor.text(f"{folder}/leap.py") == on_disk.replace(STUB, IMPLEMENTED)
    assert editor.text(f"{folder}/test_leap.py") == TESTS
    assert status["state"] == "partial" and f"{folder}/leap.py#1" in status["accepted"]
    (edits,) = (editor.edit_requests[-1].edit.changes or {}).values()
    assert [e.range.start.line for e in edits] == [7]
    assert [m.message for m in shown_since(editor, shown) if m.type == types.MessageType.Warning] == [
        "little-coder: implement `leap` — Applied 2 of 3 changes. Your version kept where you and the agent changed "
        f"the same lines: {folder}/leap.py: line 12 (+1 −1)."]


async def test_an_edit_the_editor_applied_to_some_files_only_is_partial_and_undoable(
        neovim: LanguageClient, model: ScriptedModelServer) -> None:
    editor: Editor = neovim.editor  # type: ignore[attr-defined]
    folder = "some-files"
    setup_leap(editor, folder, open_buffer=False)
    label = "def label() -> str:\n    return 'common'\n"
    editor.write(f"{folder}/label.py", label)
    model.replace_replies([
        Reply(calls=[Call("Edit", {"file_path": f"{folder}/leap.py", "old_string": STUB, "new_string": IMPLEMENTED})]),
        Reply(calls=[Call("Read", {"file_path": f"{folder}/label.py"})]),
        Reply(calls=[Call("Edit", {"file_path": f"{folder}/label.py", "old_string": "'common'",
                                   "new_string": "'plain'"})]),
        Reply("Implemented `leap` and renamed the label."),
    ])

    def only_the_first_file(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        uri, edits = next(iter((params.edit.changes or {}).items()))
        editor.apply(types.WorkspaceEdit(changes={uri: edits}))
        return types.ApplyWorkspaceEditResult(applied=True)  # says yes, changed one file of two

    editor.answers[:] = ["Apply"]
    shown = len(editor.client.messages)
    restore = on_apply(editor, only_the_first_file)
    try:
        session = await implement_leap(editor, folder)
        status = await editor.wait_finished(session)
    finally:
        restore()
    assert list(editor.edit_requests[-1].edit.changes or {}) == [editor.uri(f"{folder}/leap.py"),
                                                                 editor.uri(f"{folder}/label.py")]
    assert editor.text(f"{folder}/leap.py") == LEAP.replace(STUB, IMPLEMENTED)
    assert editor.text(f"{folder}/label.py") == label
    assert status["state"] == "partial" and status["failed"] == [f"{folder}/label.py#1"]
    facts = (f"Applied 1 of 2 changes. The editor did not apply: {folder}/label.py: line 2 (+1 −1). "
             "They are kept: ask little-coder to revise to redo them on the current files.")
    assert status["message"] == facts
    assert [m.message for m in shown_since(editor, shown) if m.type == types.MessageType.Warning] == [
        f"little-coder: implement `leap` — {facts}"]

    result = await editor.execute("littleCoder.undo", {"sessionId": session})
    assert result["files"] == [f"{folder}/leap.py"] and result["undone"] is True
    assert editor.text(f"{folder}/leap.py") == LEAP and editor.text(f"{folder}/label.py") == label
