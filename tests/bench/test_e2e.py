"""The whole protocol over our exercise set (2 or 3 per language) against the scripted model server.

Every exercise goes: attempt 1 applies a wrong solution that passes only the test the track leaves
enabled, grading (with the skipped tests switched back on) fails it, attempt 2 continues the same
conversation with the failing output and applies the reference solution, grading passes it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.bench.exercises import LANGUAGES, discover
from agent.bench.harness import BenchConfig, Harness
from agent.bench.prompts import FIRST_LEAD, RETRY_LEAD
from agent.bench.report import plot, report
from agent.bench.results import RunResults
from agent.prompt import GUIDANCE_HEADER
from tests.bench.conftest import EXERCISES
from tests.bench.script import ExerciseScript
from tests.conftest import ROOT, settings_for
from tests.fakes.model_server import ScriptedModelServer

ARTIFACTS = ROOT / "test-artifacts" / "bench"
# Something each runner prints when a test fails; attempt 2's message must carry it.
FAILURE_MARKERS = {
    "python": "failed",
    "go": "--- FAIL",
    "rust": "test result: FAILED",
    "javascript": "Expected:",
    "cpp": "FAILED:",
    "java": "tests failed",
}
RETRY_TAIL = 1500


def _conversation(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's messages without the per-call guidance note (it is not part of the history)."""
    return [m for m in body["messages"] if not str(m.get("content") or "").startswith(GUIDANCE_HEADER)]


def _is_retry(body: dict[str, Any]) -> bool:
    return any(m["role"] == "user" and m["content"].startswith(RETRY_LEAD) for m in body["messages"])


@pytest.mark.slow
async def test_every_language_passes_on_attempt_two_after_a_wrong_first_attempt(
    tmp_path: Path, missing_toolchains: dict[str, str]
) -> None:
    script = ExerciseScript(EXERCISES)
    out = tmp_path / "results.json"
    config = BenchConfig(tree=EXERCISES, workers=4, work_dir=tmp_path, retry_tail_chars=RETRY_TAIL)
    with ScriptedModelServer("ollama", script) as server:
        harness = Harness(config, settings_for(server), out)
        results = await harness.run()

    # A run with a missing toolchain is not finished: its unavailable exercises are retried on --resume.
    assert results.finished == (not missing_toolchains) and not results.problems
    assert results.model == "qwen3.5:9b" and results.backend == "ollama"
    by_language = {lang: [e for e in results.exercises if e.language == lang] for lang in LANGUAGES}
    count = {lang: len(discover(EXERCISES, [lang]).exercises) for lang in LANGUAGES}
    for language, exercises in by_language.items():
        assert len(exercises) == count[language], language
        for exercise in exercises:
            if language in missing_toolchains:
                assert exercise.status == "unavailable" and exercise.unavailable_reason
                assert not exercise.attempts and exercise.key not in script.requests
                continue
            assert exercise.status == "pass_2", (exercise.key, exercise.attempts[-1].grade.output_tail)
            first, second = exercise.attempts
            assert not first.grade.passed and second.grade.passed
            assert first.outcome == second.outcome == "done"
            assert (first.turns, second.turns, exercise.turns) == (3, 2, 5)
            assert exercise.tool_counts["Edit"] >= 2 and exercise.tool_counts["Read"] == 1
            assert exercise.test_file_edits == [] and exercise.error == ""
            assert exercise.usage.calls == 5
            assert (tmp_path / "results-logs" / language / f"{exercise.name}.jsonl").is_file()

    graded = [lang for lang in LANGUAGES if lang not in missing_toolchains]
    assert sorted(results.languages) == sorted(LANGUAGES)
    for language in graded:
        totals = results.languages[language]
        n = count[language]
        assert (totals.graded, totals.pass_1, totals.pass_2, totals.pass_rate_2) == (n, 0, n, 100.0)
    assert results.overall.graded == sum(count[lang] for lang in graded)

    # Attempt 2 continues attempt 1's conversation and adds the tail of the failing output.
    for key, bodies in script.requests.items():
        language = key.split("/")[0]
        retry_at = next(i for i, b in enumerate(bodies) if _is_retry(b))
        assert retry_at == 3, key  # Read, Edit, summary, then the retry
        before, after = _conversation(bodies[retry_at - 1]), _conversation(bodies[retry_at])
        assert after[: len(before)] == before, key
        assert after[0]["role"] == "system" and after[1]["content"].startswith(f"{FIRST_LEAD} {key}")
        assert after[len(before)]["role"] == "assistant"
        assert after[len(before)]["content"] == "Done: the solution is in place."
        wrong_edits = [c for m in before if m["role"] == "assistant" for c in m.get("tool_calls") or []]
        assert any(c["function"]["name"] == "Edit" for c in wrong_edits), key
        retry = after[-1]
        assert retry["role"] == "user" and retry["content"].startswith(RETRY_LEAD)
        assert FAILURE_MARKERS[language] in retry["content"], (key, retry["content"])
        # The failing output names files as the agent does, relative to its copy: no path of this machine.
        for folder in (str(tmp_path), str(Path.home()) + "/", "/tmp/"):
            assert folder not in retry["content"], (key, folder, retry["content"])
        assert len(retry["content"]) < RETRY_TAIL + 600

    assert results.grading is not None and set(results.grading.toolchains) == set(LANGUAGES)
    # What was returned is what was saved.
    assert RunResults.load(out) == results
    saved = json.loads(out.read_text())
    assert saved["overall"]["pass_2"] == results.overall.graded
    assert saved["exercises"][0]["attempts"][0]["counters"]["write_guard_fires"] == 0

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(out, ARTIFACTS / "e2e-results.json")
    (ARTIFACTS / "e2e-report.md").write_text(report(results, "markdown"))
    plot([("scripted", results)], ARTIFACTS / "e2e-pass-rates.png")
    assert (ARTIFACTS / "e2e-pass-rates.png").read_bytes().startswith(b"\x89PNG")


async def test_a_toolchain_hidden_from_the_path_makes_its_language_unavailable(tmp_path: Path) -> None:
    """The `unavailable` branch, for real: Go's toolchain is left off the PATH the runners search, so
    Go's exercises are never run, while Python's (found through the interpreter itself) are graded."""
    environ = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    script = ExerciseScript(EXERCISES)
    config = BenchConfig(tree=EXERCISES, languages=["python", "go"], exercises=["digit-sum", "go/clamp"],
                         work_dir=tmp_path)
    with ScriptedModelServer("ollama", script) as server:
        results = await Harness(config, settings_for(server), tmp_path / "results.json", environ=environ).run()
    digit, clamp = results.exercises
    assert digit.key == "python/digit-sum" and digit.status == "pass_2"
    assert clamp.key == "go/clamp" and clamp.status == "unavailable" and not clamp.attempts
    assert clamp.unavailable_reason and "go" in clamp.unavailable_reason
    assert "go/clamp" not in script.requests and not results.finished
    assert (results.languages["go"].unavailable, results.languages["go"].graded) == (1, 0)
