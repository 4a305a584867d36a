"""stall_timeout counts time without real output, not time without bytes.

A server (or a proxy in front of it) that sends only keep-alives — blank NDJSON lines, SSE `: ping`
comments, empty deltas — kept a session alive for 638 s with stall_timeout=5. Now it ends in a stall
error about stall_timeout after the last text, thinking or tool-call bytes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from agent.events import Event, SessionFinished, TextDelta
from agent.session import Session
from agent.workspace import DiskWorkspace
from tests.conftest import settings_for
from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Reply

PROTOCOLS = ["ollama", "openai"]
KEEPALIVE = Reply("some text before the server only keeps the connection alive " * 3, fault="keepalive",
                  fault_after=3, keepalive_interval=0.05)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_keepalives_alone_end_in_a_stall_error(protocol: str, tmp_path: Path) -> None:
    with ScriptedModelServer(protocol, [KEEPALIVE]) as server:
        settings = settings_for(server, stall_timeout=1.0)
        events: list[Event] = []
        started = time.monotonic()

        async def run() -> None:
            async for event in Session("x", DiskWorkspace(tmp_path), settings).run():
                events.append(event)

        await asyncio.wait_for(run(), 10)  # before the fix: no end at all
        elapsed = time.monotonic() - started
        (entry,) = server.wait_finished(1, timeout=2)
    final = events[-1]
    assert isinstance(final, SessionFinished) and final.outcome == "error", final
    assert "sent nothing but keep-alives (blank lines, comments or empty deltas) for 1 s" in final.message
    assert any(isinstance(event, TextDelta) for event in events)  # real text came first
    assert elapsed < 3.0, elapsed
    assert entry.client_closed_early
    assert entry.frames_sent > 3 + 10  # keep-alives kept flowing the whole second


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_the_keepalive_fault_sends_bytes_without_output(protocol: str) -> None:
    path = "/api/chat" if protocol == "ollama" else "/v1/chat/completions"
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}
    with ScriptedModelServer(protocol, [Reply("hello", fault="keepalive", fault_after=0,
                                              keepalive_interval=0.02)]) as server:
        received = b""
        async with httpx.AsyncClient(timeout=5) as client, client.stream("POST", server.base_url + path,
                                                                            json=body) as response:
            async for chunk in response.aiter_bytes():
                received += chunk
                if len(received) > 4000:
                    break
    if protocol == "ollama":
        assert b"\n\n" in received and b'"content":""' in received
    else:
        assert b": ping\n\n" in received and b'"delta":{}' in received
    assert b"hello" not in received and b"done\":true" not in received and b"[DONE]" not in received
