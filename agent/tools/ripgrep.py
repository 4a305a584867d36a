"""ripgrep as a bounded child process, shared by Glob and Grep.

`rg` (installed by scripts/deps/base.sh, else found on PATH) walks a folder with the Workspace's
rules: hidden files are seen, the skipped folders (SKIP_DIRS) are left out, and .gitignore/.ignore
files apply even outside a git repository. Its output is streamed line by line into a callback and
it is killed at a deadline, when the caller has read enough, or on cancellation, so neither time nor
memory grows with what it could have printed, and the event loop never waits on it.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from agent.workspace import SKIP_DIRS

# One line longer than this is not read (a minified bundle, say): the caller is told it stopped.
LINE_LIMIT = 16 * 1024 * 1024


class Stop(Exception):
    """Raised by a line callback that has read enough: the child is killed, what was read stays."""


def ripgrep() -> str | None:
    """The ripgrep executable, or None when it is not installed."""
    return shutil.which("rg")


def walk_options() -> list[str]:
    """The options that make ripgrep walk a folder as the Workspace lists it."""
    argv = ["--no-config", "--hidden", "--no-require-git", "--no-messages", "--color=never"]
    for name in sorted(SKIP_DIRS):
        argv += ["--glob", f"!{name}/"]
    return argv


async def run_bounded(
    argv: list[str], cwd: Path, timeout: float, on_line: Callable[[bytes], None], stdin: bytes | None = None,
) -> tuple[int | None, str]:
    """Run `argv`, handing each line it prints to `on_line`, until it exits, `timeout` passes,
    `on_line` raises Stop, or a line is too long to read; it is killed then, and on cancellation.
    Returns (its exit status, None when it could not start; why it was cut short, or '')."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            limit=LINE_LIMIT,
        )
    except OSError:
        return None, ""
    assert proc.stdout is not None  # a pipe, by the call above
    feeding = asyncio.create_task(_feed(proc, stdin)) if stdin is not None else None
    cut = ""
    try:
        async with asyncio.timeout(timeout):
            while raw := await proc.stdout.readline():
                on_line(raw)
            # Let it exit on its own: killing reaps it through Popen.poll(), under the nose of asyncio's
            # child watcher, which then reports exit status 255 instead of the real one.
            await proc.wait()
    except Stop as stop:
        cut = str(stop)
    except TimeoutError:
        cut = f"the search took longer than {timeout:.0f} s; simplify the pattern or narrow the path"
    except ValueError:
        cut = "a matching line was too long to read"
    finally:
        if proc.returncode is None:  # cut short: its exit status no longer matters
            proc.kill()
        if feeding is not None:
            feeding.cancel()
        await proc.wait()
    return proc.returncode, cut


async def _feed(proc: asyncio.subprocess.Process, data: bytes) -> None:
    assert proc.stdin is not None  # a pipe, by the caller
    try:
        proc.stdin.write(data)
        await proc.stdin.drain()
        proc.stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the child ended (or was killed) before reading it all: its output says enough
