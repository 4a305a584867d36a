"""Reading results back: the per-language tables, the overlap of two runs, the chart."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from agent.bench.guard import EditedTest
from agent.bench.progress import ProgressLine
from agent.bench.report import ReportError, compare, comparison_report, observables_table, pass_table, plot, report
from agent.bench.results import AttemptRecord, ExerciseResult, GradeRecord, RunResults, add_counters
from agent.events import Counters
from tests.conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "bench"


def exercise(key: str, status: str, *, seconds: float = 10.0, turns: int = 5, error: str = "",
             counters: Counters | None = None, edits: int = 0) -> ExerciseResult:
    language, name = key.split("/")
    attempts = [AttemptRecord(attempt=1, outcome="done", grade=GradeRecord(passed=status == "pass_1"))]
    return ExerciseResult.model_validate({
        "language": language, "name": name, "status": status, "duration_s": seconds, "turns": turns,
        "error": error, "counters": counters or Counters(), "attempts": [] if status == "unavailable" else attempts,
        "test_file_edits": [EditedTest(attempt=1, path="t.py", change="modified")] * edits,
    })


def run_a() -> RunResults:
    results = RunResults(model="qwen3.5:9b", backend="ollama", finished=True)
    for item in (
        exercise("python/leap", "pass_1", seconds=10, turns=4, counters=Counters(write_guard_fires=2)),
        exercise("python/bob", "pass_2", seconds=20, turns=12),
        exercise("python/zipper", "fail", seconds=30, turns=20, error="\nAssertionError: 3 != 4\nmore",
                 counters=Counters(cap_hits=1, thinking_budget_fires=3), edits=1),
        exercise("go/clamp", "unavailable"),
        exercise("rust/gcd", "pass_1"),
    ):
        results.record(item)
    return results


def run_b() -> RunResults:
    results = RunResults(model="qwen3.5:9b-tuned", backend="openai", finished=False)
    for item in (
        exercise("python/leap", "fail", error="boom"),
        exercise("python/bob", "pass_1"),
        exercise("python/zipper", "pass_2"),
        exercise("go/clamp", "pass_1"),
        exercise("rust/gcd", "fail"),
    ):
        results.record(item)
    return results


def test_pass_table_has_the_papers_columns() -> None:
    text = pass_table(run_a())
    lines = text.splitlines()
    assert lines[0].split() == ["Language", "exercises", "graded", "pass@1", "pass@2", "s/pass", "s/fail",
                                "turns/pass", "turns/fail", "unavailable"]
    assert lines[2].split() == ["Python", "3", "3", "33.3%", "66.7%", "15.0", "30.0", "8.0", "20.0", "0"]
    assert lines[3].split() == ["Go", "1", "0", "-", "-", "-", "-", "-", "-", "1"]
    assert lines[4].split() == ["Rust", "1", "1", "100.0%", "100.0%", "10.0", "-", "5.0", "-", "0"]
    assert lines[5].split() == ["Overall", "5", "4", "50.0%", "75.0%", "13.3", "30.0", "7.0", "20.0", "1"]


def test_observables_are_shares_of_graded_exercises() -> None:
    lines = observables_table(run_a()).splitlines()
    assert lines[0].startswith("Language") and "write guard" in lines[0] and "test edits" in lines[0]
    python = lines[2].split()
    # write guard, thinking budget, repairs, corrections, cap warning, turn cap, compaction, test edits, timeouts
    assert python == ["Python", "33.3%", "33.3%", "0.0%", "0.0%", "0.0%", "33.3%", "0.0%", "33.3%", "0.0%"]
    assert lines[-1].split()[1] == "25.0%"  # overall: 1 of 4 graded


def test_report_in_text_and_markdown() -> None:
    text = report(run_a())
    assert text.startswith("qwen3.5:9b (ollama), started ")
    assert "Pass rates" in text and "Observables (% of graded exercises)" in text
    assert "Failed exercises\n- python/zipper: AssertionError: 3 != 4" in text
    markdown = report(run_b(), "markdown", title="B")
    assert markdown.startswith("## B - incomplete run [protocol unrecorded, prompt unrecorded, notes unrecorded]\n\n"
                               "### Pass rates\n\n| Language | exercises |")
    assert "|---|---:|" in markdown and "| Overall | 5 | 5 | 40.0% | 60.0% |" in markdown


def test_two_runs_side_by_side() -> None:
    c = compare(run_a(), run_b(), "base", "tuned")
    assert c.overall.both == ["python/bob"]
    assert c.overall.only_a == ["python/leap", "rust/gcd"]
    assert c.overall.only_b == ["python/zipper"]
    assert c.overall.neither == []
    assert c.not_in_both == ["go/clamp"]  # unavailable in A: left out of the overlap
    assert (c.languages["python"].pass_rate_a, c.languages["python"].pass_rate_b) == (66.67, 66.67)
    text = comparison_report(c)
    header, _, python, rust, overall = text.splitlines()[1:6]
    assert header.split()[:4] == ["Language", "shared", "pass@2", "base"]
    assert python.split() == ["Python", "3", "66.7%", "66.7%", "+0.0", "1", "1", "1", "0"]
    assert rust.split() == ["Rust", "1", "100.0%", "0.0%", "-100.0", "0", "1", "0", "0"]
    assert overall.split() == ["Overall", "4", "75.0%", "50.0%", "-25.0", "1", "2", "1", "0"]
    assert "Passed only by base:\n  python/leap\n  rust/gcd" in text
    assert "Graded in one run only (left out):\n  go/clamp" in text
    markdown = comparison_report(c, "markdown")
    assert markdown.startswith("## base vs tuned") and "### Passed only by tuned\n- python/zipper" in markdown


def test_png_chart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / "report-two-runs.png"
    plot([("base", run_a()), ("tuned", run_b())], target)
    data = target.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
    with pytest.raises(ReportError, match="no graded exercise"):
        plot([("empty", RunResults())], tmp_path / "x.png")
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if matplotlib were absent
    with pytest.raises(ReportError, match=r"little-coder-lsp\[plot\]"):
        plot([("base", run_a())], tmp_path / "y.png")


def test_counters_add_up() -> None:
    a = Counters(write_guard_fires=1, corrections=2, corrections_by_reason={"empty": 2}, text_tool_mode=False)
    b = Counters(write_guard_fires=2, corrections=1, corrections_by_reason={"empty": 1, "repeated_call": 1},
                 text_tool_mode=True)
    total = add_counters(a, b)
    assert (total.write_guard_fires, total.corrections, total.text_tool_mode) == (3, 3, True)
    assert total.corrections_by_reason == {"empty": 3, "repeated_call": 1}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_counts_passes_and_estimates_the_rest() -> None:
    log = io.StringIO()
    progress = ProgressLine(log, 4, done=1, passed=1, graded=1)  # resumed: one exercise already done
    progress.started("python/bob", 1)  # not written to a log
    assert progress.eta() == "?"
    progress.finished(exercise("python/bob", "pass_2", seconds=12))
    progress.finished(exercise("go/clamp", "unavailable"))
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("[bench] 2/4 | passed 2/2 (100%) | ETA ")
    assert lines[0].endswith("python/bob pass_2 in 12 s")
    assert lines[1].startswith("[bench] 3/4 | passed 2/2 (100%) | ETA ") and lines[1].endswith("go/clamp unavailable")
    assert len(lines) == 2

    screen = _Terminal()
    live = ProgressLine(screen, 2)
    live.started("python/leap", 2)
    assert screen.getvalue() == "\r\x1b[2K[bench] 0/2 | passed 0/0 | ETA ? | running python/leap (+1 more)"
    live.finished(exercise("python/leap", "fail", seconds=3))
    live.started("python/bob", 1)
    live.close()
    assert screen.getvalue().endswith("python/leap fail in 3 s\n\r\x1b[2K[bench] 1/2 | passed 0/1 (0%) | ETA 0:00 | "
                                      "running python/bob\r\x1b[2K")
