"""What running one shell command gave back: shared by the process runner, the sandbox and the workspaces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None  # None when killed by the timeout
    stdout: str
    stderr: str
    timed_out: bool = False
    duration_s: float = 0.0
    notes: tuple[str, ...] = ()  # what the workspace adds for the model (files the command changed)
