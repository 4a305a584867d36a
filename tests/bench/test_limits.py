"""Limits and missing toolchains: a hanging test is killed at its limit with everything it started, a
test that eats memory is killed at the memory limit, an exercise stops at its wall clock, and a
language without its toolchain is `unavailable`, never failed or passed."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from agent.bench.exercises import load_exercise
from agent.bench.harness import BenchConfig, Harness
from agent.bench.runners import Limits, PythonRunner, Toolchains
from tests.bench.conftest import EXERCISES
from tests.bench.script import ExerciseScript
from tests.conftest import settings_for
from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Reply

HANG_MARK = "987.25"  # an unusual sleep length, to find the test's child process afterwards


def python_exercise(tree: Path, name: str, test_body: str) -> Path:
    folder = tree / "python" / "exercises" / "practice" / name
    (folder / ".meta").mkdir(parents=True)
    stem = name.replace("-", "_")
    (folder / ".meta" / "config.json").write_text(json.dumps(
        {"files": {"solution": [f"{stem}.py"], "test": [f"{stem}_test.py"], "example": [".meta/example.py"]}}))
    (folder / f"{stem}.py").write_text("VALUE = 1\n")
    (folder / f"{stem}_test.py").write_text(test_body)
    return folder


def _sleepers() -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as handle:
                    if handle.read().split(b"\0")[:2] == [b"sleep", HANG_MARK.encode()]:
                        found.append(int(name))
            except OSError:
                continue
    return found


async def test_a_hanging_test_is_killed_at_the_limit_with_its_children(tmp_path: Path) -> None:
    python_exercise(tmp_path, "hang", (
        "import subprocess, time\n\n"
        "def test_hangs():\n"
        f"    subprocess.Popen(['sleep', '{HANG_MARK}'])\n"
        "    time.sleep(600)\n"
    ))
    config = BenchConfig(tree=tmp_path, turns_2=0, work_dir=tmp_path, limits=Limits(test_timeout=2))
    with ScriptedModelServer("ollama", lambda body, index: Reply("Nothing to change.")) as server:
        started = time.monotonic()
        results = await Harness(config, settings_for(server), tmp_path / "results.json").run()
        elapsed = time.monotonic() - started

    (hang,) = results.exercises
    assert hang.status == "fail" and len(hang.attempts) == 1
    grade = hang.attempts[0].grade
    assert grade.timed_out and not grade.passed and grade.exit_code is None
    assert "[killed: the tests ran longer than 2 s]" in grade.output_tail
    assert "killed" in hang.error and hang.observed()["test_timeouts"]
    assert elapsed < 12, elapsed
    assert _sleepers() == []


async def test_a_test_that_eats_memory_is_killed_at_the_memory_limit(tmp_path: Path) -> None:
    folder = python_exercise(tmp_path, "greedy", (
        "import time\n\n"
        "def test_greedy():\n"
        "    blob = b'x' * (400 * 1024 * 1024)\n"
        "    time.sleep(30)\n"
        "    assert blob\n"
    ))
    exercise = load_exercise("python", folder)
    runner = PythonRunner(Toolchains.default())
    started = time.monotonic()
    grade = await runner.grade(exercise, folder, tmp_path / "scratch", Limits(memory_mb=150, test_timeout=20))
    assert grade.memory_exceeded and not grade.passed and not grade.timed_out
    assert "[killed: the tests used more than 150 MB of memory]" in grade.output
    assert time.monotonic() - started < 15


async def test_an_exercise_stops_at_its_wall_clock_limit_and_is_still_graded(tmp_path: Path) -> None:
    config = BenchConfig(tree=EXERCISES, exercises=["python/digit-sum"], work_dir=tmp_path, exercise_timeout=1.0)
    with ScriptedModelServer("ollama", lambda body, index: Reply("Thinking hard...", delay=5)) as server:
        started = time.monotonic()
        results = await Harness(config, settings_for(server), tmp_path / "results.json").run()
        elapsed = time.monotonic() - started
    (digit,) = results.exercises
    assert digit.status == "fail" and len(digit.attempts) == 1  # no second attempt once the time is up
    attempt = digit.attempts[0]
    assert attempt.outcome == "time_limit" and not attempt.grade.passed
    assert digit.error == "the exercise's wall-clock limit was reached"
    assert elapsed < 8, elapsed


async def test_a_language_without_its_toolchain_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the venv's own bin folder stays on PATH: python grades (by absolute path), go cannot.
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    script = ExerciseScript(EXERCISES)
    config = BenchConfig(tree=EXERCISES, languages=["python", "go"], work_dir=tmp_path, workers=2)
    with ScriptedModelServer("ollama", script) as server:
        results = await Harness(config, settings_for(server), tmp_path / "results.json").run()

    statuses = {e.key: e.status for e in results.exercises}
    assert statuses == {"python/digit-sum": "pass_2", "python/initials": "pass_2", "go/clamp": "unavailable",
                        "go/reverse-words": "unavailable"}
    clamp = results.get("go/clamp")
    assert clamp is not None and clamp.unavailable_reason == "go not found on PATH (run scripts/deps/toolchains.sh)"
    assert not clamp.attempts and set(script.requests) == {"python/digit-sum", "python/initials"}
    go = results.languages["go"]
    assert (go.total, go.graded, go.unavailable, go.fail, go.pass_rate_2) == (2, 0, 2, 0, 0.0)
    assert (results.overall.graded, results.overall.unavailable, results.overall.pass_rate_2) == (2, 2, 100.0)
