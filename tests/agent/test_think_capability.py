"""Thinking is asked for only where the model thinks: the probe decides, and a server that refuses
thinking anyway (HTTP 400) gets the same turn again without it, once, with one notice."""

from __future__ import annotations

from pathlib import Path

import httpx

from agent.backend import ModelMemory
from agent.events import Event, Notice, ReasoningDelta, SessionFinished, TextDelta, ThinkingBudgetHit
from agent.session import Session
from agent.workspace import DiskWorkspace
from tests.conftest import settings_for
from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Reply

NO_THINKING = ("completion", "tools")


async def _run(server: ScriptedModelServer, workspace: Path, memory: ModelMemory | None = None,
               **overrides: object) -> list[Event]:
    session = Session("answer", DiskWorkspace(workspace), settings_for(server, **overrides),
                      memory=memory or ModelMemory())
    return [e async for e in session.run()]


def _finished(events: list[Event]) -> SessionFinished:
    final = events[-1]
    assert isinstance(final, SessionFinished) and final.outcome == "done", final
    return final


def _thinking_notices(events: list[Event]) -> list[Notice]:
    return [e for e in events if isinstance(e, Notice) and "thinking" in e.message]


async def test_non_thinking_ollama_model_is_never_asked_to_think(leap_workspace: Path) -> None:
    with ScriptedModelServer("ollama", [Reply("Done.")], model="qwen2.5-coder:7b",
                             capabilities=NO_THINKING) as server:
        events = await _run(server, leap_workspace, thinking_budget=512)
    assert _finished(events).final_text == "Done."
    assert [r.get("think") for r in server.requests] == [None]
    assert not _thinking_notices(events)


async def test_fake_refuses_think_like_ollama(leap_workspace: Path) -> None:
    with ScriptedModelServer("ollama", [], model="qwen2.5-coder:7b", capabilities=NO_THINKING) as server:
        answer = httpx.post(f"{server.base_url}/api/chat",
                            json={"model": "qwen2.5-coder:7b", "messages": [], "think": True})
    assert answer.status_code == 400
    assert answer.json() == {"error": '"qwen2.5-coder:7b" does not support thinking'}


async def test_ollama_claiming_thinking_but_refusing_is_retried_once(leap_workspace: Path) -> None:
    memory = ModelMemory()
    with ScriptedModelServer("ollama", [Reply("Done."), Reply("Again.")], rejects_thinking=True) as server:
        events = await _run(server, leap_workspace, memory, thinking_budget=512)
        assert _finished(events).final_text == "Done."
        assert [r.get("think") for r in server.requests] == [True, None]
        assert [e.message for e in _thinking_notices(events)] == [
            "qwen3.5:9b does not accept thinking on this server: continuing without thinking"]
        # The host remembers: a later session skips the doomed request.
        later = await _run(server, leap_workspace, memory, thinking_budget=512)
        assert _finished(later).final_text == "Again."
        assert [r.get("think") for r in server.requests] == [True, None, None]


async def test_openai_server_rejecting_template_kwargs_is_retried_once(leap_workspace: Path) -> None:
    """thinking_budget 0 sends chat_template_kwargs.enable_thinking=false, which a server that does not
    know the field refuses; the turn is redone with no thinking field at all."""
    with ScriptedModelServer("openai", [Reply("Done.")], rejects_thinking=True) as server:
        events = await _run(server, leap_workspace, thinking_budget=0)
    assert _finished(events).final_text == "Done."
    assert [r.get("chat_template_kwargs") for r in server.requests] == [{"enable_thinking": False}, None]
    assert [log.status for log in server.log] == [400, 200]
    assert len(_thinking_notices(events)) == 1


async def test_reply_starting_inside_reasoning_is_split_and_metered(leap_workspace: Path) -> None:
    """A template that opens `<think>` in the prompt, served raw: only `</think>` reaches the content."""
    script = [Reply("I weigh the options first.</think>The answer is 4.")]
    with ScriptedModelServer("openai", script, opens_think=True, reasoning_format="none") as server:
        events = await _run(server, leap_workspace, thinking_budget=512)
    final = _finished(events)
    assert final.final_text == "The answer is 4."
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert reasoning == "I weigh the options first."


async def test_reasoning_inside_an_opened_block_counts_against_the_budget(leap_workspace: Path) -> None:
    long = " ".join(f"step{i} considers another possibility" for i in range(400))
    # The template opens the block on the retry too; the model closes it at once and answers.
    script = [Reply(f"{long}</think>never reached"), Reply("Committing.</think>Answer without thinking.")]
    with ScriptedModelServer("openai", script, opens_think=True, reasoning_format="none") as server:
        events = await _run(server, leap_workspace, thinking_budget=256)
    hit = next(e for e in events if isinstance(e, ThinkingBudgetHit))
    assert 256 < hit.tokens <= 256 + 16
    final = _finished(events)
    assert final.final_text == "Answer without thinking."
    assert final.counters.thinking_budget_fires == 1
    assert not any(isinstance(e, TextDelta) and "step" in e.text for e in events)
