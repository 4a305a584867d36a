"""Running a grading command under wall-clock, output and memory limits.

`agent.process.run_command` already enforces the wall clock and the output cap and stops every process
the command started. Memory is watched here: each command carries a marker in its environment, which
its children inherit, and the resident memory of all marked processes is summed a few times a second;
past the limit they are all killed. (The original harness had no limit and one Go test reached 27.7 GB.)
Without /proc (macOS) the memory limit is not enforced.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.process import run_command
from agent.run_result import RunResult
from agent.sandbox import Room, SandboxLimits, SandboxPolicy, run_in_room

MARK_VARIABLE = "LITTLE_CODER_BENCH_RUN"
# Graders get no network (dependencies were fetched before the agent started). Memory is watched here,
# resident and over the whole tree, so the sandbox's per-process data limit is lifted: it counts address
# space, and a test starting hundreds of threads (cpp/bank-account) reserves gigabytes of stacks it never
# touches.
GRADING_POLICY = SandboxPolicy(network="none", limits=SandboxLimits(memory_mb=1 << 22))
POLL_S = 0.25
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class LimitedRun:
    result: RunResult
    memory_exceeded: bool = False
    peak_rss_mb: float = 0.0


async def run_limited(
    command: str,
    cwd: Path,
    *,
    timeout: float,
    env: Mapping[str, str],
    max_output: int,
    memory_mb: int | None,
    room: Room | None = None,
) -> LimitedRun:
    """`run_command` plus a memory watchdog over the command's whole process tree. With a `room`, the
    command runs in that sandbox with no network, and `env` holds only the variables it adds."""
    mark = uuid.uuid4().hex
    child_env = {**env, MARK_VARIABLE: mark}
    task = asyncio.ensure_future(
        run_command(command, cwd, timeout, env=child_env, max_output=max_output) if room is None else
        run_in_room(room, command, timeout, GRADING_POLICY, cwd, env=child_env, max_output=max_output))
    watch = memory_mb is not None and os.path.isdir("/proc")
    limit = (memory_mb or 0) * 1024 * 1024
    exceeded = False
    peak = 0
    others: set[int] = set()  # pids already found unmarked: their environment is not read again
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=POLL_S)
            if task.done() or not watch or exceeded:
                continue
            usage = await asyncio.to_thread(_marked_rss, mark, others)
            total = sum(usage.values())
            peak = max(peak, total)
            if total > limit:
                exceeded = True
                for pid in usage:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
    except asyncio.CancelledError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise
    return LimitedRun(task.result(), exceeded, round(peak / (1024 * 1024), 1))


def _marked_rss(mark: str, others: set[int]) -> dict[int, int]:
    """Resident bytes of every live process whose environment carries `mark`; pids found without it
    are added to `others` and skipped from then on."""
    needle = f"{MARK_VARIABLE}={mark}".encode()
    found: dict[int, int] = {}
    others.add(os.getpid())
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in others:
            continue
        pid = int(name)
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                if needle not in handle.read().split(b"\0"):
                    others.add(pid)
                    continue
            with open(f"/proc/{pid}/statm", "rb") as handle:
                found[pid] = int(handle.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or not ours to read
    return found
