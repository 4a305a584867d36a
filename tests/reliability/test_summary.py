"""`bench/reliability.py --quick` end to end: every scenario of tests/reliability once, as a separate
process, and the JSON summary it prints has zeros wherever zeros are required."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.harness import FAILURE_FIELDS, discover

ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = ROOT / "test-artifacts" / "reliability" / "summary.json"


@pytest.mark.slow
def test_quick_run_has_no_failures() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "reliability.py"), "--quick", "--out", str(ARTIFACT)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.stdout.strip(), f"no summary printed; stderr:\n{done.stderr[-4000:]}"
    summary = json.loads(done.stdout)
    failures = {name: summary[name] for name in FAILURE_FIELDS if summary[name]}
    assert not failures, f"{failures}\n" + "\n".join(summary["problems"])
    assert done.returncode == 0, done.stderr[-4000:]
    assert summary["scenarios_run"] == len(discover())
    assert summary["faults_injected"] > summary["scenarios_run"]
    assert summary["sessions"] > 0 and summary["sessions_completed"] == summary["sessions"]
