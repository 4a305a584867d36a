"""Bash: run a shell command in the workspace root, in the sandbox (agent/sandbox/).

The bash policy decides what runs without asking; the sandbox is what contains it. Where no sandbox
can start, every command needs the user's approval.

The output is cleaned for a model's eyes (ANSI escapes and progress-bar redraws removed, long
output cut to its head and tail) and always ends with the exit code, so "no output" can never be
mistaken for success.
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import BaseModel, Field

from agent.bash_policy import check
from agent.sandbox import containment
from agent.tools.base import Tool, ToolContext, ToolResult, cap_output
from agent.tools.failures import failure
from agent.workspace import WorkspaceError

GUARD = "bash_refused"
MAX_TIMEOUT_S = 600
MAX_LINES = 200
HEAD_LINES = 100
TAIL_LINES = 50

# CSI sequences (colours, cursor moves), OSC sequences (titles, links) and two-byte escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


class BashInput(BaseModel):
    command: str = Field(description="Shell command, run in the workspace root with no input")
    timeout: int | None = Field(
        None,
        ge=1,
        description=f"Seconds before the command is killed (default from settings, at most {MAX_TIMEOUT_S})",
    )


def clean_output(text: str) -> str:
    """Drop ANSI escapes; of a line redrawn with '\\r' (progress bars) keep what ends up visible."""
    text = _ANSI.sub("", text).replace("\r\n", "\n")
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))


def cut_lines(text: str) -> str:
    lines = text.split("\n")
    if len(lines) <= MAX_LINES:
        return text
    cut = len(lines) - HEAD_LINES - TAIL_LINES
    return "\n".join([*lines[:HEAD_LINES], f"[... {cut} lines cut ...]", *lines[-TAIL_LINES:]])


def _short(command: str) -> str:
    first = command.strip().split("\n", 1)[0]
    return first if len(first) <= 60 else first[:57] + "..."


class Bash(Tool):
    name = "Bash"
    description = (
        "Run a shell command in the workspace root (for example the tests) and get its output and "
        "exit code. Each call starts fresh: no input, no state kept between calls."
    )
    Input: ClassVar[type[BaseModel]] = BashInput

    async def run(self, args: BashInput, ctx: ToolContext) -> ToolResult:
        settings = ctx.settings
        where = containment(settings)
        if where.refusal:
            return self._refuse(args.command, where.refusal)
        decision = check(args.command, settings.bash, settings.bash_allow, root=ctx.workspace.root)
        if not decision.allowed and not decision.needs_confirmation:
            return self._refuse(args.command, f"the bash policy refuses it: {decision.reason}")
        # The allow-list only says what runs without asking; the sandbox is what contains it. With
        # no sandbox, nothing runs without the user's yes.
        why_ask = where.consent or (None if decision.allowed else decision.reason)
        if why_ask is not None:
            if ctx.confirm is None:
                return self._refuse(
                    args.command, f"it needs the user's approval ({why_ask}) and nobody can be asked here"
                )
            if not await ctx.confirm(args.command):
                return self._refuse(args.command, "the user declined to run it")

        timeout = min(float(args.timeout) if args.timeout else settings.bash_timeout, MAX_TIMEOUT_S)
        try:
            result = await ctx.workspace.run(args.command, timeout, where.policy)
        except WorkspaceError as exc:
            return failure(exc)
        except OSError as exc:
            return ToolResult(
                content=f"Error: could not start the command: {exc}", is_error=True, summary="Bash failed"
            )

        text = clean_output(result.stdout).rstrip("\n")
        errors = clean_output(result.stderr).rstrip("\n")
        if errors:
            text = f"{text}\n[stderr]\n{errors}" if text else f"[stderr]\n{errors}"
        body = cap_output(cut_lines(text or "(no output)"))
        if result.timed_out:
            footer = f"[timed out after {timeout:g}s — process group killed]"
            outcome = "timed out"
        else:
            footer = f"[exit code {result.exit_code}]"
            outcome = f"exit {result.exit_code}"
        for note in result.notes:
            footer += f"\n[{note}]"
        return ToolResult(
            content=f"{body}\n{footer}",
            is_error=result.timed_out or result.exit_code != 0,
            summary=f"Bash `{_short(args.command)}` → {outcome}",
        )

    @staticmethod
    def _refuse(command: str, why: str) -> ToolResult:
        return ToolResult(
            content=f"Error: command not run: {why}.",
            is_error=True,
            summary=f"Bash `{_short(command)}` refused",
            guard=GUARD,
        )
