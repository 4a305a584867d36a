"""The two named benchmark protocols, each one pydantic model: what the harness sends and which settings
the sessions run under.

`paper` reproduces the original harness (docs/SCAFFOLD.md §9): the first prompt names only the exercise,
its folder and the stub; attempt 2 starts fresh, with no attempt-1 conversation, and shows the first
2,000 characters of the failing output; no "finish now" warning, no early `stuck` stop, every command
allowed (still inside the sandbox), knowledge entries scored on the task text alone.

`improved` is this scaffold's own protocol. Its changes relative to `paper` are listed in `changes`
(and in the README's Benchmark section); a results file records which protocol made it, and
`bench report` warns when two runs being compared differ.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ProtocolName = Literal["paper", "improved"]
DEFAULT_PROTOCOL: ProtocolName = "improved"


class Protocol(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: ProtocolName
    first_prompt: Literal["bare", "detailed"]  # bare: exercise, folder, stub path; detailed: spec, files, command
    retry_continues: bool  # attempt 2 continues attempt 1's conversation (False: a fresh session)
    retry_output: Literal["head", "tail"]  # which end of the failing test output attempt 2 sees
    retry_chars: int = Field(ge=200)
    settings: dict[str, Any]  # Settings fields every session of the run gets
    changes: tuple[str, ...] = ()  # relative to `paper`, one line each


PAPER = Protocol(
    name="paper",
    first_prompt="bare",
    retry_continues=False,
    retry_output="head",
    retry_chars=2000,
    settings={"finish_warning_turns": 0, "stop_when_stuck": False, "bash": "always",
              "knowledge_from_instructions": False},
)

IMPROVED = Protocol(
    name="improved",
    first_prompt="detailed",
    retry_continues=True,
    retry_output="tail",
    retry_chars=2500,
    settings={},  # the user's settings as they are (defaults: warning 4 turns before the cap, stuck stop,
    # the bash allow-list)
    changes=(
        "first prompt names the specification files, the files to change, the test files (not to be "
        "changed) and the test command",
        "attempt 2 continues attempt 1's conversation instead of starting fresh",
        "attempt 2 shows the last 2,500 characters of the test output (failures and summary), not the first "
        "2,000 (often only build progress)",
        "a 'finish now' warning 4 turns before the cap (Settings.finish_warning_turns)",
        "a session whose same failing call repeats (the loop detector) ends early as `stuck` "
        "(Settings.stop_when_stuck)",
        "commands outside the allow-list are refused (Settings.bash = allowlist) instead of all allowed",
        "knowledge entries are scored on the task plus the first 4,000 characters of the instructions "
        "(Settings.knowledge_from_instructions)",
    ),
)

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (PAPER, IMPROVED)}


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}: one of {', '.join(PROTOCOLS)}") from None
