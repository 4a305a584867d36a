"""Context accounting and compaction: counts, caching, calibration, and a history that stays valid."""

from __future__ import annotations

import json
import time

import pytest

from agent import tokens
from agent.context import (
    CALL_OVERHEAD,
    COMPACTION_ORIGIN,
    KEEP_RECENT,
    MESSAGE_OVERHEAD,
    SNIP_HEAD,
    SNIP_TAIL,
    SPEC_OVERHEAD,
    TARGET_SHARE,
    ContextAccountant,
    FitResult,
)
from agent.messages import AssistantMessage, Message, ToolCall, ToolMessage, UserMessage
from agent.providers.base import ToolSpec

SYSTEM = "You are a coding agent working in a repository. Use the tools to read and change files."
SPECS = [
    ToolSpec(
        name="Read",
        description="Read a file of the workspace.",
        parameters={"type": "object", "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]},
    ),
    ToolSpec(
        name="Edit",
        description="Replace an exact string in a file.",
        parameters={
            "type": "object",
            "properties": {
                "file_path": {"type": "string"},
                "old_string": {"type": "string"},
                "new_string": {"type": "string"},
            },
            "required": ["file_path", "old_string", "new_string"],
        },
    ),
]


def _text(n_lines: int, tag: str) -> str:
    return "\n".join(f"{tag} line {i}: value = compute({i}, {i * 7})" for i in range(n_lines))


def _turn(i: int, tool: str, args: dict[str, object], result: str, *, error: bool = False) -> list[Message]:
    call = ToolCall(id=f"call_{i}", name=tool, arguments=args)
    return [
        AssistantMessage(content=f"Step {i}.", tool_calls=(call,)),
        ToolMessage(tool_call_id=call.id, name=tool, content=result, is_error=error),
    ]


def _history(turns: int, *, result_lines: int = 5) -> list[Message]:
    history: list[Message] = [UserMessage(content="Implement the leap function in src/leap.py so the tests pass.")]
    for i in range(turns):
        if i % 3 == 0:
            history += _turn(i, "Read", {"file_path": f"src/mod{i}.py"}, _text(result_lines, f"r{i}"))
        elif i % 3 == 1:
            history += _turn(
                i, "Edit", {"file_path": f"src/mod{i}.py", "old_string": "a", "new_string": "b"}, "Edited."
            )
        else:
            history += _turn(
                i, "Bash", {"command": "pytest -q"}, _text(result_lines, f"b{i}") + "\nE   AssertionError: boom", error=True
            )
    return history


def _assert_pairs_atomic(history: list[Message]) -> None:
    open_calls: set[str] = set()
    answered: set[str] = set()
    for message in history:
        if isinstance(message, AssistantMessage):
            open_calls |= {c.id for c in message.tool_calls}
        elif isinstance(message, ToolMessage):
            assert message.tool_call_id in open_calls, f"orphaned result {message.tool_call_id}"
            answered.add(message.tool_call_id)
    assert open_calls == answered, f"calls without results: {open_calls - answered}"


def _fit(acc: ContextAccountant, history: list[Message], turn: int = 10) -> FitResult:
    return acc.fit(history, system=SYSTEM, specs=SPECS, guidance="Card: read before editing.", turn=turn)


# --- measuring ---------------------------------------------------------------------------------------


def test_measure_counts_messages_calls_and_schemas() -> None:
    acc = ContextAccountant(limit=32768, reserve=8192)
    assert acc.measure([], []) == 0
    schema_cost = sum(tokens.count(s.model_dump_json()) + SPEC_OVERHEAD for s in SPECS)
    assert acc.measure([], SPECS) == schema_cost
    user = UserMessage(content="Fix the bug in parser.py")
    call = ToolCall(id="c1", name="Read", arguments={"file_path": "parser.py"})
    assistant = AssistantMessage(content="Reading.", tool_calls=(call,))
    expected = (
        tokens.count(user.content)
        + MESSAGE_OVERHEAD
        + tokens.count("Reading.\nRead\n" + json.dumps({"file_path": "parser.py"}, separators=(",", ":")))
        + MESSAGE_OVERHEAD
        + CALL_OVERHEAD
    )
    assert acc.measure([user, assistant], []) == expected
    assert acc.measure([user, assistant], SPECS) == expected + schema_cost


def test_measure_caches_per_message(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens.count("warm")  # the encoding loads once per process; keep it out of the timings
    calls: list[str] = []
    real = tokens.count

    def counting(text: str) -> int:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(tokens, "count", counting)  # agent.context looks it up on the module
    acc = ContextAccountant(limit=10**7, reserve=1000)
    history = [UserMessage(content=_text(3, f"m{i}")) for i in range(1000)]

    start = time.perf_counter()
    first = acc.measure(history, SPECS)
    cold = time.perf_counter() - start
    assert len(calls) == 1000 + len(SPECS)

    start = time.perf_counter()
    second = acc.measure(history, SPECS)
    warm = time.perf_counter() - start
    assert second == first
    assert len(calls) == 1000 + len(SPECS)  # nothing was tokenised again
    assert warm < 0.05 and warm < cold

    history.append(UserMessage(content="one more"))
    acc.measure(history, SPECS)
    assert calls[-1] == "one more" and len(calls) == 1000 + len(SPECS) + 1


def test_equal_but_distinct_messages_are_counted_once_each() -> None:
    acc = ContextAccountant(limit=10**6, reserve=100)
    a = UserMessage(content="same words")
    b = UserMessage(content="same words")
    assert acc.measure([a, b], []) == 2 * acc.measure([a], [])


def test_calibration_changes_estimates() -> None:
    acc = ContextAccountant(limit=32768, reserve=4096)
    history = _history(6)
    estimate = acc.measure(history, SPECS)
    acc.calibrate(estimate, int(estimate * 1.5))
    assert acc.measure(history, SPECS) == pytest.approx(estimate * 1.5, rel=0.01)
    # Later observations are smoothed, not adopted outright.
    acc.calibrate(acc.measure(history, SPECS), int(estimate * 1.1))
    assert estimate * 1.1 < acc.measure(history, SPECS) < estimate * 1.5


def test_calibration_ignores_implausible_counts() -> None:
    acc = ContextAccountant(limit=32768, reserve=4096)
    history = _history(6)
    estimate = acc.measure(history, SPECS)
    acc.calibrate(estimate, 30)  # a server that counted only the uncached tail
    acc.calibrate(10, 400)  # a prompt too small to say anything about the ratio
    assert acc.measure(history, SPECS) == estimate


def test_calibration_moves_the_compaction_threshold() -> None:
    history = _history(6)
    acc = ContextAccountant(limit=100_000, reserve=1000)
    result = _fit(acc, history)
    assert not result.compacted
    tight = ContextAccountant(limit=int(result.tokens_before * 1.3) + 1000, reserve=1000)
    assert not _fit(tight, history).compacted
    tight.calibrate(result.tokens_before, result.tokens_before * 2)  # the server counts twice as many
    assert _fit(tight, history).compacted


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        ContextAccountant(limit=4096, reserve=4096)


# --- fitting -----------------------------------------------------------------------------------------


def test_nothing_changes_while_the_request_fits() -> None:
    history = _history(12, result_lines=200)
    acc = ContextAccountant(limit=100_000, reserve=8192)
    result = _fit(acc, history)
    assert result.compacted is False and result.overflow is False
    assert result.tokens_before == result.tokens_after
    assert (result.snipped_results, result.dropped_messages) == (0, 0)
    assert len(result.history) == len(history)
    assert all(a is b for a, b in zip(result.history, history, strict=True))


def test_fit_counts_system_guidance_and_schemas() -> None:
    history = _history(2)
    acc = ContextAccountant(limit=100_000, reserve=1000)
    with_guidance = acc.fit(history, system=SYSTEM, specs=SPECS, guidance="x " * 300, turn=1).tokens_before
    without = acc.fit(history, system=SYSTEM, specs=SPECS, guidance=None, turn=1).tokens_before
    bare = acc.fit(history, system="", specs=[], guidance=None, turn=1).tokens_before
    assert with_guidance - without >= 300
    assert without - bare >= acc.measure([], SPECS) + tokens.count(SYSTEM)


def test_snipping_comes_first_and_stops_when_enough() -> None:
    history = _history(12, result_lines=120)  # Read and Bash results well over 2,000 characters
    size = _fit(ContextAccountant(limit=10**6, reserve=1000), history).tokens_before
    # Over the budget by a little: snipping the oldest results is enough to reach the target.
    reserve = 1000
    limit = int(size * 0.9) + reserve
    result = _fit(ContextAccountant(limit=limit, reserve=reserve), history)
    assert result.compacted and not result.overflow
    assert result.dropped_messages == 0
    assert 0 < result.snipped_results
    assert result.tokens_after <= int((limit - reserve) * TARGET_SHARE)
    assert len(result.history) == len(history)

    changed = [i for i, (a, b) in enumerate(zip(history, result.history, strict=True)) if a is not b]
    assert len(changed) == result.snipped_results
    # Oldest first: the snipped results are the earliest long ones, and the recent ones are intact.
    long_results = [i for i, m in enumerate(history) if isinstance(m, ToolMessage) and len(m.content) > 2000]
    assert changed == long_results[: len(changed)]
    assert all(i < len(history) - KEEP_RECENT for i in changed)
    for i in changed:
        original, snipped = history[i], result.history[i]
        assert isinstance(original, ToolMessage) and isinstance(snipped, ToolMessage)
        assert snipped.content.startswith(original.content[:SNIP_HEAD])
        assert snipped.content.endswith(original.content[-SNIP_TAIL:])
        assert "removed to save context" in snipped.content
        assert (snipped.tool_call_id, snipped.is_error) == (original.tool_call_id, original.is_error)


def test_superseded_notes_go_before_anything_else_and_the_newest_stays() -> None:
    history = _history(12, result_lines=120)
    notes = [UserMessage(content=f"# Harness notes\n\n{_text(800, f'card{i}')}", origin="guidance") for i in range(4)]
    for at, note in zip((1, 5, 11, 17), notes, strict=True):  # after the task, then after tool results
        history.insert(at, note)
    with_notes = _fit(ContextAccountant(limit=10**6, reserve=1000), history).tokens_before
    without_old = _fit(ContextAccountant(limit=10**6, reserve=1000),
                       [m for m in history if m not in notes[:3]]).tokens_before
    # Over the budget by less than the superseded notes weigh: removing them is enough.
    reserve = 1000
    limit = int(without_old / TARGET_SHARE) + reserve
    assert with_notes > limit - reserve
    result = _fit(ContextAccountant(limit=limit, reserve=reserve), history)
    assert result.compacted and not result.overflow
    assert result.dropped_messages == 3 and result.snipped_results == 0
    assert result.history == [m for m in history if m not in notes[:3]]  # everything else untouched
    assert notes[3] in result.history


def test_dropping_keeps_pairs_atomic_and_the_task() -> None:
    history = _history(30, result_lines=120)
    reserve = 2048
    result = _fit(ContextAccountant(limit=8192, reserve=reserve), history, turn=31)
    assert result.compacted and not result.overflow
    assert result.dropped_messages > 0
    assert result.tokens_after <= int((8192 - reserve) * TARGET_SHARE) < result.tokens_before
    assert result.history[0] is history[0]  # the task message
    summary = result.history[1]
    assert isinstance(summary, UserMessage) and summary.origin == COMPACTION_ORIGIN
    _assert_pairs_atomic(result.history)
    # The newest turn group survives untouched and the kept tail is the original's tail.
    kept = len(result.history) - 2
    assert kept >= 2
    assert all(a is b or isinstance(a, ToolMessage) for a, b in zip(result.history[2:], history[-kept:], strict=True))
    assert result.history[-1] is history[-1] and result.history[-2] is history[-2]
    assert len(history) - kept == result.dropped_messages + 1  # minus the task; plus nothing else


def test_summary_says_what_the_dropped_turns_did() -> None:
    history = _history(30, result_lines=120)
    result = _fit(ContextAccountant(limit=8192, reserve=2048), history, turn=31)
    summary = result.history[1].content
    dropped_edits = [
        c.arguments["file_path"]
        for m in history[1 : 1 + result.dropped_messages]
        if isinstance(m, AssistantMessage)
        for c in m.tool_calls
        if c.name == "Edit"
    ]
    assert dropped_edits
    assert "Files written or edited: " + ", ".join(dropped_edits) in summary
    assert "Read src/mod0.py" in summary
    assert "Bash pytest -q → error: E   AssertionError: boom" in summary
    assert "Last error (Bash):" in summary and "turn 31" in summary


def test_a_second_compaction_merges_the_first_summary() -> None:
    history = _history(30, result_lines=120)
    acc = ContextAccountant(limit=8192, reserve=2048)
    first = _fit(acc, history, turn=31)
    first_files = first.history[1].content.split("Files written or edited: ")[1].splitlines()[0].split(", ")
    grown = list(first.history)
    for i in range(100, 112):
        grown += _turn(i, "Edit", {"file_path": f"lib/new{i}.py", "old_string": "x", "new_string": "y"}, _text(90, "e"))
    second = _fit(acc, grown, turn=43)
    assert second.compacted and not second.overflow
    summaries = [m for m in second.history if isinstance(m, UserMessage) and m.origin == COMPACTION_ORIGIN]
    assert len(summaries) == 1 and second.history[1] is summaries[0]
    text = summaries[0].content
    assert all(path in text for path in first_files)
    assert "lib/new100.py" in text
    # Every dropped call is either listed as a step or counted as omitted, across both compactions.
    listed = [line for line in text.splitlines() if line.startswith("- ") and "earlier steps" not in line]
    omitted = int(text.split("- (")[1].split(" earlier steps")[0]) if "earlier steps not listed" in text else 0
    assert len(listed) + omitted == (first.dropped_messages + second.dropped_messages) // 2
    _assert_pairs_atomic(second.history)


def test_a_turn_with_several_calls_is_dropped_whole() -> None:
    task = UserMessage(content="Refactor the package.")
    history: list[Message] = [task]
    for i in range(12):
        calls = tuple(ToolCall(id=f"c{i}_{j}", name="Read", arguments={"file_path": f"f{i}_{j}.py"}) for j in range(3))
        history.append(AssistantMessage(content="", tool_calls=calls))
        history += [ToolMessage(tool_call_id=c.id, name="Read", content=_text(8, c.id)) for c in calls]
        history.append(UserMessage(content="Please keep going.", origin="correction"))
    result = _fit(ContextAccountant(limit=3000, reserve=800), history)
    assert result.dropped_messages > 0 and not result.overflow
    _assert_pairs_atomic(result.history)
    assert result.dropped_messages % 5 == 0  # groups of assistant + 3 results + correction


def test_history_too_big_even_when_minimal_is_flagged() -> None:
    history = _history(10, result_lines=20)
    # The newest group alone overflows: the model wrote a huge file and also read a huge one.
    history += _turn(98, "Read", {"file_path": "big.py"}, _text(2000, "big"))[:1]
    history[-1] = AssistantMessage(
        content="Writing it all.",
        tool_calls=(
            ToolCall(id="w", name="Write", arguments={"file_path": "huge.py", "content": _text(600, "huge")}),
            ToolCall(id="r", name="Read", arguments={"file_path": "big.py"}),
        ),
    )
    history += [
        ToolMessage(tool_call_id="w", name="Write", content="Wrote huge.py"),
        ToolMessage(tool_call_id="r", name="Read", content=_text(2000, "big")),
    ]
    result = _fit(ContextAccountant(limit=4096, reserve=1024), history)
    assert result.compacted and result.overflow
    assert result.tokens_after > 4096 - 1024
    # As small as it gets: task, summary, and the newest group with its long result snipped.
    assert [type(m) for m in result.history] == [UserMessage, UserMessage, AssistantMessage, ToolMessage, ToolMessage]
    assert result.history[0] is history[0] and result.history[2] is history[-3]
    last = result.history[-1]
    assert isinstance(last, ToolMessage) and len(last.content) < 2000
    _assert_pairs_atomic(result.history)


def test_fit_does_not_mutate_the_callers_history() -> None:
    history = _history(30, result_lines=120)
    snapshot = list(history)
    _fit(ContextAccountant(limit=8192, reserve=2048), history)
    assert len(history) == len(snapshot) and all(a is b for a, b in zip(history, snapshot, strict=True))
