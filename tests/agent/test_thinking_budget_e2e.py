"""The thinking budget over real HTTP: the stream is aborted within 16 tokens of the budget whatever the
server's chunk size, on both protocols and for <think> tags inside content."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import tokens
from agent.events import ReasoningDelta, SessionFinished, ThinkingBudgetHit
from agent.session import Session
from agent.workspace import DiskWorkspace
from tests.conftest import settings_for
from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Reply

BUDGET = 256
LONG_REASONING = " ".join(f"step{i} considers another possibility" for i in range(600))


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
@pytest.mark.parametrize("chunk_tokens", [1, 64])
@pytest.mark.parametrize("think_tags", [False, True])
async def test_overshoot_is_bounded(protocol: str, chunk_tokens: int, think_tags: bool, leap_workspace: Path) -> None:
    script = [Reply(reasoning=LONG_REASONING, think_tags=think_tags), Reply("Answer without thinking.")]
    with ScriptedModelServer(protocol, script, chunk_tokens=chunk_tokens, tokens_per_second=4000) as server:
        events = [e async for e in Session("think hard", DiskWorkspace(leap_workspace),
                                           settings_for(server, thinking_budget=BUDGET)).run()]
        log = server.wait_finished(2)
    hit = next(e for e in events if isinstance(e, ThinkingBudgetHit))
    assert BUDGET < hit.tokens <= BUDGET + 16
    assert hit.kept_chars > 0
    # The first response was abandoned long before its end: the client hung up.
    assert log[0].client_closed_early and not log[0].completed
    final = events[-1]
    assert isinstance(final, SessionFinished) and final.outcome == "done"
    assert final.final_text == "Answer without thinking."
    assert final.counters.thinking_budget_fires == 1


async def test_native_budget_is_preferred(leap_workspace: Path) -> None:
    """A llama.cpp server started with --reasoning-budget enforces it itself: the client does not meter.
    The server's budget (1024) is above the client's (256), so a client that metered anyway would
    abort at 256; this one receives the server-cut reasoning whole and keeps the answer."""
    server_budget = 4 * BUDGET
    script = [Reply("Final answer.", reasoning=LONG_REASONING), Reply("unused")]
    with ScriptedModelServer("openai", script, reasoning_budget=server_budget) as server:
        events = [e async for e in Session("think", DiskWorkspace(leap_workspace),
                                           settings_for(server, thinking_budget=BUDGET)).run()]
        (log,) = server.wait_finished(1)
    assert not any(isinstance(e, ThinkingBudgetHit) for e in events)
    final = events[-1]
    assert isinstance(final, SessionFinished) and final.counters.thinking_budget_fires == 0
    assert final.final_text == "Final answer."
    assert log.completed and not log.client_closed_early
    received = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert BUDGET < tokens.count(received) <= server_budget  # cut by the server, at its budget, not ours
    assert len(server.requests) == 1
