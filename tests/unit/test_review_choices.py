"""The review's decisions: typed text protected, hunk ids that survive a rebase, which hunks need which,
a selection narrowed to exactly what was chosen, and the one summary both the user and the model get."""

from __future__ import annotations

from agent.messages import AssistantMessage, ToolCall, UserMessage
from agent.workspace import FileChange
from lc_lsp.hunk_links import defined_in, left_out, needs
from lc_lsp.review import EDITED_MEANWHILE, TYPED_DURING, Proposal, propose, rebase
from lc_lsp.review_wire import Selection, both_text, plain, review_file
from lc_lsp.selection import last_test_command, narrowed, result_summary
from lc_lsp.verdict import Verdict, feedback, record_choices, summary

URI = "file:///ws/stack.py"
BASE = "def push(stack, item):\n    pass\n\n\ndef pop(stack):\n    pass\n"
AGENT = "def push(stack, item):\n    stack.append(item)\n\n\ndef pop(stack):\n    return stack.pop()\n"


def proposal(current: str = BASE, origin: str | None = None, base: str = BASE, agent: str = AGENT) -> Proposal:
    return propose(FileChange("stack.py", base, agent), current, URI, 1, origin)


def test_a_hunk_that_rewrites_lines_typed_during_the_session_is_a_conflict() -> None:
    # An editor that saves as you type: the agent read the user's new comment as part of the file, and
    # its change drops it. That is no longer an ordinary hunk.
    typed = BASE.replace("    pass\n\n\ndef pop", "    # keep me: the user's note\n    pass\n\n\ndef pop")
    agent = AGENT
    p = propose(FileChange("stack.py", typed, agent), typed, URI, 2, BASE)
    assert [h.reason for h in p.conflicts] == [TYPED_DURING]
    (conflict,) = p.conflicts
    assert "    # keep me: the user's note\n" in conflict.old_lines
    assert [h.new_lines for h in p.hunks] == [("    return stack.pop()\n",)]
    assert "keep me" in p.proposed_text  # what is proposed without a decision keeps the user's line
    # Typing beside the agent's lines (not in them) leaves its hunks alone.
    beside = "# a header the user typed\n" + BASE
    q = propose(FileChange("stack.py", beside, "# a header the user typed\n" + AGENT), beside, URI, 2, BASE)
    assert q.conflicts == [] and len(q.hunks) == 2


def test_hunk_ids_survive_a_rebase_and_a_touched_hunk_keeps_its_id_as_a_conflict() -> None:
    p = proposal()
    first, second = p.hunks
    moved = rebase(p, "# new first line\n" + BASE, 2)
    assert [(h.id, h.start_line) for h in moved.hunks] == [(first.id, 2), (second.id, 6)]
    touched = rebase(moved, "# new first line\n" + BASE.replace("def pop(stack):\n    pass", "def pop(stack):\n"
                                                                  "    pass  # mine"), 3)
    assert [h.id for h in touched.hunks] == [first.id]
    (conflict,) = touched.conflicts
    assert (conflict.id, conflict.reason) == (second.id, EDITED_MEANWHILE)
    # A third edit elsewhere: the conflict stays, moved with its lines, under the same id.
    again = rebase(touched, "# one more\n" + (touched.current_text), 4)
    assert [(c.id, c.start_line) for c in again.conflicts] == [(second.id, conflict.start_line + 1)]


def test_a_hunk_that_uses_a_name_another_hunk_imports_needs_it() -> None:
    current = "def arrangements(items):\n    raise NotImplementedError\n"
    agent = "import itertools\n\n\ndef arrangements(items):\n    return list(itertools.permutations(items))\n"
    p = propose(FileChange("perm.py", current, agent), current, "file:///ws/perm.py", 1)
    first, second = p.hunks
    found = needs(p.hunks, {"perm.py": defined_in(current)})
    assert [(n.hunk, n.on, n.names) for n in found] == [(second.id, first.id, ("itertools",))]
    labels = {h.id: h.label for h in p.hunks}
    assert left_out(found, {second.id}, labels) == [
        "perm.py: line 2 (+1 −1) uses itertools, which perm.py: at the top (+3 −0) adds and the selection leaves out"]
    assert left_out(found, {first.id, second.id}, labels) == []
    # A name the file already imports is nobody's new definition; one only mentioned in a docstring is.
    assert needs(p.hunks, {"perm.py": defined_in(current + "import itertools\n")}) == []
    assert len(needs(p.hunks, {"perm.py": defined_in('"""Uses itertools."""\n' + current)})) == 1


def test_a_helper_defined_in_one_file_is_needed_by_its_caller_in_another() -> None:
    util = propose(FileChange("util.py", "", "def slugify(text):\n    return text.lower()\n"), "", "file:///u", 1)
    main = propose(FileChange("main.py", "print(1)\n", "print(slugify('A B'))\n"), "print(1)\n", "file:///m", 1)
    found = needs([*util.hunks, *main.hunks], {"util.py": set(), "main.py": defined_in("print(1)\n")})
    assert [(n.hunk, n.on, n.names) for n in found] == [("main.py#1", "util.py#1", ("slugify",))]


def test_a_selection_is_narrowed_to_the_chosen_hunks_with_their_chosen_text() -> None:
    p = propose(FileChange("stack.py", BASE, AGENT), BASE.replace("    pass\n\n\ndef pop", "    pass  # mine\n\n\n"
                                                                    "def pop"), URI, 2)
    (change,) = p.hunks
    (conflict,) = p.conflicts
    assert narrowed(p, {}, {}) is None
    only = narrowed(p, {change.id: "accept", conflict.id: "mine"}, {})
    assert only is not None and [h.id for h in only.hunks] == [change.id]
    assert "return stack.pop()" in only.proposed_text and "pass  # mine" in only.proposed_text
    both = narrowed(p, {change.id: "reject", conflict.id: "both"}, {})
    assert both is not None and "    pass  # mine\n    stack.append(item)\n" in both.proposed_text
    assert both_text(conflict) == "    pass  # mine\n    stack.append(item)\n"
    edited = narrowed(p, {change.id: "accept"}, {change.id: "    return None\n"})
    assert edited is not None and "    return None\n" in edited.proposed_text


def test_the_last_test_command_and_a_readable_result() -> None:
    history = [
        UserMessage(content="implement it"),
        AssistantMessage(content="", tool_calls=(ToolCall(id="1", name="Bash", arguments={"command": "go test ./..."}),)),
        AssistantMessage(content="", tool_calls=(ToolCall(id="2", name="Bash", arguments={"command": "ls -la"}),)),
    ]
    assert last_test_command(history) == "go test ./..."
    assert last_test_command(history[:1]) is None
    assert result_summary(True, "....\n6 passed in 0.02s\n") == "6 passed with your selection"
    assert result_summary(True, "ok  \texample\t0.01s\n") == "the tests pass with your selection"
    assert result_summary(False, "E       NameError: name 'x' is not defined\nFAILED t.py") == (
        "fails with your selection: NameError: name 'x' is not defined")
    assert result_summary(False, "--- FAIL: TestLeap (0.00s)\n") == "fails with your selection: --- FAIL: TestLeap (0.00s)"


def test_the_summary_is_quoted_verbatim_in_the_feedback_and_groups_say_what_to_do() -> None:
    p = propose(FileChange("stack.py", BASE, AGENT), BASE.replace("    pass\n\n\ndef pop", "    pass  # mine\n\n\n"
                                                                    "def pop"), URI, 2)
    (change,) = p.hunks
    (conflict,) = p.conflicts
    verdict = Verdict()
    record_choices(verdict, [p], {change.id: "reject", conflict.id: "mine"}, {}, set())
    told = summary([p], verdict)
    assert told == ("None of the 2 changes was applied. Rejected: stack.py: line 6 (+1 −1). Your version kept where "
                    "you and the agent changed the same lines: stack.py: line 2 (+1 −1).")
    text = feedback([p], verdict, "use a deque", ["undo of x: nothing was left to undo."])
    assert text.startswith(f"The user reviewed your changes and was told: \u201c{told}\u201d")
    assert "Do not make these changes again" in text and "-    pass\n+    return stack.pop()" in text
    assert "Do not overwrite their text" in text and "+    stack.append(item)" in text
    assert "The user was told since: \u201cundo of x: nothing was left to undo.\u201d" in text
    assert "The user's comment: use a deque" in text


def test_a_failed_or_edited_hunk_is_booked_as_such() -> None:
    p = proposal()
    first, second = p.hunks
    verdict = Verdict()
    record_choices(verdict, [p], {first.id: "accept", second.id: "accept"}, {second.id: "    return None\n"},
                   {second.id})
    assert verdict.failed == {first.id} and verdict.edited == {second.id: "    return None\n"}
    assert summary([p], verdict).startswith("Applied 1 of 2 changes. Applied with your edits: stack.py: line 6")


def test_wire_payloads_round_trip_through_pygls_namedtuples() -> None:
    from collections import namedtuple

    Decision = namedtuple("Decision", ["hunk", "choice"])
    Reply = namedtuple("Reply", ["action", "decisions"])
    selection = Selection.model_validate(plain(Reply("apply", [Decision("stack.py#1", "accept")])))
    assert selection.choices() == {"stack.py#1": "accept"}
    wire = review_file(proposal(), []).model_dump(by_alias=True)
    assert set(wire) == {"uri", "path", "created", "version", "currentText", "hunks"}
    assert set(wire["hunks"][0]) == {"id", "kind", "startLine", "endLine", "oldText", "newText", "bothText", "label",
                                     "reason", "dependsOn"}


def test_every_session_state_has_words_for_the_hover() -> None:
    from typing import get_args

    from lc_lsp.hover import _STATE_WORDS
    from lc_lsp.job import JobState

    assert set(_STATE_WORDS) == set(get_args(JobState))


def test_a_conflict_whose_lines_the_user_rewrites_again_stays_in_the_review() -> None:
    p = proposal()
    touched = rebase(p, BASE.replace("def pop(stack):\n    pass", "def pop(stack):\n    pass  # mine"), 2)
    (conflict,) = touched.conflicts
    again = rebase(touched, touched.current_text.replace("    pass  # mine\n", "    raise IndexError  # mine, v2\n"), 3)
    (still,) = again.conflicts
    assert still.id == conflict.id and still.new_lines == conflict.new_lines
    assert still.old_lines == ("    raise IndexError  # mine, v2\n",) and still.start_line == conflict.start_line
