"""The thinking meter counts the reasoning as one text: the abort point does not depend on chunking."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncGenerator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent import tokens
from agent.model_call import CallResult, call_model, output_cap
from agent.providers.base import ChatRequest, StreamDelta, StreamEnd, TextChunk
from agent.thinking_budget import ThinkingBudget
from tests.fakes.wire import token_pieces

_PIECES = (
    "Let me check whether the parser handles nested braces before editing the file. ",
    "def parse_block(src: str) -> Node:\n    for i, ch in enumerate(src):\n"
    "        if ch == '{':\n            depth += 1\n",
    "思考中：这个函数需要处理嵌套的括号，然后再修改文件。",
    "🙂🎉 café naïve résumé — “quoted” ",
    "    \n\n\t  ",
    "0123456789" * 3,
    "aGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQ=",
    "Don't you'll they've I'm ",
    "x" * 60,
    " " * 30,
)


def reasoning(seed: int, pieces: int = 300) -> str:
    """English, code and unicode mixed, as a model's reasoning is."""
    rng = random.Random(seed)
    return "".join(rng.choice(_PIECES) for _ in range(pieces))


def chunked(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def token_aligned(text: str) -> list[str]:
    """One token per chunk, exactly as the scripted model server streams them (a token ending inside
    a character waits for the next)."""
    return [piece for piece, _ in token_pieces(text, 1)]


def run(chunks: list[str], budget: int) -> ThinkingBudget:
    meter = ThinkingBudget(budget)
    for chunk in chunks:
        if meter.feed(chunk):
            break
    return meter


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, 64, 100_000])
def test_count_equals_encoding_the_whole_text(size: int) -> None:
    text = reasoning(size)
    meter = ThinkingBudget(10**9)
    for chunk in chunked(text, size):
        meter.feed(chunk)
    assert meter.tokens == tokens.count(text)
    assert meter.trace == text


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, 64, 0])
def test_abort_is_within_16_tokens_of_the_budget(size: int) -> None:
    text = reasoning(7, 600)
    budget = 1024
    meter = run(token_aligned(text) if size == 0 else chunked(text, size), budget)
    assert meter.exceeded and meter.tokens == budget + 1
    assert text.startswith(meter.trace)
    assert abs(tokens.count(meter.trace) - budget) <= 16


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(1, 40), min_size=1, max_size=50),
       budget=st.integers(1, 600))
def test_any_chunking_aborts_at_the_budget(seed: int, cuts: list[int], budget: int) -> None:
    text = reasoning(seed, 120)
    chunks: list[str] = []
    start = 0
    for i in range(len(text)):  # chunk sizes cycle through `cuts`
        if start >= len(text):
            break
        size = cuts[i % len(cuts)]
        chunks.append(text[start : start + size])
        start += size
    meter = run(chunks, budget)
    total = tokens.count(text)
    if total <= budget:
        assert not meter.exceeded and meter.tokens == total
        return
    assert meter.exceeded
    assert text.startswith(meter.trace)
    assert abs(tokens.count(meter.trace) - budget) <= 16


def test_pathological_runs_count_exactly() -> None:
    for text in (" " * 5000 + "word", "x" * 5000 + " y", "1" * 3000 + "a", "\n" * 3000, "🙂" * 2000 + "a", "é" * 3000):
        for size in (1, 3, 64):
            meter = ThinkingBudget(10**9)
            for chunk in chunked(text, size):
                meter.feed(chunk)
            assert meter.tokens == tokens.count(text), (text[:3], size)


def test_cost_per_chunk_does_not_grow_with_the_text() -> None:
    def seconds(chars: int) -> float:
        text = reasoning(3, chars // 80)
        meter = ThinkingBudget(10**9)
        started = time.process_time()
        for chunk in chunked(text, 2):
            meter.feed(chunk)
        return (time.process_time() - started) / max(1, len(text))

    tokens.encoding()
    small, large = seconds(20_000), seconds(200_000)
    assert large < 3 * small + 1e-6  # quadratic counting would be ~10x


@pytest.mark.parametrize("size", [1, 5])
def test_count_is_right_after_every_chunk(size: int) -> None:
    text = reasoning(11, 40)
    count = tokens.RunningCount()
    for end in range(size, len(text) + size, size):
        count.feed(text[end - size : end])
        assert count.count() == tokens.count(text[:end])


class _CharByChar:
    """A provider streaming its reply one character per delta (a unit-test stand-in for such a server)."""

    name = "openai"
    base_url = "http://127.0.0.1:9"

    def __init__(self, reply: str) -> None:
        self.reply = reply

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamDelta, None]:
        for char in self.reply:
            yield TextChunk(text=char)
        yield StreamEnd(finish_reason="stop")

    async def list_models(self) -> list[str]:
        return []

    async def loading(self, model: str) -> bool:
        return False

    async def aclose(self) -> None:
        return None


async def test_the_output_cap_counts_the_reply_as_one_text() -> None:
    """A reply within the output limit, streamed a character at a time, is not taken for a runaway."""
    request = ChatRequest(model="m", messages=[], temperature=0.0, context_size=8192, max_output_tokens=1024)
    reply = reasoning(5, 400)
    reply = tokens.head(reply, output_cap(request) - 50)
    assert sum(tokens.count(c) for c in reply) > output_cap(request)  # counted per delta, it would be cut
    result: list[CallResult] = []
    async for _ in call_model(_CharByChar(reply), request, budget=None, turn=1, session_id="s", result=result):
        pass
    assert result[0].reply.content == reply.strip()
