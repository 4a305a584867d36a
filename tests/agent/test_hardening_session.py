"""Hostile tool calls through a whole session against the scripted model server (real HTTP): a path
too long for the system and arguments nested thousands of levels deep come back to the model as
corrections, and the session goes on to finish its task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.events import Event, QualityCorrection, SessionFinished, ToolCallFinished
from agent.session import TOO_DEEP, Session
from agent.workspace import DiskWorkspace
from tests.conftest import settings_for
from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Call, Reply

PROTOCOLS = ["ollama", "openai"]
DEPTH = 5000
DEEP_ARGUMENTS = '{"file_path": ' + "[" * DEPTH + "]" * DEPTH + "}"


async def run(protocol: str, workspace: Path, first: Reply) -> tuple[list[Event], list[dict[str, Any]]]:
    """`first`, then a good Read of app.py, then a final answer; the events and the requests sent."""
    script = [first, Reply(calls=[Call("Read", {"file_path": "app.py"})]), Reply("app.py sets X to 1.")]
    with ScriptedModelServer(protocol, script) as server:
        session = Session("What does app.py set?", DiskWorkspace(workspace), settings_for(server))
        events = [event async for event in session.run()]
    return events, server.requests


def finished(events: list[Event]) -> SessionFinished:
    final = events[-1]
    assert isinstance(final, SessionFinished)
    assert final.outcome == "done", final.message
    assert final.final_text == "app.py sets X to 1."
    return final


def contents(request: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content")) for m in request["messages"])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text("X = 1\n")
    return tmp_path


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_path_too_long_for_the_system_is_a_correction(protocol: str, workspace: Path) -> None:
    events, requests = await run(protocol, workspace, Reply(calls=[Call("Read", {"file_path": "a" * 6000})]))
    final = finished(events)
    assert final.turns == 3 and final.counters.tool_errors == 1
    assert [e.ok for e in events if isinstance(e, ToolCallFinished)] == [False, True]
    results = [m for m in requests[1]["messages"] if m["role"] == "tool"]
    assert "File name too long" in results[-1]["content"]
    assert "internal error" not in final.message


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_native_arguments_nested_5000_deep_are_a_correction(protocol: str, workspace: Path) -> None:
    events, requests = await run(protocol, workspace, Reply(calls=[Call("Read", DEEP_ARGUMENTS)]))
    final = finished(events)
    assert final.counters.corrections_by_reason == {"malformed_arguments": 1}
    assert [e.reason for e in events if isinstance(e, QualityCorrection)] == ["malformed_arguments"]
    assert TOO_DEEP in contents(requests[1])
    assert "[[[[" not in contents(requests[1])  # the unreadable call stays out of history
    assert final.tool_counts == {"Read": 1}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_text_written_call_nested_5000_deep_is_a_correction(protocol: str, workspace: Path) -> None:
    text = 'Reading it now.\n```json\n{"name": "Read", "arguments": ' + DEEP_ARGUMENTS + "}\n```"
    events, requests = await run(protocol, workspace, Reply(text))
    final = finished(events)  # not the deep call passing for a final answer
    assert final.turns == 3
    assert final.counters.corrections_by_reason == {"malformed_arguments": 1}
    # Python 3.11's json gives up past ~1,000 levels: the call is found by its head and the monitor
    # asks for it again with Read's parameters (a json that parses it gets the too-deep correction).
    correction = [m for m in requests[1]["messages"] if m["role"] == "tool"][-1]["content"]
    assert "This tool call could not be run" in correction and "Read(file_path: string" in correction
    assert final.tool_counts == {"Read": 1}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_parseable_but_needlessly_deep_arguments_stay_out_of_history(protocol: str, workspace: Path) -> None:
    deep = '{"file_path": "app.py", "x": ' + "[" * 100 + "]" * 100 + "}"  # parses; the unknown key is ignored
    events, requests = await run(protocol, workspace, Reply(calls=[Call("Read", deep)]))
    final = finished(events)
    assert final.counters.corrections_by_reason == {"malformed_arguments": 1}
    assert TOO_DEEP in contents(requests[1]) and "[[[[" not in str(requests[1]["messages"])
    assert final.tool_counts == {"Read": 1}


@pytest.mark.slow
async def test_no_nesting_depth_ends_or_traps_the_session(workspace: Path) -> None:
    """Around json's recursion limit a call can parse and still fail later: when its arguments are
    fitted to the tool (a list where a string belongs is turned into JSON text), or when it is sent
    back in the next request, which would then fail every turn. Every depth must be a correction."""
    depths = range(850, 1001)
    arguments = ['{"file_path": %s}', '{"file_path": "app.py", "x": %s}']
    script = [Reply(calls=[Call("Read", form % ("[" * d + "]" * d))]) for d in depths for form in arguments]
    script += [Reply(calls=[Call("Read", {"file_path": "app.py"})]), Reply("app.py sets X to 1.")]
    with ScriptedModelServer("ollama", script) as server:
        settings = settings_for(server, max_turns=len(script) + 1)
        events = [event async for event in Session("What does app.py set?", DiskWorkspace(workspace), settings).run()]
    final = finished(events)
    assert final.turns == len(script)
    # Each deep call was refused as too deep, or (a list fitted into file_path as JSON text) run and
    # answered with the path's error; only the last Read succeeded.
    assert final.counters.corrections + final.counters.tool_errors == 2 * len(depths)
    assert [e.ok for e in events if isinstance(e, ToolCallFinished)][-1]
