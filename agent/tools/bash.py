"""Bash: run a shell command in the workspace root, in the sandbox (agent/sandbox/).

The bash policy decides what runs without asking; the sandbox is what contains it. Where no sandbox
can start, every command needs the user's approval.

The output is cleaned for a model's eyes (ANSI escapes and progress-bar redraws removed, runs of
identical lines collapsed, long output cut to its head and tail) and always ends with the exit code,
so "no output" can never be mistaken for success.
"""

from __future__ import annotations

import asyncio
import re
from typing import ClassVar

from pydantic import BaseModel, Field

from agent.bash_policy import check
from agent.sandbox import containment
from agent.settings import Settings
from agent.tools.base import Tool, ToolContext, ToolResult, cap_output
from agent.tools.failures import failure
from agent.workspace import WorkspaceError

GUARD = "bash_refused"
MAX_TIMEOUT_S = 600
_DEFAULT_TIMEOUT_S = Settings.model_fields["bash_timeout"].default
MAX_LINES = 200
HEAD_LINES = 100
TAIL_LINES = 50
# A run shorter than this stays as it is: the marker would be no shorter than the lines it replaces.
MIN_REPEAT_RUN = 3

# CSI sequences (colours, cursor moves), OSC sequences (titles, links) and two-byte escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


class BashInput(BaseModel):
    command: str = Field(
        description="Shell command line, run in the workspace root with stdin closed; cd and variables do not "
        "carry over to the next call"
    )
    timeout: int | None = Field(
        None,
        ge=1,
        description="Seconds before the command and its children are killed (default: the bash_timeout setting, "
        f"{_DEFAULT_TIMEOUT_S:g} unless changed; at most {MAX_TIMEOUT_S}); raise it for installs and slow builds",
    )


def clean_output(text: str) -> str:
    """Drop ANSI escapes; of a line redrawn with '\\r' (progress bars) keep what ends up visible;
    collapse runs of identical lines."""
    text = _ANSI.sub("", text).replace("\r\n", "\n")
    return "\n".join(collapse_repeats([line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n")]))


def collapse_repeats(lines: list[str]) -> list[str]:
    """A run of N identical non-blank lines (a warning per test, a retry loop) becomes the line once and
    a marker: the model needs the line and the count, not N copies eating its context."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        j = i + 1
        while j < len(lines) and lines[j] == lines[i]:
            j += 1
        run = j - i
        if run >= MIN_REPEAT_RUN and lines[i].strip():
            out += [lines[i], f"[… repeated {run - 1} more times]"]
        else:
            out += lines[i:j]
        i = j
    return out


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
        "exit code. Each call starts fresh: no input, no state kept between calls. It runs contained, "
        "usually without network; commands outside the allowed set may be refused or need the user's "
        f"approval. Output shows stdout, then stderr under [stderr]; over {MAX_LINES} lines keeps the "
        f"first {HEAD_LINES} and last {TAIL_LINES}. It ends with [exit code N]: not 0 means the "
        "command failed."
    )
    Input: ClassVar[type[BaseModel]] = BashInput

    async def run(self, args: BashInput, ctx: ToolContext) -> ToolResult:
        settings = ctx.settings
        where = await asyncio.to_thread(containment, settings)  # a trial sandbox the first time
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
