"""Running one dependency tool and naming its failure in a line."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from agent.process import run_command
from agent.run_result import RunResult

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_REASON_CHARS = 300


async def run_tool(argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float) -> RunResult:
    return await run_command(shlex.join(argv), cwd, timeout=timeout, env=env)


def failure_reason(result: RunResult, program: str) -> str:
    """What went wrong in a failed run, in a line: its first error line (cargo's `error:`, Maven's
    `[ERROR]`), with cargo's innermost `Caused by:` when there is one."""
    if result.timed_out:
        return f"{program} ran out of time"
    lines = [_ANSI.sub("", raw) for raw in (result.stderr + "\n" + result.stdout).splitlines()]
    errors = [line.replace("[ERROR]", "").strip().removeprefix("error:").strip() for line in lines
              if line.lstrip().startswith("error:") or "[ERROR]" in line]
    # Headers ("Some problems were encountered ...:") and Maven's help lines say nothing themselves.
    said = [e for e in errors if e and not e.endswith(":") and not e.startswith(("To see the full", "Re-run Maven",
                                                                                   "For more information", "[Help"))]
    if not said:
        return f"{program} exited with {result.exit_code}"
    reason = said[0]
    _, caused, cause = "\n".join(lines).rpartition("Caused by:")
    innermost = cause.strip().splitlines()[0].strip() if caused and cause.strip() else ""
    if innermost and innermost not in reason:
        reason += f": {innermost}"
    return reason[:_REASON_CHARS]
