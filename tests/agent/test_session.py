"""The agent loop end to end against the scripted model server (real HTTP), both wire protocols."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from agent.events import (
    CapWarning,
    Event,
    SessionFinished,
    SessionStarted,
    TextDelta,
    ToolCallFinished,
    TurnStarted,
)
from agent.session import Session
from agent.settings import Settings
from agent.workspace import DiskWorkspace
from tests.conftest import settings_for
from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Call, Reply

PROTOCOLS = ["ollama", "openai"]
LEAP_BODY = "    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)"


def leap_script() -> list[Reply]:
    return [
        Reply(reasoning="The stub is in leap.py; read it first.", calls=[Call("Read", {"file_path": "leap.py"})]),
        Reply("Now I replace the stub.", calls=[Call("Edit", {
            "file_path": "leap.py", "old_string": "    raise NotImplementedError", "new_string": LEAP_BODY})]),
        Reply(calls=[Call("Bash", {"command": "python -m pytest -q"})]),
        Reply("is_leap is implemented and all four tests pass."),
    ]


async def collect(session: Session) -> list[Event]:
    return [event async for event in session.run()]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_multi_turn_task_edits_files_and_reports(protocol: str, leap_workspace: Path) -> None:
    with ScriptedModelServer(protocol, leap_script(), chunk_tokens=3) as server:
        session = Session("Implement is_leap in leap.py.", DiskWorkspace(leap_workspace), settings_for(server))
        events = await collect(session)

    final = events[-1]
    assert isinstance(final, SessionFinished)
    assert final.outcome == "done", final.message
    assert final.turns == 4
    assert final.tool_counts == {"Read": 1, "Edit": 1, "Bash": 1}
    assert final.changed_files == ["leap.py"]
    assert final.final_text == "is_leap is implemented and all four tests pass."
    assert final.usage.calls == 4 and final.usage.prompt_tokens > 0
    assert LEAP_BODY in (leap_workspace / "leap.py").read_text()
    started = [e for e in events if isinstance(e, SessionStarted)]
    assert started and started[0].backend == protocol and started[0].model == "qwen3.5:9b"
    assert [e.turn for e in events if isinstance(e, TurnStarted)] == [1, 2, 3, 4]
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [e.ok for e in finished] == [True, True, True]
    # The test run's output went back to the model as the Bash tool result.
    last_request = server.requests[-1]
    tool_results = [m for m in last_request["messages"] if m["role"] == "tool"]
    assert "4 passed" in tool_results[-1]["content"]
    # Every request carries temperature and (Ollama) num_ctx, the original lost them on one path.
    for body in server.requests:
        if protocol == "ollama":
            assert body["options"]["num_ctx"] == 32768 and body["options"]["temperature"] == 0.3
        else:
            assert body["temperature"] == 0.3


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_tool_errors_go_back_marked_as_errors(protocol: str, leap_workspace: Path) -> None:
    script = [
        Reply(calls=[Call("Read", {"file_path": "missing.py"})]),
        Reply("The file does not exist."),
    ]
    with ScriptedModelServer(protocol, script) as server:
        events = await collect(Session("read missing.py", DiskWorkspace(leap_workspace), settings_for(server)))
    final = events[-1]
    assert isinstance(final, SessionFinished) and final.outcome == "done"
    assert final.counters.tool_errors == 1
    result = [m for m in server.requests[1]["messages"] if m["role"] == "tool"][-1]
    assert "missing.py" in result["content"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_server_down_is_a_clear_error(protocol: str, leap_workspace: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    settings = Settings(backend=protocol, base_url=url, model="m", connect_timeout=1)
    events = await collect(Session("x", DiskWorkspace(leap_workspace), settings))
    final = events[-1]
    assert isinstance(final, SessionFinished) and final.outcome == "error"
    assert url in final.message
    assert "ollama serve" in final.message or "llama-server" in final.message


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("fault", "expect"),
    [("http_500", "500"), ("cut", "ended"), ("stall", "no data"), ("http_503_empty", "503")],
)
async def test_server_faults_end_in_error(protocol: str, fault: str, expect: str, leap_workspace: Path) -> None:
    script = [Reply("some text that will be interrupted " * 5, fault=fault, stall_seconds=3.0)]
    with ScriptedModelServer(protocol, script) as server:
        settings = settings_for(server, stall_timeout=0.5)
        started = time.monotonic()
        events = await collect(Session("x", DiskWorkspace(leap_workspace), settings))
    final = events[-1]
    assert isinstance(final, SessionFinished)
    assert final.outcome == "error"
    assert expect in final.message.lower(), final.message
    assert "Traceback" not in final.message
    assert time.monotonic() - started < 3.0  # a stall is detected by stall_timeout, not by the stall ending


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_cancel_stops_within_a_second_and_closes_the_stream(protocol: str, leap_workspace: Path) -> None:
    script = [Reply("word " * 5000, tokens_per_second=200)]
    with ScriptedModelServer(protocol, script, chunk_tokens=1) as server:
        session = Session("x", DiskWorkspace(leap_workspace), settings_for(server))
        first_text = asyncio.Event()

        async def consume() -> None:
            async for event in session.run():
                if isinstance(event, TextDelta):
                    first_text.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first_text.wait(), 5)
        cancelled_at = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - cancelled_at < 1.0
        log = await asyncio.to_thread(server.wait_finished, 1, 5.0)
    assert log[0].client_closed_early and not log[0].completed
    assert session.result is not None and session.result.outcome == "cancelled"


async def test_session_cancel_method_yields_the_final_event(leap_workspace: Path) -> None:
    script = [Reply("word " * 5000, tokens_per_second=200)]
    with ScriptedModelServer("ollama", script, chunk_tokens=1) as server:
        session = Session("x", DiskWorkspace(leap_workspace), settings_for(server))
        events: list[Event] = []
        async for event in session.run():
            events.append(event)
            if isinstance(event, TextDelta):
                session.cancel()
    final = events[-1]
    assert isinstance(final, SessionFinished) and final.outcome == "cancelled"


async def test_turn_cap_with_finish_warning(leap_workspace: Path) -> None:
    script = [Reply(calls=[Call("Glob", {"pattern": f"*{i}*"})]) for i in range(10)]
    with ScriptedModelServer("ollama", script) as server:
        settings = settings_for(server, max_turns=4, finish_warning_turns=2)
        events = await collect(Session("look around", DiskWorkspace(leap_workspace), settings))
    final = events[-1]
    assert isinstance(final, SessionFinished)
    assert final.outcome == "turn_cap" and final.turns == 4
    assert final.counters.cap_hits == 1 and final.counters.cap_warnings == 1
    warnings = [e for e in events if isinstance(e, CapWarning)]
    assert [w.turn for w in warnings] == [2]
    # The warning reached the model as a message, in the request of the warned turn.
    warned = server.requests[1]["messages"]
    assert any("Finish now" in m["content"] for m in warned if m["role"] == "user")
    assert len(server.requests) == 4
