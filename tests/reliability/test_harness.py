"""The harness itself: it must see what it claims to count, or every zero in the summary is hollow."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.reliability.harness import Scenario, Summary, Trial, TrialResult, run_trial


async def _run(body: Callable[[Trial], Awaitable[None]], tmp_path: Path, timeout: float = 60.0) -> TrialResult:
    return await run_trial(Scenario("self-test", body, timeout=timeout), 0, tmp_path)


async def test_a_clean_trial_counts_only_what_it_did(tmp_path: Path) -> None:
    async def body(trial: Trial) -> None:
        trial.fault(3)
        trial.session("done", "")
        trial.session("error", "the server failed")
        (trial.workspace / "inside.txt").write_text("fine", encoding="utf-8")
        trial.plant(trial.outside / "scenery.txt", "set up by the scenario")

    result = await _run(body, tmp_path)
    assert result.clean and result.faults == 3 and result.sessions == result.sessions_completed == 2
    assert not list(tmp_path.iterdir())  # a clean trial removes its folder


async def test_every_failure_is_counted(tmp_path: Path) -> None:
    async def body(trial: Trial) -> None:
        trial.session("error", "")  # no message: unclear
        trial.session(None, None)  # never ended
        trial.check(False, "a failed check")
        trial.check_no_secret([f"request: {trial.secret}"])
        trial.edit_lost("the user's line")
        asyncio.get_running_loop().create_task(asyncio.sleep(30), name="left-behind")
        subprocess.Popen(["sleep", "30"], start_new_session=True)  # a leak, on purpose
        (trial.outside / "written.txt").write_text("12345", encoding="utf-8")
        trial.canary.write_text("changed", encoding="utf-8")

    result = await _run(body, tmp_path)
    summary = Summary()
    summary.add(result)
    assert summary.failures() == {
        "sessions_unclear": 2, "failed_checks": 1, "secret_leaks": 1, "user_edits_lost": 1, "leaked_tasks": 1,
        "leaked_processes": 1, "bytes_written_outside": 5 + 7,
    }
    assert any("left-behind" in p for p in summary.problems)


async def test_crashes_and_hangs_are_counted(tmp_path: Path) -> None:
    async def crash(trial: Trial) -> None:
        raise RuntimeError("boom")

    async def hang(trial: Trial) -> None:
        await asyncio.sleep(30)

    crashed = await _run(crash, tmp_path)
    hung = await _run(hang, tmp_path, timeout=0.2)
    assert crashed.crashes == 1 and "RuntimeError: boom" in crashed.problems[0]
    assert hung.crashes == 1 and hung.problems[0].startswith("hung")
