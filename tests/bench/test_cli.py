"""`little-coder bench` and `little-coder bench report` as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agent.bench.results import RunResults
from tests.bench.conftest import EXERCISES
from tests.bench.script import ExerciseScript
from tests.conftest import ROOT
from tests.fakes.model_server import ScriptedModelServer


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent.bench.cli", "bench", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, env=dict(os.environ))


def test_run_resume_force_and_report(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    with ScriptedModelServer("ollama", ExerciseScript(EXERCISES)) as server:
        common = ["--tree", str(EXERCISES), "--languages", "python", "--exercises", "digit-sum", "--out", str(out),
                  "--work-dir", str(tmp_path), "--backend", "ollama", "--base-url", server.base_url]
        first = bench(*common)
        assert first.returncode == 0, first.stderr
        assert "Pass rates" in first.stdout and "Python" in first.stdout
        assert "[bench] 1/1 | passed 1/1 (100%)" in first.stderr and "python/digit-sum pass_2" in first.stderr
        assert RunResults.load(out).exercises[0].status == "pass_2"
        assert (tmp_path / "run-logs" / "python" / "digit-sum.jsonl").is_file()
        calls = len(server.requests)

        again = bench(*common)
        assert again.returncode == 1 and "already exists: pass --resume" in again.stderr

        resumed = bench(*common, "--resume")
        assert resumed.returncode == 0, resumed.stderr
        assert len(server.requests) == calls  # nothing left to run

        forced = bench(*common, "--force", "--turns-2", "0")
        assert forced.returncode == 0, forced.stderr
        assert len(server.requests) == calls + 3
        saved = json.loads(out.read_text())
        assert saved["exercises"][0]["status"] == "fail" and saved["config"]["turns_2"] == 0
        assert saved["protocol"] == "improved"  # the default

        other_protocol = bench(*common, "--resume", "--protocol", "paper")
        assert other_protocol.returncode == 1 and "holds a run of protocol 'improved'" in other_protocol.stderr

    other = tmp_path / "other.json"
    other.write_text(json.dumps({**json.loads(out.read_text()), "model": "other"}))
    chart = tmp_path / "chart.png"
    both = bench("report", str(out), str(other), "--format", "markdown", "--labels", "first,second",
                 "--png", str(chart))
    assert both.returncode == 0, both.stderr
    assert "## first: qwen3.5:9b" in both.stdout and "## second: other" in both.stdout
    assert "## first vs second" in both.stdout
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert "WARNING" not in both.stdout + both.stderr
    assert both.stdout.endswith("\n") and not both.stdout.endswith("\n\n")  # a report ends its last line

    paper = tmp_path / "paper.json"
    paper.write_text(json.dumps({**json.loads(out.read_text()), "protocol": "paper"}))
    mixed = bench("report", str(out), str(paper))
    assert mixed.returncode == 0, mixed.stderr
    warning = "WARNING: the runs differ in protocol: run improved, paper paper"
    assert f"!!! {warning}" in mixed.stdout and warning in mixed.stderr


def test_usage_and_server_errors() -> None:
    no_tree = bench("--languages", "python")
    assert no_tree.returncode == 2 and "--tree is required" in no_tree.stderr
    for args in (("--tree", "/nonexistent/tree"), ("verify", "--tree", "/nonexistent/tree")):
        wrong_tree = bench(*args)
        assert wrong_tree.returncode == 2 and "--tree /nonexistent/tree is not a directory" in wrong_tree.stderr
    bad_language = bench("--tree", str(EXERCISES), "--languages", "cobol")
    assert bad_language.returncode == 2 and "unknown language(s) cobol" in bad_language.stderr
    down = bench("--tree", str(EXERCISES), "--out", "/nonexistent/x.json", "--backend", "ollama",
                 "--base-url", "http://127.0.0.1:9")
    assert down.returncode == 1 and "http://127.0.0.1:9" in down.stderr and "Traceback" not in down.stderr
    empty = bench("--tree", str(EXERCISES / "python"), "--languages", "go")
    assert empty.returncode == 1 and "no exercise found in" in empty.stderr
    assert "/<go>/exercises/practice/" in empty.stderr
    missing = bench("report", "/nonexistent/results.json")
    assert missing.returncode == 1 and "cannot read /nonexistent/results.json" in missing.stderr
