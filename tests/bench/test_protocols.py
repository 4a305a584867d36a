"""The two named protocols: `paper` (the original harness) and `improved` (this scaffold's), their prompts,
the settings each applies, what results.json records, the report's warning and conditional table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.bench.exercises import load_exercise
from agent.bench.harness import BenchConfig, Harness
from agent.bench.prompts import (
    PAPER_FIRST_LEAD,
    PAPER_RETRY_LEAD,
    RETRY_LEAD,
    paper_first_prompt,
    paper_retry_prompt,
)
from agent.bench.protocols import DEFAULT_PROTOCOL, IMPROVED, PAPER, PROTOCOLS, get_protocol
from agent.bench.report import comparison_report, compare, conditional_table, report
from agent.bench.results import AttemptRecord, ExerciseResult, GradeRecord, RunResults
from agent.events import Counters, GuidanceSelected, SessionFinished
from agent.prompt import PROMPT_VERSION
from agent.session import Session
from agent.settings import Settings
from agent.workspace import DiskWorkspace
from tests.bench.conftest import EXERCISES
from tests.bench.script import _edits, solution_files
from tests.conftest import settings_for
from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Call, Reply

PYTHON = EXERCISES / "python" / "exercises" / "practice"


def test_paper_first_prompt_names_only_the_exercise_the_folder_and_the_stub() -> None:
    digit = load_exercise("python", PYTHON / "digit-sum")
    assert paper_first_prompt(digit, "/work/digit-sum") == (
        "Implement exercise digit-sum.\n"
        "Working directory: /work/digit-sum\n"
        "Stub to implement: digit_sum.py\n"
        "Look through the directory for whatever context you need, write the solution, then run the tests "
        "to check it."
    )


def test_paper_retry_prompt_shows_the_first_2000_characters() -> None:
    output = "".join(f"line {i:05d}\n" for i in range(1000))  # 11,000 characters
    retry = paper_retry_prompt(output)
    assert retry.startswith(PAPER_RETRY_LEAD)
    shown = retry.split("```\n")[1].removesuffix("\n")
    assert shown == output[:2000]
    assert "line 00000" in retry and "line 00999" not in retry


def test_each_protocol_applies_its_settings() -> None:
    assert DEFAULT_PROTOCOL == "improved" and set(PROTOCOLS) == {"paper", "improved"}
    user = Settings(bash="allowlist", finish_warning_turns=4)
    paper = Harness(BenchConfig(tree=EXERCISES, protocol="paper"), user, Path("unused.json"))
    assert paper.settings.finish_warning_turns == 0
    assert paper.settings.stop_when_stuck is False
    assert paper.settings.bash == "always"
    assert paper.settings.sandbox == user.sandbox  # commands still run inside the sandbox
    improved = Harness(BenchConfig(tree=EXERCISES), user, Path("unused.json"))
    assert improved.settings == user
    assert PAPER.retry_chars == 2000 and PAPER.retry_output == "head" and not PAPER.retry_continues
    assert paper.settings.knowledge_from_instructions is False and improved.settings.knowledge_from_instructions
    assert len(IMPROVED.changes) == 7 and not PAPER.changes
    assert get_protocol("paper") is PAPER


class PaperScript:
    """Attempt 1 writes a wrong solution; attempt 2 (a fresh session) writes the reference one."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def __call__(self, body: dict[str, Any], index: int) -> Reply:
        self.requests.append(body)
        users = [m["content"] for m in body["messages"] if m["role"] == "user"]
        exercise = load_exercise("python", PYTHON / "digit-sum")
        stub = {p: (exercise.path / p).read_text() for p in exercise.solution}
        wrong = {**stub, **solution_files(exercise, "wrong")}
        step = sum(m["role"] == "assistant" for m in body["messages"])
        if users[0].startswith(PAPER_RETRY_LEAD):
            if step == 0:
                return Reply(calls=_edits(wrong, {**wrong, **solution_files(exercise, "example")}))
            return Reply("Fixed.")
        if step == 0:
            return Reply(calls=[Call("Read", {"file_path": exercise.solution[0]})])
        if step == 1:
            return Reply(calls=_edits(stub, wrong))
        return Reply("Done.")


async def test_paper_run_retries_fresh_and_records_the_protocol(tmp_path: Path) -> None:
    script = PaperScript()
    config = BenchConfig(tree=EXERCISES, exercises=["python/digit-sum"], protocol="paper", work_dir=tmp_path)
    out = tmp_path / "results.json"
    with ScriptedModelServer("openai", script) as server:
        results = await Harness(config, settings_for(server), out).run()
    assert [e.status for e in results.exercises] == ["pass_2"]

    firsts = [b for b in script.requests if b["messages"][1]["content"].startswith(PAPER_FIRST_LEAD)]
    retries = [b for b in script.requests if b["messages"][1]["content"].startswith(PAPER_RETRY_LEAD)]
    assert firsts and retries and len(firsts) + len(retries) == len(script.requests)
    first = firsts[0]["messages"][1]["content"]
    assert first.startswith("Implement exercise digit-sum.\nWorking directory: ")
    assert "/digit-sum\nStub to implement: digit_sum.py\nLook through the directory" in first
    # Fresh: attempt 2's first request is the system prompt and the retry message, nothing of attempt 1.
    opening = [m for m in retries[0]["messages"] if not (m["content"] or "").startswith("# Harness notes")]
    assert [m["role"] for m in opening] == ["system", "user"]
    assert not any(PAPER_FIRST_LEAD in (m["content"] or "") for m in retries[0]["messages"])
    assert not any(RETRY_LEAD in (m["content"] or "") for b in script.requests for m in b["messages"])
    shown = opening[1]["content"].split("```\n")[1].removesuffix("\n")
    assert len(shown) <= 2000 and results.exercises[0].attempts[0].grade.output_tail.startswith(shown[:200])

    saved = json.loads(out.read_text())
    assert saved["protocol"] == "paper" and saved["prompt_version"] == PROMPT_VERSION
    assert saved["config"]["protocol"] == "paper"
    assert saved["exercises"][0]["counters"]["cap_warnings"] == 0
    # Guidance tokens per model call, from the sessions' GuidanceSelected events (both attempts).
    digit = saved["exercises"][0]
    assert digit["guidance_calls"] == len(script.requests)
    assert 0 < digit["guidance_tokens_mean"] <= digit["guidance_tokens_max"]


async def test_paper_settings_do_not_end_a_looping_session_as_stuck(leap_workspace: Path) -> None:
    script = [Reply(calls=[Call("Read", {"file_path": "nowhere.py"})]) for _ in range(8)] + [Reply("Gave up.")]
    paper = {k: v for k, v in PAPER.settings.items() if k != "bash"}
    outcomes = {}
    for name, overrides in (("paper", paper), ("improved", {})):
        with ScriptedModelServer("ollama", script) as server:
            settings = settings_for(server, max_turns=20, loop_limit=3, **overrides)
            events = [e async for e in Session("read nowhere.py", DiskWorkspace(leap_workspace), settings).run()]
        final = events[-1]
        assert isinstance(final, SessionFinished)
        outcomes[name] = (final.outcome, final.turns, final.counters.cap_warnings)
    assert outcomes["paper"] == ("done", 9, 0)  # every scripted reply was answered, to the last
    assert outcomes["improved"][0] == "stuck" and outcomes["improved"][1] < 9


def _exercise(name: str, status: str, *, guard: int = 0, budget: int = 0) -> ExerciseResult:
    grade = GradeRecord(passed=status != "fail", exit_code=0 if status != "fail" else 1)
    return ExerciseResult(language="python", name=name, status=status,  # type: ignore[arg-type]
                          attempts=[AttemptRecord(attempt=1, outcome="done", grade=grade)],
                          counters=Counters(write_guard_fires=guard, thinking_budget_fires=budget))


def test_conditional_pass_rates_split_by_budget_and_guard_fires() -> None:
    run = RunResults(protocol="paper", prompt_version="lc-2", exercises=[
        _exercise("a", "pass_1", budget=2), _exercise("b", "fail", budget=1), _exercise("c", "pass_2", guard=1),
        _exercise("d", "fail", guard=3, budget=1), _exercise("e", "pass_1"),
        ExerciseResult(language="python", name="f", status="unavailable", counters=Counters(write_guard_fires=1)),
    ])
    table = conditional_table(run).splitlines()
    assert table[0].split() == ["Mechanism", "fired", "pass@1", "pass@2", "not", "fired", "pass@1", "pass@2"]
    # budget fired in a, b, d (1 of 3 passes, on attempt 1); not in c, e (2 of 2, one on attempt 1).
    assert table[2].split() == ["thinking", "budget", "3", "33.3%", "33.3%", "2", "50.0%", "100.0%"]
    # the guard fired in c, d (1 of 2, on attempt 2); not in a, b, e; unavailable f is not graded.
    assert table[3].split() == ["write", "guard", "2", "0.0%", "50.0%", "3", "66.7%", "66.7%"]
    text = report(run)
    assert "[protocol paper, prompt lc-2, notes unrecorded]" in text.splitlines()[0]
    assert "Pass rate by whether a mechanism fired" in text and "\n".join(table) in text


def test_comparing_runs_of_different_protocols_or_prompts_warns() -> None:
    a = RunResults(protocol="paper", prompt_version="lc-2", exercises=[_exercise("a", "pass_1")])
    b = RunResults(protocol="improved", prompt_version="lc-2", exercises=[_exercise("a", "fail")])
    text = comparison_report(compare(a, b, "A", "B"))
    assert text.splitlines()[1] == ("!!! WARNING: the runs differ in protocol: A paper, B improved; their pass "
                                    "rates are not directly comparable")
    c = RunResults(protocol="paper", prompt_version="lc-1", exercises=[_exercise("a", "pass_1")])
    markdown = comparison_report(compare(a, c, "A", "C"), "markdown")
    assert "> **WARNING: the runs differ in prompt version: A lc-2, C lc-1" in markdown
    d = a.model_copy(update={"prompt_layout": "kept"})
    assert "the runs differ in prompt layout: A unrecorded, D kept" in comparison_report(compare(a, d, "A", "D"))
    same = comparison_report(compare(a, a.model_copy(), "A", "A2"))
    assert "WARNING" not in same


async def test_paper_scores_knowledge_on_the_task_alone(tmp_path: Path) -> None:
    (tmp_path / ".docs").mkdir()
    (tmp_path / ".docs" / "instructions.md").write_text("Given a year, report if it is a leap year on the calendar.\n")
    (tmp_path / "leap.py").write_text("def is_leap(year):\n    pass\n")
    chosen = {}
    for name, protocol in (("paper", PAPER), ("improved", IMPROVED)):
        with ScriptedModelServer("ollama", [Reply("Nothing to do.")]) as server:
            settings = settings_for(server).model_copy(update=protocol.settings)
            events = [e async for e in Session("Implement exercise leap.", DiskWorkspace(tmp_path), settings).run()]
        chosen[name] = [k.name for e in events if isinstance(e, GuidanceSelected) for k in e.knowledge]
    assert chosen == {"paper": [], "improved": ["dates-times"]}
