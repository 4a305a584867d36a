"""`little-coder bench verify` as a user runs it: our exercise set (the CI sample of every language) is
wholly gradable; a broken reference is reported as failed with its cause and a missing toolchain as
unavailable with its name, never as a failure of the other."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.conftest import EXERCISES
from tests.conftest import ROOT


def verify(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent.bench.cli", "bench", "verify", *args], capture_output=True,
                          text=True, timeout=600, cwd=ROOT, env=env or dict(os.environ))


@pytest.mark.slow
def test_every_reference_of_the_sample_grades(tmp_path: Path, missing_toolchains: dict[str, str]) -> None:
    out = tmp_path / "verify.json"
    done = verify("--tree", str(EXERCISES), "--json", str(out), "--workers", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    exercises = {e["language"] + "/" + e["name"]: e for e in report["exercises"]}
    assert len(exercises) == report["overall"]["total"] >= 12
    for key, entry in exercises.items():
        expected = "unavailable" if key.split("/")[0] in missing_toolchains else "gradable"
        assert entry["outcome"] == expected, (key, entry["reason"])
    assert report["overall"]["failed"] == 0
    # Where it ran, with what: versions, the sandbox, and the compiler cache's hits on the C++ sample.
    env = report["environment"]
    assert set(env["toolchains"]) == {"python", "go", "rust", "javascript", "cpp", "java"}
    assert "sandbox" in env["sandbox"]
    if "cpp" not in missing_toolchains and shutil.which("ccache"):
        assert env["compiler_cache"]["hits"] + env["compiler_cache"]["misses"] > 0
        assert "compiler cache:" in done.stdout
    assert "Python " in done.stdout and "gradable" in done.stdout


def test_a_broken_reference_fails_with_its_cause_and_a_missing_toolchain_is_unavailable(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(EXERCISES / "python", tree / "python")
    shutil.copytree(EXERCISES / "go", tree / "go")
    example = tree / "python/exercises/practice/digit-sum/.meta/example.py"
    example.write_text(example.read_text() + "\nraise ImportError('the reference is broken on purpose')\n")
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no go on this PATH
    out = tmp_path / "verify.json"
    done = verify("--tree", str(tree), "--json", str(out), env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(out.read_text())
    outcomes = {e["language"] + "/" + e["name"]: (e["outcome"], e["reason"]) for e in report["exercises"]}
    assert outcomes["python/initials"] == ("gradable", "")
    outcome, reason = outcomes["python/digit-sum"]
    assert outcome == "failed" and "the reference is broken on purpose" in reason
    for key in ("go/clamp", "go/reverse-words"):
        outcome, reason = outcomes[key]
        assert outcome == "unavailable" and "go not found on PATH" in reason
    assert report["languages"]["go"] == {"total": 2, "gradable": 0, "unavailable": 2, "failed": 0}
    assert "Failed:\n  python/digit-sum [test]:" in done.stdout
    assert "Unavailable:\n  go/clamp: go not found on PATH" in done.stdout
    assert str(tmp_path) not in done.stdout.split("\nFailed:")[1].split("\nUnavailable:")[0]


def test_an_exercise_the_harness_cannot_copy_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(EXERCISES / "python", tree / "python")
    os.mkfifo(tree / "python/exercises/practice/initials/pipe")  # copytree refuses a named pipe
    out = tmp_path / "verify.json"
    done = verify("--tree", str(tree), "--json", str(out))
    assert done.returncode == 1 and "Traceback" not in done.stdout
    outcomes = {e["name"]: e for e in json.loads(out.read_text())["exercises"]}
    assert outcomes["digit-sum"]["outcome"] == "gradable"
    broken = outcomes["initials"]
    assert broken["outcome"] == "failed" and broken["failed_step"] == "harness"
    assert broken["reason"].startswith("harness error") and "pipe" in broken["reason"]
