"""Bash policy bypasses and processes that try to outlive the session
(tests/reliability/scenarios_bash.py), every scenario × seed."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from agent.bash_policy import check
from agent.process import run_command
from tests.reliability.lsp_editor import processes_running
from tests.reliability import scenarios_bash
from tests.reliability.harness import Scenario, assert_clean, pytest_params


@pytest.mark.parametrize(("scenario", "seed"), pytest_params(scenarios_bash.SCENARIOS))
async def test_bash_bypass(scenario: Scenario, seed: int) -> None:
    await assert_clean(scenario, seed)


# --- the policy and the process runner directly (the product fixes these scenarios needed) -------------

READS_OUTSIDE = [
    "cat ../outside/canary.txt", "cat /etc/passwd", "cat ~/.ssh/id_ed25519", "cat $HOME/.ssh/id_ed25519",
    "head -c 100 link/canary.txt", "cat canary_link.txt", "cat *.txt", "tail link/*", "cat < ../secret",
    "grep -R TOKEN .", "rg --follow TOKEN", "find -L . -name '*.key'", "sed -n 1p /etc/shadow", "cd link && ls",
    "echo x > link/new.txt", "sort -o ../x a.py",
]
STILL_ALLOWED = [
    "grep -rn '/api/v1' src", "grep -rn \"end$\" src", "cat src/*.py", "cat a.py b.py > /dev/null",
    "head -n 5 src/a.py", "find . -name '*.py' -not -path './.venv/*'", "git diff HEAD~1 -- src", "ls -la",
    "cat <<EOF\n/etc/passwd\nEOF", "wc -l < src/a.py", "diff src/a.py /dev/null",
]


@pytest.fixture
def linked_root(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.py").write_text("x = 1\n", encoding="utf-8")
    (root / "a.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "canary.txt").write_text("secret\n", encoding="utf-8")
    os.symlink(tmp_path / "outside", root / "link")
    os.symlink(tmp_path / "outside" / "canary.txt", root / "canary_link.txt")
    return root


@pytest.mark.parametrize("command", READS_OUTSIDE)
def test_reading_or_writing_outside_is_refused(command: str, linked_root: Path) -> None:
    decision = check(command, "allowlist", root=linked_root)
    assert not decision.allowed and "outside the workspace" in decision.reason
    assert check(command, "ask", root=linked_root).needs_confirmation


@pytest.mark.parametrize("command", STILL_ALLOWED)
def test_ordinary_reads_stay_allowed(command: str, linked_root: Path) -> None:
    assert check(command, "allowlist", root=linked_root).allowed, check(command, "allowlist", root=linked_root).reason


async def test_orphans_that_drop_the_tag_and_the_session_are_stopped(tmp_path: Path) -> None:
    marker = f"{7000 + os.getpid() % 1000}.{time.time_ns() % 10**6:06d}"
    daemon = ("python3 -c 'import subprocess; subprocess.Popen([\"sleep\", \"{m}\"], start_new_session=True, env={{}}, "
              "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)'")
    for command in (f"env -i setsid sleep {marker}1 &", daemon.format(m=f"{marker}2"),
                    f"env -i setsid -f sh -c 'sleep {marker}3 & exec sleep {marker}4'"):
        result = await run_command(command, tmp_path, timeout=20)
        assert result.exit_code == 0, result.stderr
    assert not processes_running(marker)


async def test_cancelling_while_the_shell_starts_does_not_hang(tmp_path: Path) -> None:
    """Cancelled before asyncio finished wiring the pipes, the run used to wait for pipes that its
    background children held open for ever."""
    marker = f"{8000 + os.getpid() % 1000}.{time.time_ns() % 10**6:06d}"
    loop = asyncio.get_running_loop()
    for attempt in range(40):
        task = asyncio.create_task(run_command(f"setsid sleep {marker} & sleep {marker}", tmp_path, timeout=30))
        # Cancel at a different moment of the start-up each time, by event-loop iterations.
        for _ in range(attempt % 8):
            await asyncio.sleep(0)
        if attempt >= 8:
            await asyncio.sleep((attempt - 8) * 0.0005)
        at = loop.time()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=3)
        assert done, f"the cancelled run hung (attempt {attempt}, at {at:.4f})"
        assert task.cancelled()
    assert not processes_running(marker)


async def test_concurrent_runs_each_get_their_own_exit_status(tmp_path: Path) -> None:
    """Runs ending while siblings end: a sibling's shell in the middle of exiting (its environment
    already reads empty, like an orphan's from `env -i`) must not be taken for an orphan of the run
    ending, which would reap its status from under asyncio (it then reads 255) or signal it."""
    slots = asyncio.Semaphore(8)

    async def one(i: int) -> int | None:
        async with slots:
            return (await run_command(f"exit {i % 50}", tmp_path, 30)).exit_code

    codes = await asyncio.gather(*(one(i) for i in range(300)))
    wrong = {i: code for i, code in enumerate(codes) if code != i % 50}
    assert not wrong, wrong
