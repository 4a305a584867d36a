"""The quality monitor's checks, its correction cap, the repeated-call rule and the loop detector."""

from __future__ import annotations

import itertools
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict

from agent.messages import AssistantMessage, ToolCall
from agent.monitor import QualityMonitor


class ReadInput(BaseModel):
    file_path: str
    offset: int = 0
    limit: int | None = None


class WriteInput(BaseModel):
    file_path: str
    content: str


class EditInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file_path: str
    old_string: str
    new_string: str
    replace_all: bool = False


class BashInput(BaseModel):
    command: str
    timeout: int = 30


class GlobInput(BaseModel):
    pattern: str
    path: str | None = None


class GrepInput(BaseModel):
    pattern: str
    output_mode: Literal["files_with_matches", "content", "count"] = "files_with_matches"


TOOLS: dict[str, type[BaseModel]] = {
    "Read": ReadInput,
    "Write": WriteInput,
    "Edit": EditInput,
    "Bash": BashInput,
    "Glob": GlobInput,
    "Grep": GrepInput,
}

_ids = itertools.count()


def call(name: str, raw: str | None = None, **arguments: Any) -> ToolCall:
    return ToolCall(id=f"c{next(_ids)}", name=name, arguments=arguments, raw_arguments=raw)


def reply(*calls: ToolCall, text: str = "", reasoning: str = "") -> AssistantMessage:
    return AssistantMessage(content=text, reasoning=reasoning, tool_calls=calls)


@pytest.fixture
def monitor() -> QualityMonitor:
    return QualityMonitor(TOOLS)


# --- each check --------------------------------------------------------------------------------


def test_good_replies_pass(monitor: QualityMonitor) -> None:
    goods = (reply(text="All tests pass."), reply(call("Read", file_path="a.py")), reply(call("Bash", command="ls")))
    for good in goods:
        verdict = monitor.check(good)
        assert verdict.ok and verdict.reason is None and verdict.correction is None and not verdict.accepted


@pytest.mark.parametrize("bad", [reply(), reply(text="  \n"), reply(reasoning="I think I should read the file")])
def test_empty_reply(monitor: QualityMonitor, bad: AssistantMessage) -> None:
    verdict = monitor.check(bad)
    assert not verdict.ok and verdict.reason == "empty"
    assert verdict.correction is not None
    assert "tool" in verdict.correction and "final answer" in verdict.correction


def test_reasoning_only_is_called_out(monitor: QualityMonitor) -> None:
    verdict = monitor.check(reply(reasoning="hmm"))
    assert verdict.correction is not None and "only thinking" in verdict.correction
    assert "reasoning only" in verdict.detail


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("read_file", ["Read"]),
        ("view", ["Read"]),
        ("cat", ["Read"]),
        ("write_file", ["Write"]),
        ("create_file", ["Write"]),
        ("str_replace", ["Edit"]),
        ("replace", ["Edit"]),
        ("apply_patch", ["Edit"]),
        ("run", ["Bash"]),
        ("shell", ["Bash"]),
        ("execute", ["Bash"]),
        ("terminal", ["Bash"]),
        ("search", ["Grep", "Glob"]),
        ("find", ["Grep", "Glob"]),
        ("bash", ["Bash"]),  # wrong case
        ("Reed", ["Read"]),  # typo: difflib
        ("Grepp", ["Grep"]),
    ],
)
def test_unknown_tool_suggests_the_closest(monitor: QualityMonitor, name: str, expected: list[str]) -> None:
    verdict = monitor.check(reply(call(name, file_path="a.py")))
    assert not verdict.ok and verdict.reason == "unknown_tool"
    assert verdict.correction is not None
    assert f"`{name}`" in verdict.correction
    assert "you probably want " + " or ".join(expected) in verdict.correction
    # The real tools are all named, in the correction and in the event detail.
    for tool in TOOLS:
        assert tool in verdict.correction
        assert tool in verdict.detail


def test_unknown_tool_without_a_close_match(monitor: QualityMonitor) -> None:
    verdict = monitor.check(reply(call("summon_dragon")))
    assert verdict.reason == "unknown_tool" and verdict.correction is not None
    assert "probably" not in verdict.correction
    assert "Read, Write, Edit, Bash, Glob, Grep" in verdict.correction


def test_aliases_only_suggest_tools_that_exist() -> None:
    monitor = QualityMonitor({"Read": ReadInput, "Glob": GlobInput})
    verdict = monitor.check(reply(call("search", pattern="x")))
    assert verdict.correction is not None
    assert "you probably want Glob: Glob(" in verdict.correction
    assert "Grep" not in verdict.correction


@pytest.mark.parametrize(
    ("name", "expected", "schema"),
    [
        ("run_tests", "Bash", "Bash(command: string, timeout: integer = 30)"),
        ("readFile", "Read", "Read(file_path: string, offset: integer = 0, limit: integer = null)"),
        ("list-directory", "Glob", "Glob(pattern: string, path: string = null)"),
    ],
)
def test_an_invented_name_is_matched_word_by_word_and_the_tool_shown_with_its_parameters(
        monitor: QualityMonitor, name: str, expected: str, schema: str) -> None:
    verdict = monitor.check(reply(call(name)))
    assert verdict.correction is not None
    assert f"There is no tool `{name}`; you probably want {expected}: {schema}." in verdict.correction
    assert f"{name} → {expected}" in verdict.detail


def test_empty_tool_name(monitor: QualityMonitor) -> None:
    verdict = monitor.check(reply(call("")))
    assert verdict.reason == "unknown_tool"
    assert verdict.correction is not None and "no name" in verdict.correction


def test_unknown_tool_comes_before_malformed(monitor: QualityMonitor) -> None:
    verdict = monitor.check(reply(call("Edit"), call("read_file", path="a")))
    assert verdict.reason == "unknown_tool"


def test_missing_fields_are_listed_with_the_expected_parameters(monitor: QualityMonitor) -> None:
    verdict = monitor.check(reply(call("Edit", file_path="a.py", old_string="x")))
    assert not verdict.ok and verdict.reason == "malformed_arguments"
    assert verdict.correction is not None
    assert "missing new_string" in verdict.correction
    assert "Edit(file_path: string, old_string: string, new_string: string, replace_all: boolean = false)" in (
        verdict.correction
    )
    assert "Edit: missing new_string" in verdict.detail


def test_misnamed_field_is_pointed_out(monitor: QualityMonitor) -> None:
    verdict = monitor.check(reply(call("Write", path="a.py", content="x")))
    assert verdict.reason == "malformed_arguments" and verdict.correction is not None
    assert "missing file_path" in verdict.correction
    assert "path (did you mean file_path?)" in verdict.correction


def test_invalid_field_value_is_named(monitor: QualityMonitor) -> None:
    verdict = monitor.check(reply(call("Grep", pattern="x", output_mode="lines")))
    assert verdict.reason == "malformed_arguments" and verdict.correction is not None
    assert "invalid output_mode" in verdict.correction
    assert '"files_with_matches" | "content" | "count"' in verdict.correction


def test_forbidden_extra_field_is_named(monitor: QualityMonitor) -> None:
    verdict = monitor.check(reply(call("Edit", file_path="a", old_string="x", new_string="y", replace_al=True)))
    assert verdict.reason == "malformed_arguments" and verdict.correction is not None
    assert "unknown replace_al" in verdict.correction


def test_unparseable_json_is_malformed(monitor: QualityMonitor) -> None:
    verdict = monitor.check(reply(call("Bash", raw='{"command": "pytest -q", ')))
    assert verdict.reason == "malformed_arguments" and verdict.correction is not None
    assert "not valid JSON" in verdict.correction
    assert '{"command": "pytest -q", ' in verdict.correction
    assert "Bash(command: string, timeout: integer = 30)" in verdict.correction


def test_optional_parameters_are_marked(monitor: QualityMonitor) -> None:
    verdict = monitor.check(reply(call("Glob")))
    assert verdict.correction is not None
    assert "Glob(pattern: string, path: string = null)" in verdict.correction


# --- repeated calls ----------------------------------------------------------------------------


def test_repeated_read_of_an_unchanged_file(monitor: QualityMonitor) -> None:
    assert monitor.check(reply(call("Read", file_path="a.py"))).ok
    verdict = monitor.check(reply(call("Read", file_path="a.py")))
    assert not verdict.ok and verdict.reason == "repeated_call"
    assert verdict.correction is not None and "Read" in verdict.correction and "a.py" in verdict.correction


def test_spelled_out_defaults_are_the_same_call(monitor: QualityMonitor) -> None:
    assert monitor.check(reply(call("Read", file_path="a.py"))).ok
    assert monitor.check(reply(call("Read", file_path="a.py", offset=0))).reason == "repeated_call"


def test_different_arguments_are_not_a_repeat(monitor: QualityMonitor) -> None:
    assert monitor.check(reply(call("Read", file_path="a.py"))).ok
    assert monitor.check(reply(call("Read", file_path="b.py"))).ok
    assert monitor.check(reply(call("Read", file_path="a.py", offset=40))).ok


def test_rerunning_tests_after_an_edit_is_not_a_loop(monitor: QualityMonitor) -> None:
    assert monitor.check(reply(call("Bash", command="pytest -q"))).ok
    assert monitor.check(reply(call("Edit", file_path="a.py", old_string="x", new_string="y"))).ok
    monitor.note_workspace_change()
    assert monitor.check(reply(call("Bash", command="pytest -q"))).ok


def test_repeat_window_is_limited(monitor: QualityMonitor) -> None:
    assert monitor.check(reply(call("Read", file_path="a.py"))).ok
    assert monitor.check(reply(call("Read", file_path="b.py"))).ok
    assert monitor.check(reply(call("Read", file_path="c.py"))).ok
    # a.py was read three turns ago, outside the window of 2.
    assert monitor.check(reply(call("Read", file_path="a.py"))).ok
    assert monitor.check(reply(call("Read", file_path="c.py"))).reason == "repeated_call"


def test_identical_calls_in_one_reply_are_a_repeat(monitor: QualityMonitor) -> None:
    verdict = monitor.check(reply(call("Bash", command="ls"), call("Bash", command="ls")))
    assert verdict.reason == "repeated_call"


def test_corrected_replies_do_not_count_as_earlier_calls(monitor: QualityMonitor) -> None:
    # The first reply is corrected (unknown tool alongside), so its Read never ran.
    assert monitor.check(reply(call("Read", file_path="a.py"), call("cat", file_path="a.py"))).reason == "unknown_tool"
    assert monitor.check(reply(call("Read", file_path="a.py"))).ok


# --- the correction cap ------------------------------------------------------------------------


def test_two_corrections_then_the_bad_reply_is_accepted(monitor: QualityMonitor) -> None:
    first = monitor.check(reply())
    second = monitor.check(reply(call("nope")))
    third = monitor.check(reply())
    assert (first.ok, second.ok) == (False, False)
    assert third.ok and third.accepted and third.reason == "empty" and third.correction is None
    assert third.detail
    # The count starts again after the accepted reply.
    assert not monitor.check(reply()).ok


def test_a_good_reply_resets_the_count(monitor: QualityMonitor) -> None:
    assert not monitor.check(reply()).ok
    assert not monitor.check(reply()).ok
    assert monitor.check(reply(text="done")).ok
    assert not monitor.check(reply()).ok
    assert not monitor.check(reply()).ok
    assert monitor.check(reply()).accepted


def test_accept_resets_the_count(monitor: QualityMonitor) -> None:
    assert not monitor.check(reply()).ok
    assert not monitor.check(reply()).ok
    monitor.accept()
    verdict = monitor.check(reply())
    assert not verdict.ok and not verdict.accepted


def test_accept_records_the_calls_of_an_overridden_reply(monitor: QualityMonitor) -> None:
    assert monitor.check(reply(call("Read", file_path="a.py"), call("cat"))).reason == "unknown_tool"
    monitor.accept()  # the session went ahead with it anyway
    assert monitor.check(reply(call("Read", file_path="a.py"))).reason == "repeated_call"


def test_zero_corrections_accepts_at_once() -> None:
    verdict = QualityMonitor(TOOLS, max_corrections=0).check(reply())
    assert verdict.ok and verdict.accepted and verdict.reason == "empty"


# --- the loop detector -------------------------------------------------------------------------


def test_loop_detector_fires_at_the_limit(monitor: QualityMonitor) -> None:
    edit = call("Edit", file_path="a.py", old_string="missing", new_string="y")
    assert monitor.record_result(edit, True, "Error: old_string not found") is False
    assert monitor.record_result(edit, True, "Error: old_string not found") is False
    assert monitor.stuck_detail is None
    again = call("Edit", file_path="a.py", old_string="missing", new_string="y")  # new id, same call
    assert monitor.record_result(again, True, "Error: old_string not found\nmore") is True
    assert monitor.stuck_detail is not None
    assert "Edit failed 3 times" in monitor.stuck_detail
    assert "old_string not found" in monitor.stuck_detail


def test_loop_detector_ignores_successes_and_other_calls(monitor: QualityMonitor) -> None:
    failing = call("Bash", command="make")
    assert not monitor.record_result(failing, True, "Error")
    assert not monitor.record_result(call("Bash", command="ls"), True, "Error")
    assert not monitor.record_result(failing, False, "ok")
    assert not monitor.record_result(failing, True, "Error")
    assert not monitor.record_result(call("Bash", command="ls"), True, "Error")  # 2 of 3 for ls
    assert monitor.record_result(failing, True, "Error")  # third failure of make, not consecutive


def test_loop_detector_resets_on_workspace_change(monitor: QualityMonitor) -> None:
    failing = call("Bash", command="pytest -q")
    assert not monitor.record_result(failing, True, "1 failed")
    assert not monitor.record_result(failing, True, "1 failed")
    monitor.note_workspace_change()
    assert not monitor.record_result(failing, True, "1 failed")
    assert not monitor.record_result(failing, True, "1 failed")
    assert monitor.record_result(failing, True, "1 failed")


def test_loop_limit_is_configurable() -> None:
    monitor = QualityMonitor(TOOLS, loop_limit=2)
    failing = call("Read", file_path="gone.py")
    assert not monitor.record_result(failing, True, "Error: no such file")
    assert monitor.record_result(failing, True, "Error: no such file")
