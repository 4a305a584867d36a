"""Sessions end to end with the VS Code capability preset: progress, events, the annotated review edit
(per-hunk, UTF-16 ranges, versioned), accept / reject / partial, revise, undo, typing during a session,
cancellation, Bash confirmation. One language server and one scripted model server for the module."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled
from pytest_lsp import LanguageClient

from tests.fakes.model_server import Call, Reply, ScriptedModelServer
from tests.lsp.conftest import Editor, server_config, start_scripted_editor

pytestmark = pytest.mark.asyncio(loop_scope="module")

LEAP = '''"""Leap years — année bissextile 📅"""


def leap(year: int) -> bool:
    """True when `year` is a leap year (grégorien)."""
    raise NotImplementedError


def label(year: int) -> str:
    return "leap 📅" if leap(year) else "common"'''  # no final newline: the last hunk ends mid-line

IMPLEMENTED = "    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)\n"
NEW_LABEL = '    return "leap 📅" if leap(year) else "common year 🗓"'
TESTS = "from leap import leap\n\n\ndef test_leap() -> None:\n    assert leap(2000)\n"
EXPECTED = LEAP.replace("    raise NotImplementedError\n", IMPLEMENTED).replace(
    '    return "leap 📅" if leap(year) else "common"', NEW_LABEL)


PERM = "def arrangements(items):\n    raise NotImplementedError\n"
PERM_TEST = ("from perm import arrangements\n\n\ndef test_three() -> None:\n"
             "    assert len(arrangements('abc')) == 6\n")


def setup_perm(editor: Editor, folder: str, then: list[Reply]) -> list[Reply]:
    """A stub and its test on disk, the stub open; the script: an import, then the body that uses it."""
    editor.write(f"{folder}/perm.py", PERM)
    editor.write(f"{folder}/test_perm.py", PERM_TEST)
    editor.open(f"{folder}/perm.py")
    return [
        Reply(calls=[Call("Edit", {"file_path": f"{folder}/perm.py", "old_string": "def arrangements",
                                   "new_string": "import itertools\n\n\ndef arrangements"})]),
        Reply(calls=[Call("Edit", {"file_path": f"{folder}/perm.py", "old_string": "    raise NotImplementedError\n",
                                   "new_string": "    return list(itertools.permutations(items))\n"})]),
        *then,
    ]


def leap_script(folder: str) -> list[Reply]:
    path = f"{folder}/leap.py"
    return [
        Reply(reasoning="The stub raises; I will write the function.",
              calls=[Call("Write", {"file_path": path, "content": "def leap(year):\n    return True\n"})]),
        Reply(calls=[Call("Edit", {"file_path": path, "old_string": "    raise NotImplementedError\n",
                                   "new_string": IMPLEMENTED})]),
        Reply(calls=[Call("Edit", {"file_path": path, "old_string": '    return "leap 📅" if leap(year) else "common"',
                                   "new_string": NEW_LABEL})]),
        Reply(calls=[Call("Write", {"file_path": f"{folder}/test_leap.py", "content": TESTS})]),
        Reply("Implemented `leap`, labelled common years and added a test."),
    ]


@pytest_lsp.fixture(scope="module", config=server_config())
async def vscode(lsp_client: LanguageClient, model: ScriptedModelServer, tmp_path_factory: pytest.TempPathFactory):
    lsp_client.editor = await start_scripted_editor(  # type: ignore[attr-defined]
        lsp_client, model, tmp_path_factory.mktemp("vscode"), "visual-studio-code",
    )
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def editor(vscode: LanguageClient, model: ScriptedModelServer) -> Iterator[Editor]:
    editor: Editor = vscode.editor  # type: ignore[attr-defined]
    yield editor
    # Every test leaves the editor as it found it.
    editor.accept = lambda annotation_id, annotation: True
    editor.refuse = None
    editor.review_gate = None
    editor.answers.clear()
    editor.default_answer = None


def setup_leap(editor: Editor, folder: str, *, open_buffer: bool = True) -> str:
    editor.write(f"{folder}/leap.py", LEAP)
    return editor.open(f"{folder}/leap.py") if open_buffer else editor.uri(f"{folder}/leap.py")


async def implement_leap(editor: Editor, folder: str, **extra: Any) -> str:
    result = await editor.execute("littleCoder.implement", {
        "uri": editor.uri(f"{folder}/leap.py"), "position": {"line": 3, "character": 0}, "symbol": "leap", **extra})
    return str(result["sessionId"])


def requests_since(model: ScriptedModelServer, start: int) -> list[dict[str, Any]]:
    return model.requests[start:]


async def test_implement_accept_all(editor: Editor, model: ScriptedModelServer) -> None:
    folder = "accept"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    session = await implement_leap(editor, folder)
    status = await editor.wait_finished(session)

    assert status["state"] == "applied", status
    assert editor.text(f"{folder}/leap.py") == EXPECTED
    assert editor.text(f"{folder}/test_leap.py") == TESTS
    assert sorted(status["changedFiles"]) == [f"{folder}/leap.py", f"{folder}/test_leap.py"]
    assert status["rejected"] == [] and len(status["accepted"]) == 3

    # Progress: begin, a report per turn and tool call, the write-guard budget event, end with the summary.
    progress = editor.progress_of(session)
    begin, *reports, end = progress
    assert isinstance(begin, types.WorkDoneProgressBegin)
    assert begin.title == "little-coder: implement `leap`" and begin.cancellable
    messages = [r.message for r in reports]
    assert "turn 1/20" in messages
    assert f"turn 1/20 · Write {folder}/leap.py" in messages
    assert f"write guard: Write refused on {folder}/leap.py → Edit" in messages
    assert f"turn 2/20 · Edit {folder}/leap.py" in messages
    assert [r.percentage for r in reports if r.message == "turn 2/20"] == [10]
    assert isinstance(end, types.WorkDoneProgressEnd)
    assert end.message == "2 files, +7 −2 — review"

    # Events went out as littleCoder/event, with deltas merged rather than one per token.
    kinds = editor.kinds(session)
    assert kinds[0] == "session_started" and kinds[-1] == "session_finished"
    assert "write_guard" in kinds and kinds.count("turn_started") == 5
    assert kinds.count("reasoning_delta") == 1

    # The transcript reached window/logMessage.
    log = "\n".join(m.message for m in editor.client.log_messages if session in m.message)
    assert "── turn 2/20" in log and "! write guard: Write refused" in log

    # One annotated, versioned edit: a hunk per annotation, needing confirmation, UTF-16 ranges.
    (request,) = [r for r in editor.edit_requests if r.label == "little-coder: implement `leap`"]
    edit = request.edit
    annotations = edit.change_annotations or {}
    assert len(annotations) == 3 and all(a.needs_confirmation for a in annotations.values())
    changes = list(edit.document_changes or [])
    leap_edit = next(c for c in changes if isinstance(c, types.TextDocumentEdit)
                     and c.text_document.uri == editor.uri(f"{folder}/leap.py"))
    assert leap_edit.text_document.version == 1
    assert [e.annotation_id for e in leap_edit.edits] == ["lc-hunk-1", "lc-hunk-2"]  # type: ignore[union-attr]
    last = leap_edit.edits[-1].range
    old_last_line = LEAP.split("\n")[-1]
    assert (last.end.line, last.end.character) == (9, len(old_last_line.encode("utf-16-le")) // 2)
    assert last.end.character == len(old_last_line) + 1  # 📅 is two UTF-16 units
    create = next(c for c in changes if isinstance(c, types.CreateFile))
    assert create.uri == editor.uri(f"{folder}/test_leap.py") and create.annotation_id in annotations


async def test_reject_changes_nothing(editor: Editor, model: ScriptedModelServer) -> None:
    folder = "reject"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    editor.accept = lambda annotation_id, annotation: False
    session = await implement_leap(editor, folder)
    status = await editor.wait_finished(session)
    assert status["state"] == "rejected"
    assert editor.text(f"{folder}/leap.py") == LEAP
    assert not editor.path(f"{folder}/test_leap.py").exists()
    assert len(status["rejected"]) == 3 and status["accepted"] == []


async def test_accept_some_hunks_then_revise_sends_the_rejected_ones_back(
        editor: Editor, model: ScriptedModelServer) -> None:
    folder = "partial"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    # The user keeps the implementation (line 6) and turns down the label change and the new test file.
    editor.accept = lambda annotation_id, annotation: annotation is not None and ": line 6 " in annotation.label
    session = await implement_leap(editor, folder)
    status = await editor.wait_finished(session)
    assert status["state"] == "partial"
    assert editor.text(f"{folder}/leap.py") == LEAP.replace("    raise NotImplementedError\n", IMPLEMENTED)
    assert not editor.path(f"{folder}/test_leap.py").exists()
    assert status["accepted"] == [f"{folder}/leap.py#1"]
    assert status["rejected"] == [f"{folder}/leap.py#2", f"{folder}/test_leap.py#1"]

    before = len(model.requests)
    model.replace_replies([Reply("Understood: I leave the label and the tests alone.")])
    revised = await editor.execute("littleCoder.revise", {"sessionId": session, "comment": "keep the old label"})
    revised_status = await editor.wait_finished(revised["sessionId"])
    assert revised_status["state"] == "no_changes" and revised_status["parent"] == session
    assert revised_status["title"] == "revise: implement `leap`"

    (request,) = requests_since(model, before)
    messages = request["messages"]
    contents = "\n".join(str(m.get("content", "")) for m in messages)
    # The same conversation continues: the original task and the agent's edits come first ...
    assert "Implement `leap` in partial/leap.py" in contents
    assert any(m["role"] == "tool" for m in messages)
    # ... then the verdict: the rejected hunks with their text, and the comment.
    (feedback,) = [m["content"] for m in messages if m["role"] == "user" and "Rejected: the files keep" in m["content"]]
    assert contents.index("Implement `leap` in partial/leap.py") < contents.index(feedback)
    assert "common year 🗓" in feedback and "from leap import leap" in feedback
    assert "keep the old label" in feedback


async def test_user_typing_during_the_session_survives(editor: Editor, model: ScriptedModelServer) -> None:
    folder = "typing"
    setup_leap(editor, folder)
    slow_summary = "Done: " + " ".join(["the function now follows the Gregorian rules."] * 8)
    script = leap_script(folder)
    model.replace_replies([script[1], script[2], Reply(slow_summary, tokens_per_second=150)])  # ~0.5 s to stream
    shown_before = len(editor.client.messages)
    session = await implement_leap(editor, folder)
    await editor.wait_event(session, lambda e: e["kind"] == "turn_started" and e["turn"] == 3)
    # While the agent finishes, the user adds a line at the top and changes the line the agent changed.
    note = "# edited by the user while the agent worked ✍\n"
    editor.type(f"{folder}/leap.py", 0, note)
    label_at = editor.text(f"{folder}/leap.py").index('"common"')  # type: ignore[union-attr]
    editor.type(f"{folder}/leap.py", label_at + len('"common'), " (user)")
    status = await editor.wait_finished(session)

    assert status["state"] == "partial", status
    # Their text survives: the note, and their label line (nobody answered the conflict question) ...
    expected = note + LEAP.replace("    raise NotImplementedError\n", IMPLEMENTED).replace(
        '"common"', '"common (user)"')
    assert editor.text(f"{folder}/leap.py") == expected
    request = editor.edit_requests[-1]
    (document,) = request.edit.document_changes or []
    assert isinstance(document, types.TextDocumentEdit) and document.text_document.version == 3
    assert len(document.edits) == 1
    # ... they were asked about the conflict, with both versions, and told what was kept.
    question = editor.message_requests[-1]
    assert question.message.startswith(f"little-coder: you and the agent both changed {folder}/leap.py: line 11")
    assert '"common (user)"' in question.message and "common year" in question.message
    assert [a.title for a in question.actions or []] == ["Keep mine", "Take the agent's", "Keep both"]
    (summary,) = [m for m in editor.client.messages[shown_before:] if m.type == types.MessageType.Warning]
    assert summary.message == (f"little-coder: implement `leap` — Applied 1 of 2 changes. Your version kept where you "
                               f"and the agent changed the same lines: {folder}/leap.py: line 11 (+1 −1).")


async def test_undo_reverts_the_last_accepted_session(editor: Editor, model: ScriptedModelServer) -> None:
    folder = "undo"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    session = await implement_leap(editor, folder)
    assert (await editor.wait_finished(session))["state"] == "applied"
    assert editor.text(f"{folder}/test_leap.py") == TESTS

    result = await editor.execute("littleCoder.undo", {})
    assert result["sessionId"] == session and result["undone"] is True
    assert editor.text(f"{folder}/leap.py") == LEAP
    assert not editor.path(f"{folder}/test_leap.py").exists()
    assert (await editor.status(session))["state"] == "undone"
    undo_edit = editor.edit_requests[-1]
    assert undo_edit.label == "Undo little-coder: implement `leap`"
    assert not undo_edit.edit.change_annotations  # the user asked for it: no second confirmation

    with pytest.raises(Exception, match="nothing to undo"):
        await editor.execute("littleCoder.undo", {"sessionId": session})


async def test_cancel_from_the_progress_ui_stops_the_stream(editor: Editor, model: ScriptedModelServer) -> None:
    folder = "cancel-progress"
    setup_leap(editor, folder)
    edits_before = len(editor.edit_requests)
    model.replace_replies([
        Reply(calls=[Call("Edit", {"file_path": f"{folder}/leap.py", "old_string": "    raise NotImplementedError\n",
                                   "new_string": IMPLEMENTED})]),
        Reply(fault="never_ends", tokens_per_second=200),
    ])
    session = await implement_leap(editor, folder)
    await editor.wait_event(session, lambda e: e["kind"] == "text_delta" and e["text"].strip() != "")
    editor.client.window_work_done_progress_cancel(
        types.WorkDoneProgressCancelParams(token=f"littleCoder/{session}"))
    status = await editor.wait_finished(session)

    assert status["state"] == "cancelled" and status["outcome"] == "cancelled"
    assert len(editor.edit_requests) == edits_before  # nothing reached the user's files
    assert editor.text(f"{folder}/leap.py") == LEAP
    assert editor.progress_of(session)[-1] == types.WorkDoneProgressEnd(message="cancelled")
    last = model.wait_finished()[-1]
    assert last.client_closed_early and not last.completed


async def test_cancel_request_on_a_waiting_command(editor: Editor, model: ScriptedModelServer) -> None:
    folder = "cancel-request"
    setup_leap(editor, folder)
    edits_before = len(editor.edit_requests)
    model.replace_replies([Reply(fault="never_ends", tokens_per_second=200)])
    started = asyncio.ensure_future(editor.wait_event(None, lambda e: e["kind"] == "text_delta"))
    future = editor.client.protocol.send_request(
        types.WORKSPACE_EXECUTE_COMMAND,
        types.ExecuteCommandParams(command="littleCoder.implement", arguments=[{
            "uri": editor.uri(f"{folder}/leap.py"), "position": {"line": 5, "character": 4}, "wait": True}]),
        msg_id="implement-and-wait",
    )
    session = (await started)["sessionId"]
    editor.client.cancel_request(types.CancelParams(id="implement-and-wait"))
    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wait_for(asyncio.wrap_future(future), 5)

    status = await editor.wait_finished(session)
    assert status["state"] == "cancelled"
    assert len(editor.edit_requests) == edits_before
    last = model.wait_finished()[-1]
    assert last.client_closed_early and not last.completed


async def test_wait_true_answers_when_the_session_ends(editor: Editor, model: ScriptedModelServer) -> None:
    folder = "wait"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    result = await editor.execute("littleCoder.implement", {
        "uri": editor.uri(f"{folder}/leap.py"), "position": {"line": 5, "character": 4}, "wait": True})
    assert result["state"] == "applied" and result["outcome"] == "done"
    assert editor.text(f"{folder}/leap.py") == EXPECTED


async def test_cancel_while_the_user_reviews_causes_no_server_error(
        editor: Editor, model: ScriptedModelServer) -> None:
    folder = "cancel-review"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    editor.review_gate = asyncio.Event()
    editor.edit_seen.clear()
    session = await implement_leap(editor, folder)
    await asyncio.wait_for(editor.edit_seen.wait(), 10)
    assert await editor.execute("littleCoder.cancel", {"sessionId": session}) == {"cancelled": [session]}
    assert (await editor.wait_finished(session))["state"] == "cancelled"
    editor.review_gate.set()  # the user finishes reviewing after the cancel: a late reply (pygls #621)
    await asyncio.sleep(0.3)
    assert not [m for m in editor.client.messages if "Error in server" in m.message]


async def test_discarding_the_preview_is_the_users_decision(editor: Editor, model: ScriptedModelServer) -> None:
    """VS Code can only say applied=false when the user discards its refactor preview; our extension words
    the reason so. That is a decision, not a failure: no warning, every hunk rejected, revise still works."""
    folder = "discard"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    editor.refuse = "discarded in the refactor preview"
    before = len(editor.client.messages)
    session = await implement_leap(editor, folder)
    status = await editor.wait_finished(session)
    assert status["state"] == "discarded"
    assert len(status["rejected"]) == 3 and status["accepted"] == []
    assert editor.text(f"{folder}/leap.py") == LEAP
    assert not any(m.type == types.MessageType.Warning for m in editor.client.messages[before:])
    editor.refuse = None
    model.replace_replies([Reply("I will wait for new instructions.")])
    revised = await editor.execute("littleCoder.revise", {"sessionId": session})
    await editor.wait_finished(revised["sessionId"])
    users = [m["content"] for m in model.requests[-1]["messages"] if m["role"] == "user"]
    assert any("You discarded all 3 changes" in u for u in users[1:])  # the feedback follows the original task


async def test_refused_edit_is_reported_and_kept_for_revise(editor: Editor, model: ScriptedModelServer) -> None:
    folder = "refused"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    editor.refuse = "document version changed"
    session = await implement_leap(editor, folder)
    status = await editor.wait_finished(session)
    assert status["state"] == "refused"
    assert editor.text(f"{folder}/leap.py") == LEAP
    assert any("The editor did not apply (document version changed)" in m.message
               and m.type == types.MessageType.Warning for m in editor.client.messages)
    editor.refuse = None
    model.replace_replies([Reply("I will wait for new instructions.")])
    revised = await editor.execute("littleCoder.revise", {"sessionId": session})
    assert (await editor.wait_finished(revised["sessionId"]))["parent"] == session


async def test_bash_outside_the_allow_list_asks_the_user(editor: Editor, model: ScriptedModelServer) -> None:
    folder = "bash"
    setup_leap(editor, folder)
    await editor.configure(bash="ask")
    try:
        model.replace_replies([
            Reply(calls=[Call("Bash", {"command": "curl -s https://example.com/leap.txt"})]),
            Reply("The user did not let me download it."),
        ])
        editor.default_answer = "Deny"
        session = await implement_leap(editor, folder)
        status = await editor.wait_finished(session)
    finally:
        await editor.configure()
    assert status["state"] == "no_changes"
    (question,) = [r for r in editor.message_requests if "wants to run" in r.message]
    assert question.message == "little-coder wants to run: curl -s https://example.com/leap.txt"
    assert [a.title for a in question.actions or []] == ["Allow", "Deny"]
    tool_result = [m for m in model.requests[-1]["messages"] if m["role"] == "tool"][-1]
    assert "declined" in tool_result["content"]


async def test_model_server_down_is_told_to_the_user(editor: Editor, model: ScriptedModelServer) -> None:
    folder = "down"
    setup_leap(editor, folder)
    await editor.configure(baseUrl="http://127.0.0.1:9")
    try:
        session = await implement_leap(editor, folder)
        status = await editor.wait_finished(session)
    finally:
        await editor.configure()
    assert status["state"] == "error" and status["outcome"] == "error"
    errors = [m.message for m in editor.client.messages if m.type == types.MessageType.Error]
    assert any("127.0.0.1:9" in m and "—" in m for m in errors), errors  # what failed — what to do


async def test_review_each_asks_per_change_and_tells_the_model_about_a_rejection(
        editor: Editor, model: ScriptedModelServer) -> None:
    folder = "each"
    setup_leap(editor, folder)
    await editor.configure(review="each")
    try:
        model.replace_replies(leap_script(folder))
        # Accept the implementation, reject the label change, accept the new test file.
        editor.accept = lambda annotation_id, annotation: annotation is not None and "line 10" not in annotation.label
        edits_before = len(editor.edit_requests)
        session = await implement_leap(editor, folder)
        status = await editor.wait_finished(session)
    finally:
        await editor.configure()
    assert status["state"] == "partial"
    requests = editor.edit_requests[edits_before:]
    assert len(requests) == 3  # one per change, proposed as it was made
    assert all(len(r.edit.change_annotations or {}) == 1 for r in requests)
    assert editor.text(f"{folder}/leap.py") == LEAP.replace("    raise NotImplementedError\n", IMPLEMENTED)
    assert editor.text(f"{folder}/test_leap.py") == TESTS
    # The rejected Edit came back to the model as the tool's result.
    results = [m for m in model.requests[-1]["messages"] if m["role"] == "tool"]
    assert re.search(r"declined|rejected", results[2]["content"])


async def test_review_each_discarded_preview_goes_back_as_a_rejection(
        editor: Editor, model: ScriptedModelServer) -> None:
    folder = "each_discard"
    setup_leap(editor, folder)
    await editor.configure(review="each")
    try:
        model.replace_replies(leap_script(folder))
        editor.refuse = "discarded in the refactor preview"
        session = await implement_leap(editor, folder)
        status = await editor.wait_finished(session)
    finally:
        editor.refuse = None
        await editor.configure()
    assert status["accepted"] == [] and editor.text(f"{folder}/leap.py") == LEAP
    results = [m for m in model.requests[-1]["messages"] if m["role"] == "tool"]
    assert all(re.search(r"declined|rejected", r["content"]) for r in results[1:])


async def test_review_direct_applies_as_it_goes_and_undo_reverts(editor: Editor, model: ScriptedModelServer) -> None:
    folder = "direct"
    setup_leap(editor, folder)
    await editor.configure(review="direct")
    try:
        model.replace_replies(leap_script(folder))
        edits_before = len(editor.edit_requests)
        session = await implement_leap(editor, folder)
        status = await editor.wait_finished(session)
    finally:
        await editor.configure()
    assert status["state"] == "applied"
    requests = editor.edit_requests[edits_before:]
    assert len(requests) == 3 and not any(r.edit.change_annotations for r in requests)
    assert editor.text(f"{folder}/leap.py") == EXPECTED
    assert editor.progress_of(session)[-1] == types.WorkDoneProgressEnd(message="2 files, +7 −2 — applied")
    await editor.execute("littleCoder.undo", {"sessionId": session})
    assert editor.text(f"{folder}/leap.py") == LEAP
    assert not editor.path(f"{folder}/test_leap.py").exists()


async def test_thinking_budget_shows_in_progress_and_a_fast_stream_is_batched(
        editor: Editor, model: ScriptedModelServer) -> None:
    folder = "budget"
    setup_leap(editor, folder)
    answer = " ".join(f"w{i}" for i in range(800))  # ~2,400 tokens at 6,000 tokens/s: 0.4 s
    await editor.configure(thinkingBudget=64)
    try:
        model.replace_replies([
            Reply(reasoning="Let me think about leap years. " * 60),  # far over the budget: aborted
            Reply(answer, tokens_per_second=6000),
        ])
        session = await implement_leap(editor, folder)
        status = await editor.wait_finished(session)
    finally:
        await editor.configure()
    assert status["state"] == "no_changes"
    messages = [getattr(p, "message", None) for p in editor.progress_of(session)]
    assert "thinking budget 64 reached → retrying without thinking" in messages
    deltas = [p["event"] for p in editor.events if p["sessionId"] == session and p["event"]["kind"] == "text_delta"]
    assert "".join(d["text"] for d in deltas).strip() == answer
    last = model.log[-1]
    chunks = last.tokens_sent / model.chunk_tokens
    streamed_s = (last.finished_at or last.started_at) - last.started_at
    # Merged every 100 ms: about one notification per 100 ms of streaming (however slow the machine),
    # not one per 4-token chunk.
    assert chunks >= 400 and len(deltas) <= streamed_s / 0.1 + 3, (chunks, len(deltas), streamed_s)
    assert len(deltas) < chunks / 10


async def hover(editor: Editor, uri: str, line: int) -> types.Hover | None:
    return await editor.client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=4)))


def hover_text(found: types.Hover | None) -> str:
    assert found is not None and isinstance(found.contents, types.MarkupContent)
    return found.contents.value


async def test_hover_shows_the_session_on_its_stub(editor: Editor, model: ScriptedModelServer) -> None:
    folder = "hover"
    uri = setup_leap(editor, folder)
    slow = Reply("Done: " + " ".join(["the function now follows the Gregorian rules."] * 8), tokens_per_second=150)
    model.replace_replies([leap_script(folder)[1], slow])
    session = await implement_leap(editor, folder)
    await editor.wait_event(session, lambda e: e["kind"] == "turn_started" and e["turn"] == 2)

    running = hover_text(await hover(editor, uri, 5))  # inside `leap`, whose definition spans lines 3-5
    assert "implement `leap`" in running and f"Session `{session}`: working" in running
    assert "turn 2/20" in running
    assert await hover(editor, uri, 9) is None  # `label` is not what the session is about

    status = await editor.wait_finished(session)
    assert status["state"] == "applied", status
    done = hover_text(await hover(editor, uri, 3))
    assert f"Session `{session}`: applied" in done and f"`{folder}/leap.py`" in done


# --- the review's fallback: conflicts asked about, a needed hunk named -----------------------------


@pytest.mark.parametrize(("answer", "label"), [
    ("Take the agent's", '    return "leap 📅" if leap(year) else "common year 🗓"'),
    ("Keep both", '    return "leap 📅" if leap(year) else "common (user)"\n'
                  '    return "leap 📅" if leap(year) else "common year 🗓"'),
])
async def test_a_conflict_is_asked_about_and_resolved_as_answered(
        editor: Editor, model: ScriptedModelServer, answer: str, label: str) -> None:
    folder = "ask-" + answer.split()[0].lower()
    setup_leap(editor, folder)
    script = leap_script(folder)
    model.replace_replies([script[1], script[2], Reply("Done.", tokens_per_second=60)])
    editor.answers[:] = [answer]
    shown = len(editor.client.messages)
    session = await implement_leap(editor, folder)
    await editor.wait_event(session, lambda e: e["kind"] == "turn_started" and e["turn"] == 3)
    text = editor.text(f"{folder}/leap.py")
    assert text is not None
    editor.type(f"{folder}/leap.py", text.index('"common"') + len('"common'), " (user)")
    status = await editor.wait_finished(session)
    assert status["state"] == "applied", status
    assert editor.text(f"{folder}/leap.py") == LEAP.replace("    raise NotImplementedError\n", IMPLEMENTED).replace(
        '    return "leap 📅" if leap(year) else "common"', label)
    (question,) = [r for r in editor.message_requests if "both changed" in r.message][-1:]
    assert "Yours:\n" in question.message and "The agent's:\n" in question.message
    took = "The agent's version taken over yours" if answer.startswith("Take") else "Both versions kept, yours first"
    assert any(took in m.message for m in editor.client.messages[shown:])


async def test_a_needed_hunk_is_named_in_its_annotation_and_leaving_it_out_is_told(
        editor: Editor, model: ScriptedModelServer) -> None:
    folder = "needs"
    model.replace_replies(setup_perm(editor, folder, [Reply("Done.")]))
    # The user ticks only the implementation in the preview.
    editor.accept = lambda annotation_id, annotation: annotation is not None and "line 2" in annotation.label
    shown = len(editor.client.messages)
    result = await editor.execute("littleCoder.implement", {
        "uri": editor.uri(f"{folder}/perm.py"), "position": {"line": 0, "character": 4}})
    status = await editor.wait_finished(result["sessionId"])
    annotations = editor.edit_requests[-1].edit.change_annotations or {}
    (top,) = [a for a in annotations.values() if "at the top" in a.label]
    assert top.description is not None and top.description.endswith(
        f"needed by {folder}/perm.py: line 2 (+1 −1) (uses itertools)")
    assert status["state"] == "partial"
    (told,) = [m.message for m in editor.client.messages[shown:] if "Applied 1 of 2" in m.message]
    assert told.endswith(f"Beware: {folder}/perm.py: line 2 (+1 −1) uses itertools, which {folder}/perm.py: at the "
                         "top (+3 −0) adds and the selection leaves out.")
    assert types.MessageType.Warning in {m.type for m in editor.client.messages[shown:]}
