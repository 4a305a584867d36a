"""Session wiring that no other test would miss: each test here fails when its one line in
agent/session.py is removed (checked by hand by disabling each; see the issue's mutation list).

- native-argument repair: broken native JSON arguments are repaired before the tool runs;
- the call text is stripped from a reply whose calls were written as text;
- a successful Edit clears the repeat window, so "tests → fix → same tests" is progress, not a loop;
- the discovery hint names the project's instruction files until they are read;
- knowledge is scored on the task plus the start of the instructions, not the task line alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.events import QualityCorrection, SessionFinished, ToolCallFinished, ToolCallRepaired
from agent.session import Session
from agent.workspace import DiskWorkspace
from tests.conftest import settings_for
from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Call, Reply

PROTOCOLS = ["ollama", "openai"]
LEAP_BODY = "    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)"


async def run(session: Session) -> list[Any]:
    return [e async for e in session.run()]


def _messages(request: dict[str, Any]) -> str:
    return json.dumps(request["messages"], ensure_ascii=False)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_broken_native_arguments_are_repaired_before_the_tool_runs(protocol: str, leap_workspace: Path) -> None:
    # A trailing comma and single quotes: not JSON, yet plainly a Read of leap.py.
    broken = "{'file_path': 'leap.py',}"
    with ScriptedModelServer(protocol, [Reply(calls=[Call("Read", broken)]), Reply("Read it.")]) as server:
        events = await run(Session("read leap.py", DiskWorkspace(leap_workspace), settings_for(server)))
        second = server.requests[1]
    repaired = [e for e in events if isinstance(e, ToolCallRepaired)]
    assert [e.source for e in repaired] == ["native_arguments"]
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [e.ok for e in finished] == [True]
    assert "NotImplementedError" in _messages(second)  # the file's text came back: the call ran as meant


async def test_call_text_is_stripped_from_the_reply(leap_workspace: Path) -> None:
    fenced = 'Let me look.\n```tool\n{"name": "Read", "arguments": {"file_path": "leap.py"}}\n```'
    with ScriptedModelServer("openai", [Reply(fenced), Reply("It raises.")]) as server:
        events = await run(Session("read leap.py", DiskWorkspace(leap_workspace), settings_for(server)))
        second = server.requests[1]
    assert events[-1].outcome == "done"
    (assistant,) = [m for m in second["messages"] if m["role"] == "assistant"]
    assert assistant["tool_calls"] and "```" not in (assistant.get("content") or "")
    assert "Let me look." in (assistant.get("content") or "")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_tests_then_a_fix_then_the_same_tests_is_not_a_loop(protocol: str, leap_workspace: Path) -> None:
    tests = Call("Bash", {"command": "python -m pytest -q"})
    script = [
        Reply(calls=[tests]),
        Reply(calls=[Call("Edit", {"file_path": "leap.py", "old_string": "    raise NotImplementedError",
                                   "new_string": LEAP_BODY})]),
        Reply(calls=[tests]),
        Reply("All tests pass."),
    ]
    with ScriptedModelServer(protocol, script) as server:
        events = await run(Session("make the tests pass", DiskWorkspace(leap_workspace), settings_for(server)))
    assert not [e for e in events if isinstance(e, QualityCorrection)]
    final = events[-1]
    assert isinstance(final, SessionFinished) and final.outcome == "done"
    assert final.tool_counts == {"Bash": 2, "Edit": 1}


async def test_the_discovery_hint_names_the_instructions_until_they_are_read(leap_workspace: Path) -> None:
    script = [Reply(calls=[Call("Glob", {"pattern": "*.py"})]),
              Reply(calls=[Call("Read", {"file_path": ".docs/instructions.md"})]),
              Reply("Done.")]
    with ScriptedModelServer("ollama", script) as server:
        await run(Session("implement leap", DiskWorkspace(leap_workspace), settings_for(server)))
        first, second, third = server.requests
    assert ".docs/instructions.md" in first["messages"][-1]["content"]
    assert "Not read yet: .docs/instructions.md" in second["messages"][-1]["content"]
    assert "Not read yet" not in third["messages"][-1]["content"]


async def test_knowledge_is_scored_on_the_instructions_too(tmp_path: Path) -> None:
    # The task line names no technique; the spec does ("binary search", "sorted"), so the entry on
    # searching sorted data must be in the first request's guidance.
    root = tmp_path / "find"
    (root / ".docs").mkdir(parents=True)
    (root / ".docs" / "instructions.md").write_text(
        "# Instructions\n\nImplement a binary search: find the index of a value in a sorted array, "
        "halving the search interval each step.\n")
    (root / "find.py").write_text("def find(values, target):\n    raise NotImplementedError\n")
    with ScriptedModelServer("ollama", [Reply("Done.")]) as server:
        await run(Session("Implement the exercise.", DiskWorkspace(root), settings_for(server)))
        (first,) = server.requests
    guidance = first["messages"][-1]["content"]
    assert "binary search" in guidance.lower()
