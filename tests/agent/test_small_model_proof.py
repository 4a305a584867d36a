"""The paper's mechanisms, all in one scripted "small model" session that still gets the task done.

The script behaves like a struggling 9B model: it overthinks (thinking budget aborts and retries without
thinking), tries to overwrite the stub with Write (guard → it recovers with Edit), writes its Edit as a
fenced JSON block with a trailing comma (repaired), invents a tool (corrected), re-reads a file it just
read (corrected) — and the exercise's tests pass at the end. The final event's counters show each.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.events import (
    QualityCorrection,
    SessionFinished,
    ThinkingBudgetHit,
    ToolCallRepaired,
    WriteGuardFired,
)
from agent.session import Session
from agent.workspace import DiskWorkspace
from tests.conftest import settings_for
from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Call, Reply

IMPL = "    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)"
OVERTHINKING = "Hmm, maybe the rule is different for centuries, let me reconsider every case again. " * 60

FENCED_EDIT_WITH_TRAILING_COMMA = (
    "The file exists, so I'll edit it instead.\n"
    "```json\n"
    '{"name": "Edit", "arguments": {"file_path": "leap.py", '
    '"old_string": "    raise NotImplementedError", '
    f'"new_string": "{IMPL}",}}}}\n'
    "```\n"
)


def script() -> list[Reply]:
    return [
        Reply(reasoning=OVERTHINKING),  # turn 1: passes the 64-token budget → aborted
        Reply(calls=[Call("Read", {"file_path": "leap.py"})]),  # turn 1 retry, thinking off
        Reply(calls=[Call("Write", {"file_path": "leap.py",
                                    "content": f"def is_leap(year):\n{IMPL}\n"})]),  # turn 2: guard fires
        Reply(FENCED_EDIT_WITH_TRAILING_COMMA),  # turn 3: repaired text call
        Reply(calls=[Call("run_tests", {})]),  # turn 4: invented tool → corrected
        Reply(calls=[Call("Read", {"file_path": "leap.py"})]),  # turn 5
        Reply(calls=[Call("Read", {"file_path": "leap.py"})]),  # turn 6: same call again → corrected
        Reply(calls=[Call("Bash", {"command": "python -m pytest -q"})]),  # turn 7
        Reply("is_leap is implemented and the tests pass."),  # turn 8
    ]


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
async def test_struggling_model_still_finishes(protocol: str, leap_workspace: Path) -> None:
    with ScriptedModelServer(protocol, script(), chunk_tokens=4) as server:
        settings = settings_for(server, thinking_budget=64)
        events = [e async for e in Session("Implement is_leap in leap.py.", DiskWorkspace(leap_workspace),
                                           settings).run()]
        bodies = server.requests

    final = events[-1]
    assert isinstance(final, SessionFinished)
    assert final.outcome == "done", final.message
    c = final.counters
    assert c.thinking_budget_fires == 1
    assert c.write_guard_fires == 1
    assert c.repairs == 1
    assert c.corrections == 2
    assert c.corrections_by_reason == {"unknown_tool": 1, "repeated_call": 1}
    assert final.turns == 8

    hit = next(e for e in events if isinstance(e, ThinkingBudgetHit))
    assert 64 < hit.tokens <= 64 + 16
    assert [e.path for e in events if isinstance(e, WriteGuardFired)] == ["leap.py"]
    repaired = next(e for e in events if isinstance(e, ToolCallRepaired))
    assert repaired.name == "Edit" and "trailing_comma" in repaired.fixes
    assert [e.reason for e in events if isinstance(e, QualityCorrection)] == ["unknown_tool", "repeated_call"]

    # The retry went out with thinking off and the kept trace; the next turn has thinking on again.
    if protocol == "ollama":
        assert bodies[0]["think"] is True and bodies[1]["think"] is False and bodies[2]["think"] is True
    else:
        assert bodies[1]["chat_template_kwargs"] == {"enable_thinking": False}
        assert "chat_template_kwargs" not in bodies[2]
    retry_messages = bodies[1]["messages"]
    assert "let me reconsider" in retry_messages[-2]["content"]
    # ... and the retry's extra messages never entered the history.
    assert not any("let me reconsider" in str(m.get("content")) for m in bodies[2]["messages"])

    # The correction for the invented tool named the real tools.
    corrected = [m for m in bodies[5]["messages"] if m["role"] == "tool"][-1]["content"]
    assert "run_tests" in corrected and "Bash" in corrected

    # The exercise really passes.
    run = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=leap_workspace, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout
