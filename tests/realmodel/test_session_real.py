"""Real sessions with SmolLM2-135M through the `auto` fallback, as `make run` gets them on a machine
without Ollama: whatever the tiny model writes, a session must end cleanly (repair, the quality
monitor, the loop detector or the turn cap), raise nothing, touch nothing outside the workspace, and
finish with a complete final event.

SmolLM2 rarely calls a tool (it tends to answer with code or to echo the last message, which the
session takes as a final answer), so the conversation is carried over a second session that
continues the first one's history, the way a revision does; that second session must find the
first one's prompt prefix in the server's KV cache."""

from __future__ import annotations

import hashlib
import shutil
import socket
from pathlib import Path

import pytest

from agent.backend import ModelMemory
from agent.embedded import MODEL_ALIAS, ensure_model_server, locate
from agent.events import Event, SessionFinished, SessionStarted, TurnFinished, TurnStarted
from agent.messages import Message, is_note
from agent.session import Session
from agent.settings import Settings
from agent.workspace import DiskWorkspace
from tests.realmodel.conftest import ROOT

MAX_TURNS = 4
TASK = "Implement is_leap in leap.py so that the tests in test_leap.py pass."
FOLLOW_UP = "The tests still fail. Read leap.py and fix is_leap."


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def snapshot(root: Path, skip: Path) -> dict[str, str]:
    """Every file under `root` except those under `skip`, by content hash."""
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file() and skip not in path.parents}


@pytest.mark.slow
async def test_real_sessions_with_the_embedded_model_end_cleanly(tmp_path: Path) -> None:
    locate()
    workspace = tmp_path / "project"
    shutil.copytree(ROOT / "examples" / "leap", workspace)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "canary.txt").write_text("untouched\n")
    (tmp_path / "leap.py").write_text("# a decoy beside the workspace: same name, one level up\n")
    before = snapshot(tmp_path, workspace)

    settings = Settings(max_turns=MAX_TURNS, max_output_tokens=128, connect_timeout=2.0, stall_timeout=120.0)
    finals: list[SessionFinished] = []
    async with ensure_model_server(settings, notify=lambda _: None, ollama_url=closed_url(),
                                   llamacpp_url=closed_url()) as reachable:
        history: list[Message] = []
        for task in (TASK, FOLLOW_UP):
            session = Session(task, DiskWorkspace(workspace), reachable, memory=ModelMemory(), history=history)
            events = [event async for event in session.run()]
            check_events(events)
            final = events[-1]
            assert isinstance(final, SessionFinished)
            finals.append(final)
            history = session.history

    assert finals[1].usage.cached_tokens > 1000  # the system prompt and the first task came from the KV cache
    asked = [m.content for m in history if m.role == "user" and not is_note(m)]  # the harness notes are kept too
    assert len(history) >= 4 and asked[:2] == [TASK, FOLLOW_UP]
    assert any(is_note(m) for m in history)
    assert snapshot(tmp_path, workspace) == before  # nothing written outside the workspace


def check_events(events: list[Event]) -> None:
    final = events[-1]
    assert isinstance(final, SessionFinished), final
    assert final.outcome in ("done", "turn_cap", "stuck"), final.message
    assert "internal error" not in final.message
    started = events[0]
    assert isinstance(started, SessionStarted) and started.model == MODEL_ALIAS == final.model
    assert started.text_tools is True  # SmolLM2's template cannot take native tools: /props said so
    assert 1 <= final.turns <= MAX_TURNS
    assert sum(isinstance(e, TurnStarted) for e in events) == final.turns
    assert sum(isinstance(e, TurnFinished) for e in events) == final.turns or final.outcome == "stuck"
    assert final.usage.calls >= final.turns and final.usage.prompt_tokens > 500
    assert final.usage.estimated is False  # real server counts, not tiktoken guesses
    assert final.counters.text_tool_mode is True and final.duration_s > 0
    assert all(not Path(p).is_absolute() and ".." not in Path(p).parts for p in final.changed_files)
