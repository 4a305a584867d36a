"""Ways for scenarios to run the agent: in this process (`Session` on a `DiskWorkspace`), as the CLI
(`python -m agent.cli run`, a subprocess), and what a readable failure message looks like.

Settings are tight on purpose (1 s stall, 1 s connect, a small output limit) so faults resolve in
well under a second each.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.backend import ModelMemory
from agent.events import Event, SessionFinished, ToolCallFinished, ToolCallStarted
from agent.session import Session
from agent.settings import Settings
from agent.workspace import DiskWorkspace
from tests.reliability.harness import Trial

REPO = Path(__file__).resolve().parents[2]
MODEL = "qwen3.5:9b"
STALL_S = 1.0
MAX_OUTPUT = 1024
# A message meant for a person: one paragraph, no traceback, not a wall of text.
MAX_MESSAGE_CHARS = 1200


def fast_settings(base_url: str, protocol: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "backend": protocol, "base_url": base_url, "model": MODEL, "stall_timeout": STALL_S,
        "connect_timeout": 1.0, "max_output_tokens": MAX_OUTPUT, "thinking_budget": 0, "max_turns": 8,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Run:
    """One in-process session: its final record and every event it yielded."""

    final: SessionFinished | None
    events: list[Event] = field(default_factory=list)

    @property
    def outcome(self) -> str | None:
        return self.final.outcome if self.final else None

    @property
    def message(self) -> str:
        return self.final.message if self.final else ""

    def calls(self) -> list[ToolCallStarted]:
        return [e for e in self.events if isinstance(e, ToolCallStarted)]

    def results(self) -> list[ToolCallFinished]:
        return [e for e in self.events if isinstance(e, ToolCallFinished)]


async def run_session(trial: Trial, task: str, settings: Settings, *, memory: ModelMemory | None = None,
                      confirm: Callable[[str], Awaitable[bool]] | None = None, root: Path | None = None) -> Run:
    """Run a session to its end in this process and count it on `trial`. Exceptions propagate (the
    harness counts them as crashes)."""
    session = Session(task, DiskWorkspace(root or trial.workspace), settings, memory=memory or ModelMemory(),
                      confirm=confirm)
    run = Run(final=None)
    async for event in session.run():
        run.events.append(event)
        if isinstance(event, SessionFinished):
            run.final = event
    run.final = run.final or session.result
    trial.session(run.outcome, run.message)
    return run


def readable(message: str) -> str | None:
    """Why `message` is not fit to show a user, or None when it is."""
    if not message.strip():
        return "empty"
    if "Traceback (most recent call last)" in message or "\n  File \"" in message:
        return "a traceback"
    if message.startswith("internal error") or "internal error:" in message:
        return "an internal error (a bug of ours, caught by the last-resort handler)"
    if len(message) > MAX_MESSAGE_CHARS:
        return f"{len(message)} characters long"
    return None


@dataclass
class CliRun:
    code: int | None  # None: it had to be killed
    stdout: str
    stderr: str

    def final(self) -> dict[str, Any] | None:
        """The SessionFinished record `--json` prints, if it printed one."""
        try:
            data = json.loads(self.stdout)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


async def run_cli(trial: Trial, args: list[str], *, settings: dict[str, str] | None = None,
                  timeout: float = 60.0) -> CliRun:
    """`little-coder <args>` as a subprocess in the workspace, HOME = trial.home; `settings` become
    LITTLE_CODER_* variables (the developer's own are dropped)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITTLE_CODER_")}
    # The real cache folder: the agent's own tiktoken cache is not a write by the model.
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    env.update(HOME=str(trial.home), PYTHONPATH=str(REPO), XDG_CACHE_HOME=cache)
    env.update({f"LITTLE_CODER_{name.upper()}": value for name, value in (settings or {}).items()})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agent.cli", *args, cwd=trial.workspace, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
        code: int | None = process.returncode
    except TimeoutError:
        process.kill()
        out, err = await process.communicate()
        code = None
    return CliRun(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
