"""Run one shell command so that nothing it starts outlives it.

The command runs under `/bin/sh -c` in a session of its own (its own process group and session
id) with stdin closed; stdout and stderr are read concurrently into capped buffers, so a command
that prints a gigabyte costs a bounded amount of memory. When the shell exits, times out, or the
awaiting task is cancelled, every process the command left behind is stopped (SIGTERM, a short
grace, then SIGKILL): members of its process group and session, and any process whose environment
carries this run's tag. The tag catches children that left the session (`setsid`, double forks
reparented to init), the way Jenkins finds a build's processes. A child that also dropped the tag
(`env -i`, or a program that clears its environment) and left the session would still get away:
so on Linux this process becomes a child subreaper, orphans of a command are re-parented to it
instead of to init, and an untagged child of ours in a session of its own, started during the
run, is counted as the run's. Without /proc (macOS) only the process group can be reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

from agent.run_result import RunResult

# Environment variable that marks every process started for one run.
TAG_VARIABLE = "LITTLE_CODER_PROCESS_TAG"
_PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
# Bytes kept per stream (half from the start, half from the end); the tools cut far lower for the
# model, so this only bounds memory.
DEFAULT_MAX_OUTPUT = 1_000_000
TERM_GRACE_S = 1.0
# How long to wait for the pipes to close once the processes are gone.
_DRAIN_S = 2.0


class _CappedBuffer:
    """Keeps the first and the last `limit // 2` bytes of a stream and counts what fell between."""

    def __init__(self, limit: int) -> None:
        self._head_limit = max(limit // 2, 0)
        self._tail_limit = max(limit - self._head_limit, 0)
        self._head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self._tail.append(chunk)
        self._tail_size += len(chunk)
        # Whole chunks are dropped while the rest still fills the tail; the final trim is in text().
        while self._tail and self._tail_size - len(self._tail[0]) >= self._tail_limit:
            self._tail_size -= len(self._tail[0])
            self.dropped += len(self._tail.popleft())

    def text(self) -> str:
        tail = b"".join(self._tail)
        excess = len(tail) - self._tail_limit
        dropped = self.dropped
        if excess > 0:
            tail = tail[excess:]
            dropped += excess
        head = bytes(self._head)
        if not dropped:
            return (head + tail).decode("utf-8", errors="replace")
        return (
            head.decode("utf-8", errors="replace")
            + f"\n[... {dropped} bytes of output cut ...]\n"
            + tail.decode("utf-8", errors="replace")
        )


class _ProcessTree:
    """Everything one run started: found by session/group id, by the run's environment tag, and as
    untagged orphans re-parented to this (subreaper) process — plus every descendant of those."""

    def __init__(self, leader: int, tag: str) -> None:
        self.leader = leader  # pid of the shell = its process group id = its session id
        self._needle = f"{TAG_VARIABLE}={tag}".encode()
        self._has_proc = os.path.isdir("/proc")
        leader_stat = proc_stat(leader) if self._has_proc else None
        self._since = leader_stat[4] if leader_stat else 0  # the shell's start, in clock ticks since boot
        self.seen: set[int] = set()  # every process of this run found so far, the shell aside

    def members(self) -> set[int]:
        """Live (non-zombie) processes of this run; without /proc, {-leader} while the group lives."""
        if not self._has_proc:
            try:
                os.killpg(self.leader, 0)
            except (ProcessLookupError, PermissionError):
                return set()
            return {-self.leader}
        own = os.getpid()
        own_session = os.getsid(0)
        live: dict[int, tuple[str, int, int, int, int]] = {}
        for name in os.listdir("/proc"):
            pid = int(name) if name.isdigit() else own
            if pid == own or (fields := proc_stat(pid)) is None:
                continue
            state, parent, pgrp, session, _ = fields
            if state != "Z":
                live[pid] = fields
            elif parent == own and pid != self.leader and (self.leader in (pgrp, session) or pid in self.seen):
                _collect(pid)  # an orphan of this run that ended after it was re-parented to us
        found: set[int] = set()
        for pid, (_, parent, pgrp, session, started) in live.items():
            if self.leader in (pgrp, session) or self._tagged(pid):
                found.add(pid)
            elif (parent == own and session != own_session and started >= self._since and _running_program(pid)
                  and not self._any_tag(pid) and not _unexecuted_fork(pid)):
                # A child of ours we never started (every shell we start carries a tag), in a session
                # of its own: an orphan of this run, re-parented to us after it dropped the tag. Not a
                # sibling run's shell caught between fork and exec: it has our environment, no tag yet.
                # Nor one in the middle of exiting: its environment already reads empty, like an
                # orphan's from `env -i`, and it is about to be a zombie asyncio will reap.
                found.add(pid)
        # Their descendants too, whatever session or environment they have.
        grew = True
        while grew:
            more = {pid for pid, fields in live.items() if fields[1] in found and pid not in found}
            found |= more
            grew = bool(more)
        # Known by pid: once re-parented to us and ended, they are ours to reap (the shell is asyncio's).
        self.seen |= found - {self.leader}
        return found

    def _tagged(self, pid: int) -> bool:
        return self._needle in (_environ(pid) or ())

    @staticmethod
    def _any_tag(pid: int) -> bool:
        """Whether `pid` may belong to some run: it carries a tag, or its environment cannot be read. A
        sibling run's sandbox launcher is unreadable once it has entered its user namespace (it is no
        longer dumpable, and a container gives us no CAP_SYS_PTRACE): taking it for an orphan of this
        run would signal it, or reap its exit status from under asyncio (a returncode of 255)."""
        entries = _environ(pid)
        if entries is None:
            return True
        prefix = f"{TAG_VARIABLE}=".encode()
        return any(entry.startswith(prefix) for entry in entries)

    @staticmethod
    def signal(pids: set[int], sig: signal.Signals) -> None:
        # Member by member: a group id can be reused once its group is empty, a live pid cannot.
        # Without /proc the set holds -leader, and a negative pid signals the whole group.
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    async def stop(self, grace: float = TERM_GRACE_S) -> None:
        """SIGTERM, wait up to `grace` for them to go, then SIGKILL until none is left. The scan that
        finds none left also reaps those that ended as our children."""
        pids = self.members()
        if not pids:
            return
        self.signal(pids, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            pids = self.members()
        # A few rounds: a process may fork between the scan and the signal.
        for _ in range(20):
            if not pids:
                return
            self.signal(pids, signal.SIGKILL)
            await asyncio.sleep(0.01)
            pids = self.members()

    def kill_now(self) -> None:
        """SIGKILL without waiting: the last resort when a cleanup is itself interrupted."""
        self.signal(self.members(), signal.SIGKILL)


def proc_stat(pid: int) -> tuple[str, int, int, int, int] | None:
    """(state, ppid, pgrp, session, start time in ticks) from /proc/<pid>/stat, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after its last ')'.
    rest = raw[raw.rfind(")") + 2 :].split()
    try:
        return rest[0], int(rest[1]), int(rest[2]), int(rest[3]), int(rest[19])
    except (IndexError, ValueError):
        return None


def _collect(pid: int) -> None:
    """Reap a child that has ended (a zombie re-parented to us)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _running_program(pid: int) -> bool:
    """Whether `pid` still has its program's memory: once a process starts exiting (or for a kernel
    thread) its command line reads empty."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return bool(handle.read(1))
    except OSError:
        return False


def _unexecuted_fork(pid: int) -> bool:
    """Whether `pid` is still a copy of this process (forked, not yet exec'd): same program and arguments."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as theirs, open("/proc/self/cmdline", "rb") as ours:
            return theirs.read() == ours.read()
    except OSError:
        return False


def _environ(pid: int) -> list[bytes] | None:
    """The process's environment entries; None when it is gone or not ours to read."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return handle.read().split(b"\0")
    except OSError:
        return None


@functools.cache
def _become_subreaper() -> bool:
    """Make orphans of our commands ours instead of init's (Linux); True if it worked. Done once:
    it is a property of this process, like its signal handlers."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


class _Collector(asyncio.SubprocessProtocol):
    """Feeds both pipes into capped buffers and reports the shell's exit on its own: asyncio's
    `Process.wait()` also waits for the pipes, which a background child may hold open for ever."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_output: int) -> None:
        self.buffers = {1: _CappedBuffer(max_output), 2: _CappedBuffer(max_output)}
        self.exited: asyncio.Future[None] = loop.create_future()
        self.pipes_closed: asyncio.Future[None] = loop.create_future()
        self._open = {1, 2}

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        self.buffers[fd].add(data if isinstance(data, bytes) else data.encode())

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self._open.discard(fd)
        if not self._open and not self.pipes_closed.done():
            self.pipes_closed.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


async def _settle(future: asyncio.Future[None], timeout: float) -> bool:
    """Wait up to `timeout` for `future` without cancelling it; True if it completed."""
    try:
        await asyncio.wait_for(asyncio.shield(future), timeout)
    except TimeoutError:
        return False
    return True


def _exit_code(returncode: int | None) -> int | None:
    if returncode is None:
        return None
    # asyncio reports death by signal N as -N; shells report 128 + N, which is what users know.
    return 128 - returncode if returncode < 0 else returncode


async def run_command(
    command: str,
    cwd: Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
    max_output: int = DEFAULT_MAX_OUTPUT,
    argv: Sequence[str] | None = None,
) -> RunResult:
    """Run `command` with `/bin/sh -c` in `cwd`. `env` is the whole environment (default: ours).
    `argv`, when given, is what actually starts (agent/sandbox's launcher, which runs `command`).

    Returns the exit code (None when the timeout killed it), both streams decoded as UTF-8 with
    replacement, each capped to `max_output` bytes (head and tail kept). Processes left running
    in the background are stopped when the shell exits; cancellation stops them all, then
    re-raises.
    """
    _become_subreaper()
    tag = uuid.uuid4().hex
    child_env = dict(os.environ if env is None else env)
    child_env[TAG_VARIABLE] = tag
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    spawn = asyncio.ensure_future(loop.subprocess_exec(
        lambda: _Collector(loop, max_output),
        *(argv or ("/bin/sh", "-c", command)),
        cwd=cwd,
        env=child_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ))
    try:
        # Shielded: cancelled while it wires the pipes, asyncio waits for them to close, which the
        # command's background children may never do. Let it finish, then stop the tree below.
        transport, collector = await asyncio.shield(spawn)
        cancelled = False
    except asyncio.CancelledError:
        transport, collector = await spawn
        cancelled = True
    tree = _ProcessTree(transport.get_pid(), tag)
    try:
        if cancelled:
            raise asyncio.CancelledError
        timed_out = not await _settle(collector.exited, timeout)
        await tree.stop()  # after a normal exit this stops only what was left in the background
        await _settle(collector.exited, _DRAIN_S)
        # The pipes close once the last holder is gone; one that escaped every net is cut off below.
        await _settle(collector.pipes_closed, _DRAIN_S)
    except asyncio.CancelledError:
        try:
            await tree.stop()
        finally:
            tree.kill_now()
            transport.close()
        raise
    returncode = transport.get_returncode()
    transport.close()
    return RunResult(
        exit_code=None if timed_out else _exit_code(returncode),
        stdout=collector.buffers[1].text(),
        stderr=collector.buffers[2].text(),
        timed_out=timed_out,
        duration_s=time.monotonic() - started,
    )
