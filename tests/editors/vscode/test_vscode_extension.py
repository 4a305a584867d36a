"""The VS Code extension's own checks, run from pytest so `make test` covers them: its unit tests
(node:test through tsx: arguments, status text, server command resolution, settings, messages) and a
strict TypeScript type check of every source file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

EXTENSION = Path(__file__).resolve().parents[3] / "clients" / "vscode"


@pytest.fixture(scope="module")
def npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm not found: install Node.js 20, then run scripts/deps/vscode.sh")
    for package in ("tsx", "typescript", "vscode-languageclient"):
        if not (EXTENSION / "node_modules" / package).is_dir():
            pytest.fail(f"{package} missing from {EXTENSION}/node_modules: run scripts/deps/vscode.sh")
    return npm


def run(npm: str, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([npm, "run", "--silent", script], cwd=EXTENSION, capture_output=True, text=True,
                          timeout=120)


def test_unit_tests_pass(npm: str) -> None:
    result = run(npm, "test")
    assert result.returncode == 0, f"npm test failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    # node:test's TAP summary: make sure the tests really ran.
    summary = dict(line.split(" ", 2)[1:] for line in result.stdout.splitlines() if line.startswith("# ")
                   and len(line.split(" ")) == 3)
    assert int(summary.get("tests", "0")) >= 40 and summary.get("fail") == "0", result.stdout[-2000:]


def test_typescript_type_checks(npm: str) -> None:
    result = run(npm, "typecheck")
    assert result.returncode == 0, f"tsc found errors:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
