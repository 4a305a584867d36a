"""The in-editor review (a client announcing `experimental.littleCoder.review`): the server sends
`littleCoder/review` instead of an annotated applyEdit, keeps the review alive while the user types
(`littleCoder/reviewUpdate`, hunk ids kept), applies exactly the reply's selection with one plain edit,
re-runs the session's tests on a selection in the sandbox, and tells the user and the model the same
thing on every path."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import pytest_lsp
from pytest_lsp import LanguageClient

from tests.fakes.model_server import Call, Reply, ScriptedModelServer
from tests.lsp.conftest import Editor, _plain, server_config, start_scripted_editor
from tests.lsp.test_session_vscode import (
    EXPECTED,
    IMPLEMENTED,
    LEAP,
    TESTS,
    implement_leap,
    leap_script,
    setup_leap,
    setup_perm,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

Review = dict[str, Any]
Answer = Callable[[Review], Awaitable[dict[str, Any]]]


class Reviewer:
    """The client side of the review: records requests and updates, answers with `answer`."""

    def __init__(self, editor: Editor) -> None:
        self.requests: list[Review] = []
        self.updates: list[dict[str, Any]] = []
        self.answer: Answer = accept_all
        self.opened = asyncio.Event()
        client = editor.client

        @client.feature("littleCoder/review")
        async def on_review(params: Any) -> dict[str, Any]:
            review = _plain(params)
            self.requests.append(review)
            self.opened.set()
            return await self.answer(review)

        @client.feature("littleCoder/reviewUpdate")
        def on_update(params: Any) -> None:
            self.updates.append(_plain(params))


async def accept_all(review: Review) -> dict[str, Any]:
    return {"action": "apply", "decisions": defaults(review)}


def defaults(review: Review) -> list[dict[str, str]]:
    """What a review opens with: every change accepted, every conflict the user's."""
    return [{"hunk": h["id"], "choice": "accept" if h["kind"] == "change" else "mine"}
            for f in review["files"] for h in f["hunks"]]


def hunks(review: Review) -> list[dict[str, Any]]:
    return [h for f in review["files"] for h in f["hunks"]]


@pytest_lsp.fixture(scope="module", config=server_config())
async def vscode(lsp_client: LanguageClient, model: ScriptedModelServer, tmp_path_factory: pytest.TempPathFactory):
    editor = await start_scripted_editor(
        lsp_client, model, tmp_path_factory.mktemp("inline"), "visual-studio-code",
        experimental={"littleCoder": {"review": 1}},
    )
    lsp_client.editor = editor  # type: ignore[attr-defined]
    lsp_client.reviewer = Reviewer(editor)  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def editor(vscode: LanguageClient) -> Iterator[Editor]:
    editor: Editor = vscode.editor  # type: ignore[attr-defined]
    yield editor
    editor.answers.clear()
    editor.refuse = None


@pytest.fixture
def reviewer(vscode: LanguageClient) -> Iterator[Reviewer]:
    reviewer: Reviewer = vscode.reviewer  # type: ignore[attr-defined]
    yield reviewer
    reviewer.answer = accept_all
    reviewer.opened.clear()


def summary_shown(editor: Editor, since: int) -> str:
    """The review's outcome as shown to the user, without the prefix and title."""
    (shown,) = [m.message for m in editor.client.messages[since:] if " — " in m.message and "implement" in m.message]
    return shown.split(" — ", 1)[1]


async def revise_text(editor: Editor, model: ScriptedModelServer, session: str, comment: str | None = None) -> str:
    before = len(model.requests)
    model.replace_replies([Reply("Understood.")])
    args: dict[str, Any] = {"sessionId": session}
    if comment:
        args["comment"] = comment
    revised = await editor.execute("littleCoder.revise", args)
    await editor.wait_finished(revised["sessionId"])
    (text,) = [str(m["content"]) for m in model.requests[before]["messages"]
               if m["role"] == "user" and str(m["content"]).startswith("The user reviewed your changes")]
    return text


async def test_the_capability_switches_to_the_review_request_and_a_plain_edit(
        editor: Editor, model: ScriptedModelServer, reviewer: Reviewer) -> None:
    folder = "all"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    edits_before = len(editor.edit_requests)
    shown = len(editor.client.messages)
    session = await implement_leap(editor, folder)
    status = await editor.wait_finished(session)

    review = reviewer.requests[-1]
    assert review["sessionId"] == session and review["label"] == "little-coder: implement `leap`"
    assert review["unfinished"] is None and review["testCommand"] is None
    leap_file, tests_file = review["files"]
    assert leap_file["path"] == f"{folder}/leap.py" and leap_file["currentText"] == LEAP
    assert leap_file["version"] == 1 and not leap_file["created"]
    assert [(h["id"], h["kind"], h["startLine"], h["endLine"]) for h in leap_file["hunks"]] == [
        (f"{folder}/leap.py#1", "change", 5, 6), (f"{folder}/leap.py#2", "change", 9, 10)]
    assert leap_file["hunks"][0]["oldText"] == "    raise NotImplementedError\n"
    assert leap_file["hunks"][0]["newText"] == IMPLEMENTED and leap_file["hunks"][0]["bothText"] is None
    assert tests_file["created"] and tests_file["hunks"][0]["newText"] == TESTS
    # test_leap.py uses `leap`, which leap.py already defines: no dependency on a hunk.
    assert all(h["dependsOn"] == [] for h in hunks(review))

    # The reply's selection went out as ONE plain edit: no annotation asks the editor to confirm.
    (edit,) = editor.edit_requests[edits_before:]
    assert not edit.edit.change_annotations
    assert status["state"] == "applied" and len(status["accepted"]) == 3
    assert editor.text(f"{folder}/leap.py") == EXPECTED and editor.text(f"{folder}/test_leap.py") == TESTS
    assert summary_shown(editor, shown) == "Applied all 3 changes."


async def test_per_hunk_choices_and_an_edited_hunk_are_applied_and_told_to_the_model(
        editor: Editor, model: ScriptedModelServer, reviewer: Reviewer) -> None:
    folder = "choices"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    mine = "    return year % 4 == 0  # simplified by the user\n"

    async def answer(review: Review) -> dict[str, Any]:
        first, second, new_file = hunks(review)
        return {"action": "apply",
                "decisions": [{"hunk": first["id"], "choice": "accept"}, {"hunk": second["id"], "choice": "reject"}],
                "edited": [{"hunk": first["id"], "text": mine}]}  # the new file: no decision, undecided

    reviewer.answer = answer
    shown = len(editor.client.messages)
    session = await implement_leap(editor, folder)
    status = await editor.wait_finished(session)
    assert editor.text(f"{folder}/leap.py") == LEAP.replace("    raise NotImplementedError\n", mine)
    assert not editor.path(f"{folder}/test_leap.py").exists()
    assert status["state"] == "partial" and status["rejected"] == [f"{folder}/leap.py#2"]
    assert status["undecided"] == [f"{folder}/test_leap.py#1"]
    told = summary_shown(editor, shown)
    assert told == (f"Applied 1 of 3 changes. Applied with your edits: {folder}/leap.py: line 6 (+1 −1). "
                    f"Rejected: {folder}/leap.py: line 10 (+1 −1). Not applied, not rejected: "
                    f"{folder}/test_leap.py: new file (+5).")

    feedback = await revise_text(editor, model, session, "keep it simple")
    assert f"was told: \u201c{told}\u201d" in feedback
    assert "+    return year % 4 == 0  # simplified by the user" in feedback  # what is in the file now
    assert "Do not make these changes again" in feedback and '+    return "leap 📅" if leap(year) else' in feedback
    assert "Neither applied nor rejected" in feedback and "keep it simple" in feedback


@pytest.mark.parametrize(("choice", "expected_label"), [
    ("mine", '    return "leap 📅" if leap(year) else "common (user)"\n'),
    ("agent", '    return "leap 📅" if leap(year) else "common year 🗓"'),
    ("both", '    return "leap 📅" if leap(year) else "common (user)"\n'
             '    return "leap 📅" if leap(year) else "common year 🗓"'),
])
async def test_a_conflict_is_shown_with_both_versions_and_resolved_each_way(
        editor: Editor, model: ScriptedModelServer, reviewer: Reviewer, choice: str, expected_label: str) -> None:
    folder = f"conflict-{choice}"
    setup_leap(editor, folder)
    script = leap_script(folder)
    model.replace_replies([script[1], script[2], Reply("Done.", tokens_per_second=60)])
    gate = asyncio.Event()

    async def answer(review: Review) -> dict[str, Any]:
        await gate.wait()
        decisions = defaults(review)
        for d in decisions:
            if d["choice"] == "mine":
                d["choice"] = choice
        return {"action": "apply", "decisions": decisions}

    reviewer.answer = answer
    session = await implement_leap(editor, folder)
    await editor.wait_event(session, lambda e: e["kind"] == "turn_started" and e["turn"] == 3)
    label_at = editor.text(f"{folder}/leap.py").index('"common"')  # type: ignore[union-attr]
    editor.type(f"{folder}/leap.py", label_at + len('"common'), " (user)")
    await asyncio.wait_for(reviewer.opened.wait(), 10)
    review = reviewer.requests[-1]
    (conflict,) = [h for h in hunks(review) if h["kind"] == "conflict"]
    assert conflict["oldText"] == '    return "leap 📅" if leap(year) else "common (user)"'  # the user's
    assert conflict["newText"] == '    return "leap 📅" if leap(year) else "common year 🗓"'  # the agent's
    assert conflict["bothText"] == conflict["oldText"] + "\n" + conflict["newText"]
    assert conflict["reason"] == "you edited these lines while the agent worked"
    gate.set()
    status = await editor.wait_finished(session)
    text = editor.text(f"{folder}/leap.py")
    assert text == LEAP.replace("    raise NotImplementedError\n", IMPLEMENTED).replace(
        '    return "leap 📅" if leap(year) else "common"', expected_label.rstrip("\n") if choice != "both"
        else expected_label)
    assert status["state"] == ("partial" if choice == "mine" else "applied")


async def test_the_review_survives_typing_and_a_touched_hunk_becomes_a_conflict_with_its_id(
        editor: Editor, model: ScriptedModelServer, reviewer: Reviewer) -> None:
    folder = "survive"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    gate = asyncio.Event()

    async def answer(review: Review) -> dict[str, Any]:
        await gate.wait()
        return {"action": "apply", "decisions": defaults(review)}  # the decisions made when it opened

    reviewer.answer = answer
    updates_before = len(reviewer.updates)
    session = await implement_leap(editor, folder)
    await asyncio.wait_for(reviewer.opened.wait(), 10)
    ids = [h["id"] for h in hunks(reviewer.requests[-1])]

    # Far from every hunk: the hunks move down a line and keep their ids.
    editor.type(f"{folder}/leap.py", 0, "# a note typed during the review\n")
    update = await _next_update(reviewer, updates_before)
    assert [h["id"] for h in update["file"]["hunks"]] == ids[:2]
    assert [h["startLine"] for h in update["file"]["hunks"]] == [6, 10]
    assert all(h["kind"] == "change" for h in update["file"]["hunks"])

    # On the lines of the second hunk: it becomes a conflict under the same id.
    text = editor.text(f"{folder}/leap.py")
    assert text is not None
    editor.type(f"{folder}/leap.py", text.index('"common"') + len('"common'), " (mine)")
    update = await _next_update(reviewer, updates_before + 1)
    second = update["file"]["hunks"][1]
    assert (second["id"], second["kind"]) == (ids[1], "conflict")
    assert second["oldText"].endswith('"common (mine)"')
    assert second["reason"] == "you edited these lines during the review"
    gate.set()
    status = await editor.wait_finished(session)
    # The first hunk was applied where it now is; the conflict kept the user's line (the reply said
    # "accept" for a change that has since become a conflict).
    final = editor.text(f"{folder}/leap.py")
    assert final is not None and IMPLEMENTED in final and '"common (mine)"' in final
    assert status["state"] == "partial"


async def _next_update(reviewer: Reviewer, count: int) -> dict[str, Any]:
    for _ in range(200):
        if len(reviewer.updates) > count:
            return reviewer.updates[count]
        await asyncio.sleep(0.025)
    raise AssertionError("no littleCoder/reviewUpdate")


async def test_a_selection_is_tested_in_the_sandbox_and_a_needed_hunk_is_named(
        editor: Editor, model: ScriptedModelServer, reviewer: Reviewer) -> None:
    folder = "select"
    model.replace_replies(setup_perm(editor, folder, [
        Reply(calls=[Call("Bash", {"command": f"cd {folder} && python -m pytest -q"})]),
        Reply("Implemented with itertools; the test passes."),
    ]))
    results: list[dict[str, Any]] = []

    async def answer(review: Review) -> dict[str, Any]:
        first, second = hunks(review)
        only_second = [{"hunk": first["id"], "choice": "reject"}, {"hunk": second["id"], "choice": "accept"}]
        results.append(await editor.execute("littleCoder.testSelection",
                                            {"sessionId": review["sessionId"], "decisions": only_second}))
        results.append(await editor.execute("littleCoder.testSelection",
                                            {"sessionId": review["sessionId"], "decisions": defaults(review)}))
        return {"action": "apply", "decisions": defaults(review)}

    reviewer.answer = answer
    result = await editor.execute("littleCoder.implement", {
        "uri": editor.uri(f"{folder}/perm.py"), "position": {"line": 0, "character": 4}})
    status = await editor.wait_finished(result["sessionId"], timeout=60)
    review = reviewer.requests[-1]
    assert review["testCommand"] == f"cd {folder} && python -m pytest -q"
    first, second = hunks(review)
    assert second["dependsOn"] == [{"hunk": first["id"], "names": ["itertools"]}]
    without, whole = results
    assert without["ran"] and without["passed"] is False
    assert without["summary"] == "fails with your selection: NameError: name 'itertools' is not defined"
    assert whole["ran"] and whole["passed"] and whole["summary"] == "1 passed with your selection"
    assert status["state"] == "applied"
    assert editor.text(f"{folder}/perm.py") == ("import itertools\n\n\ndef arrangements(items):\n"
                                                "    return list(itertools.permutations(items))\n")


# --- one truth: what the user is told is what revise tells the model --------------------------------


async def _closed(review: Review) -> dict[str, Any]:
    return {"action": "close"}


async def _discarded(review: Review) -> dict[str, Any]:
    return {"action": "discard"}


async def _one_rejected(review: Review) -> dict[str, Any]:
    decisions = defaults(review)
    decisions[1]["choice"] = "reject"
    return {"action": "apply", "decisions": decisions}


@pytest.mark.parametrize("path", ["reject a hunk", "close (q)", "discard", "refused apply", "apply after undo"])
async def test_the_user_and_the_model_are_told_the_same(
        editor: Editor, model: ScriptedModelServer, reviewer: Reviewer, path: str) -> None:
    folder = "truth-" + path.split()[0]
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    reviewer.answer = {"reject a hunk": _one_rejected, "close (q)": _closed, "discard": _discarded}.get(
        path, accept_all)
    if path == "refused apply":
        editor.refuse = "the document changed since the edit was made"
    shown = len(editor.client.messages)
    session = await implement_leap(editor, folder)
    status = await editor.wait_finished(session)
    told = summary_shown(editor, shown)
    assert status["message"] == told
    notes: list[str] = []
    if path == "apply after undo":
        undone = await editor.execute("littleCoder.undo", {"sessionId": session})
        notes.append(undone["message"].removeprefix("little-coder: "))
        assert editor.text(f"{folder}/leap.py") == LEAP
    editor.refuse = None
    feedback = await revise_text(editor, model, session)
    assert feedback.startswith(f"The user reviewed your changes and was told: \u201c{told}\u201d")
    for note in notes:
        assert f"The user was told since: \u201c{note}\u201d" in feedback
    expected = {
        "reject a hunk": ("Rejected: ", "Do not make these changes again"),
        "close (q)": ("none was rejected", "Neither applied nor rejected"),
        "discard": ("You discarded all 3 changes", "They discarded all of it"),
        "refused apply": ("The editor did not apply (the document changed since the edit was made)",
                          "The editor did not apply these"),
        "apply after undo": ("Applied all 3 changes.", "undo of implement"),
    }[path]
    assert expected[0] in told and expected[1] in feedback
    # A closed review is neither applied nor rejected, and can be opened again.
    if path == "close (q)":
        assert status["state"] == "closed" and status["rejected"] == [] and editor.text(f"{folder}/leap.py") == LEAP
        assert "Do not make these changes again" not in feedback


async def test_a_closed_review_reopens(editor: Editor, model: ScriptedModelServer, reviewer: Reviewer) -> None:
    folder = "reopen"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    reviewer.answer = _closed
    session = await implement_leap(editor, folder)
    assert (await editor.wait_finished(session))["state"] == "closed"
    reviewer.answer = accept_all
    editor.finished.pop(session)
    assert await editor.execute("littleCoder.review", {"sessionId": session}) == {"sessionId": session}
    status = await editor.wait_finished(session)
    assert status["state"] == "applied" and editor.text(f"{folder}/leap.py") == EXPECTED
    assert [r["sessionId"] for r in reviewer.requests[-2:]] == [session, session]


async def test_lines_typed_before_the_agent_read_them_are_a_conflict_not_a_silent_deletion(
        editor: Editor, model: ScriptedModelServer, reviewer: Reviewer) -> None:
    """An editor that saves as you type (code-server's default) shows the agent the user's fresh lines as
    if they were the file's; an agent hunk that drops them must not look like any other hunk."""
    folder = "typed"
    setup_leap(editor, folder)
    note = "    # the user's note, typed during the session\n"
    model.replace_replies([
        Reply("Reading the stub first, slowly.", calls=[Call("Read", {"file_path": f"{folder}/leap.py"})],
              tokens_per_second=120),
        Reply(calls=[Call("Edit", {"file_path": f"{folder}/leap.py",
                                   "old_string": note + "    raise NotImplementedError\n",
                                   "new_string": IMPLEMENTED})]),
        Reply("Done."),
    ])
    session = await implement_leap(editor, folder)
    await editor.wait_event(session, lambda e: e["kind"] == "turn_started" and e["turn"] == 1)
    text = editor.text(f"{folder}/leap.py")
    assert text is not None
    editor.type(f"{folder}/leap.py", text.index("    raise NotImplementedError"), note)
    status = await editor.wait_finished(session)
    (conflict,) = hunks(reviewer.requests[-1])
    assert conflict["kind"] == "conflict" and conflict["reason"] == "it replaces lines you typed during the session"
    assert note in conflict["oldText"] and conflict["newText"] == IMPLEMENTED
    # Opened at its default, "mine": the user's note is still there.
    assert status["state"] == "conflicted" and note in (editor.text(f"{folder}/leap.py") or "")


async def test_cancelling_during_the_review_closes_it_and_applies_nothing(
        editor: Editor, model: ScriptedModelServer, reviewer: Reviewer) -> None:
    folder = "cancel-review"
    setup_leap(editor, folder)
    model.replace_replies(leap_script(folder))
    never = asyncio.Event()

    async def answer(review: Review) -> dict[str, Any]:
        await never.wait()  # the user is still looking when they cancel
        return await accept_all(review)

    reviewer.answer = answer
    session = await implement_leap(editor, folder)
    await asyncio.wait_for(reviewer.opened.wait(), 10)
    assert (await editor.status(session))["state"] == "reviewing"
    assert await editor.execute("littleCoder.cancel", {"sessionId": session}) == {"cancelled": [session]}
    status = await editor.wait_finished(session)
    assert status["state"] == "cancelled" and status["accepted"] == []
    never.set()  # the reply comes late: dropped, nothing applied
    await asyncio.sleep(0.3)
    assert editor.text(f"{folder}/leap.py") == LEAP and not editor.path(f"{folder}/test_leap.py").exists()
