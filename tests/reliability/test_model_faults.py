"""Faults from the model server (tests/reliability/scenarios_model_faults.py), every scenario × seed."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest

from agent.messages import UserMessage
from agent.model_call import call_model, output_cap
from agent.providers.base import (
    ChatRequest,
    ProviderError,
    ReasoningChunk,
    StreamDelta,
    TextChunk,
    ToolCallChunk,
)
from tests.reliability import scenarios_model_faults
from tests.reliability.harness import Scenario, assert_clean, pytest_params


@pytest.mark.parametrize(("scenario", "seed"), pytest_params(scenarios_model_faults.SCENARIOS))
async def test_model_fault(scenario: Scenario, seed: int) -> None:
    await assert_clean(scenario, seed)


# --- the client-side output cap (agent/model_call.py), directly --------------------------------------


class EndlessProvider:
    """A server that ignores the output limit: text (or tool-call arguments) for ever."""

    name = "openai"
    base_url = "http://127.0.0.1:9"

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.sent = 0
        self.closed = False

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamDelta, None]:
        try:
            if self.kind == "arguments":
                yield ToolCallChunk(index=0, id="c1", name="Write")
            while True:
                self.sent += 1
                if self.kind == "arguments":
                    yield ToolCallChunk(index=0, arguments_fragment="lorem ipsum dolor ")
                elif self.kind == "reasoning":
                    yield ReasoningChunk(text="and then I think some more ")
                else:
                    yield TextChunk(text="and so on and so forth ")
        finally:
            self.closed = True

    async def list_models(self) -> list[str]:
        return []

    async def loading(self, model: str) -> bool:
        return False

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize("kind", ["text", "reasoning", "arguments"])
async def test_a_reply_that_never_ends_is_cut_at_the_output_cap(kind: str) -> None:
    request = ChatRequest(model="m", messages=[UserMessage(content="hi")], temperature=0.0, context_size=8192,
                          max_output_tokens=500)
    provider = EndlessProvider(kind)
    with pytest.raises(ProviderError) as caught:
        async for _ in call_model(provider, request, budget=None, turn=1, session_id="s", result=[]):
            pass
    assert caught.value.kind == "bad_response" and "kept generating past" in caught.value.message
    assert provider.closed  # the stream (the HTTP response) was closed, not left running
    cap = output_cap(request)
    assert cap == int(500 * 1.5) + 256
    assert provider.sent < cap  # every piece is several tokens: it stopped near the cap, not later
