"""One model call: stream a reply, enforce the thinking budget, assemble tool calls.

The budget sits here, above the providers, so both wire protocols get it. When the reasoning passes the
budget the stream is closed at once (the provider's `async with` closes the HTTP response), the partial
trace is kept, and the same request is retried with thinking off plus the trace's tail and an instruction
to commit (agent/thinking_budget.py writes those two messages). They go to the retry only, never into
history, so the next call's prefix is unchanged and thinking is on again.

While a reply streams, `StreamProgress` events say where it stands ("thinking 812/2048", "writing 240 tok ·
38 tok/s"), throttled to one per PROGRESS_INTERVAL_S; before its first byte (a model loading, a long prompt
being read) one every WAIT_TICK_S says how long the wait has been. The counts are the ones the budget and
the output cap already keep, so what the user sees is what the budget cuts at.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Literal

from agent import tokens
from agent.events import (
    Event,
    ProgressPhase,
    ReasoningDelta,
    StreamProgress,
    TextDelta,
    ThinkingBudgetHit,
    Usage,
)
from agent.messages import AssistantMessage, ToolCall, message_text
from agent.providers.assemble import ToolCallAssembler
from agent.providers.base import (
    ChatRequest,
    Provider,
    ProviderError,
    ReasoningChunk,
    StreamEnd,
    StreamUsage,
    TextChunk,
    ToolCallChunk,
)
from agent.thinking_budget import ThinkingBudget, ThinkTagSplitter

TRACE_TAIL_CHARS = 2000
# A server that ignores num_predict / max_tokens can stream for ever. Past this multiple of the
# limit we asked for (plus slack: the server's tokenizer is not tiktoken) the call fails.
OUTPUT_CAP_MARGIN = 1.5
OUTPUT_CAP_SLACK = 256
# Progress events: at most four a second however fast the stream, so no client is flooded; while nothing
# has arrived yet, one a second.
PROGRESS_INTERVAL_S = 0.25
WAIT_TICK_S = 1.0
# How long the server may take to say whether it is loading the model (Ollama's /api/ps, llama.cpp's /health),
# and how long a server that refuses requests while it loads (llama-server's 503) is waited for.
LOADING_CHECK_S = 1.0
LOAD_WAIT_S = 300.0
# A rate over less time than this is noise (the first chunks of a phase arrive in a burst).
MIN_RATE_WINDOW_S = 0.5


def output_cap(request: ChatRequest) -> int:
    """Tokens (text, reasoning and tool-call arguments together) one streamed reply may reach."""
    limit = request.max_output_tokens or request.context_size
    return int(limit * OUTPUT_CAP_MARGIN) + OUTPUT_CAP_SLACK

Piece = tuple[Literal["reasoning", "text"], str]


@dataclass
class CallResult:
    reply: AssistantMessage
    usage: Usage
    finish_reason: str | None = None
    budget_hit: ThinkingBudgetHit | None = None
    timings: dict[str, object] = field(default_factory=dict)


@dataclass
class _Accumulator:
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: ToolCallAssembler = field(default_factory=ToolCallAssembler)
    end: StreamEnd | None = None


class ProgressMeter:
    """Turns one reply's counts into throttled `StreamProgress` events.

    It keeps no count of its own: thinking is read from the thinking budget's meter when there is one
    (the number the budget cuts at), everything else from the output cap's running count of the reply.
    """

    def __init__(self, produced: tokens.RunningCount, meter: ThinkingBudget | None, *, turn: int, session_id: str,
                 clock: Callable[[], float] = time.monotonic, interval: float = PROGRESS_INTERVAL_S) -> None:
        self._produced = produced
        self._meter = meter
        self._turn = turn
        self.session_id = session_id
        self._clock = clock
        self._interval = interval
        self._sent_at = clock()
        self._last_event: float | None = None
        self._phase: ProgressPhase = "waiting"
        self._phase_at = self._sent_at
        self._phase_base = 0  # the running count when the phase began

    def waiting(self, loading: bool) -> StreamProgress:
        """The wait before the first byte, as it stands now; `loading`: the server says it is loading
        the model."""
        now = self._last_event = self._clock()
        self._phase = "loading" if loading else "waiting"
        return self._event(now, 0, None)

    def update(self, phase: Literal["thinking", "writing"], text: str) -> StreamProgress | None:
        """After a delta of `phase` (`text`, already counted): an event, unless one went out less than
        `interval` ago."""
        now = self._clock()
        if phase != self._phase:
            self._phase, self._phase_at = phase, now
            # The phase began with this delta; its own tokens belong to it (to a token: BPE may merge
            # across the boundary).
            self._phase_base = self._produced.count() - tokens.count(text)
        if self._last_event is not None and now - self._last_event < self._interval:
            return None
        self._last_event = now
        if phase == "thinking" and self._meter is not None:
            count = self._meter.tokens
        else:
            count = max(0, self._produced.count() - self._phase_base)
        span = now - self._phase_at
        return self._event(now, count, round(count / span, 1) if span >= MIN_RATE_WINDOW_S else None)

    def _event(self, now: float, count: int, rate: float | None) -> StreamProgress:
        metered = self._phase == "thinking" and self._meter is not None
        return StreamProgress(
            session_id=self.session_id, turn=self._turn, phase=self._phase, tokens=count,
            budget=self._meter.budget if metered and self._meter is not None else None,
            tokens_per_s=rate, elapsed=round(now - self._sent_at, 1),
        )


async def _loading(provider: Provider, model: str) -> bool:
    """Whether the server says it is loading the model; a slow or failing answer means no."""
    try:
        return await asyncio.wait_for(provider.loading(model), LOADING_CHECK_S)
    except Exception:  # best effort: the question must never fail the call it is about
        return False


async def call_model(
    provider: Provider,
    request: ChatRequest,
    *,
    budget: int | None,
    turn: int,
    session_id: str,
    result: list[CallResult],
    starts_in_reasoning: bool = False,
) -> AsyncIterator[Event]:
    """Stream one reply, yielding text/reasoning events; append the CallResult to `result`.

    `budget` is the client-side thinking budget in tokens, None when thinking is off or the server
    enforces a budget itself. `starts_in_reasoning`: the prompt opened `<think>` (see
    Capabilities.starts_in_reasoning), so content up to `</think>` is reasoning and metered as such.
    """
    acc = _Accumulator()
    meter = ThinkingBudget(budget) if budget else None
    async for event in _stream(provider, request, acc, meter, session_id, starts_in_reasoning, turn):
        yield event
    usage = _usage(request, acc, calls=1)
    hit: ThinkingBudgetHit | None = None
    if meter is not None and meter.exceeded:
        retry_tail = meter.retry_messages(TRACE_TAIL_CHARS)
        hit = ThinkingBudgetHit(
            session_id=session_id,
            turn=turn,
            tokens=meter.tokens,
            budget=budget or 0,
            kept_chars=sum(len(m.content) for m in retry_tail if m.role == "assistant"),
        )
        yield hit
        retry = request.model_copy(update={"messages": [*request.messages, *retry_tail], "think": False})
        first_trace = meter.trace
        acc = _Accumulator()
        async for event in _stream(provider, retry, acc, None, session_id, starts_in_reasoning, turn):
            yield event
        usage.add(_usage(retry, acc, calls=1))
        acc.reasoning.insert(0, first_trace)
    reply = AssistantMessage(
        content="".join(acc.text).strip(),
        reasoning="".join(acc.reasoning),
        tool_calls=tuple(
            ToolCall(id=c.id, name=c.name, arguments=c.arguments or {},
                     raw_arguments=None if c.arguments is not None else c.raw)
            for c in acc.calls.finish()
        ),
    )
    end = acc.end or StreamEnd()
    result.append(CallResult(reply, usage, end.finish_reason, hit, dict(end.usage.timings)))


async def _stream(
    provider: Provider,
    request: ChatRequest,
    acc: _Accumulator,
    meter: ThinkingBudget | None,
    session_id: str,
    starts_in_reasoning: bool,
    turn: int,
) -> AsyncIterator[Event]:
    splitter = ThinkTagSplitter(assume_open=starts_in_reasoning)
    cap = output_cap(request)
    produced = tokens.RunningCount()  # counted as one text: per-delta counts over-count small deltas
    progress = ProgressMeter(produced, meter, turn=turn, session_id=session_id)
    loading_since: float | None = None
    while True:
        try:
            async for event in _attempt(provider, request, acc, meter, splitter, cap, produced, progress):
                yield event
            break
        except ProviderError as exc:
            # llama-server refuses requests with 503 while it loads its model: say so and ask again.
            if exc.status != 503 or not await _loading(provider, request.model):
                raise
            loading_since = loading_since or time.monotonic()
            if time.monotonic() - loading_since > LOAD_WAIT_S:
                raise
            yield progress.waiting(True)
            await asyncio.sleep(WAIT_TICK_S)
    rest = splitter.flush()
    _consume(rest, acc, meter)
    for event in _events(rest, session_id):
        yield event


async def _attempt(
    provider: Provider,
    request: ChatRequest,
    acc: _Accumulator,
    meter: ThinkingBudget | None,
    splitter: ThinkTagSplitter,
    cap: int,
    produced: tokens.RunningCount,
    progress: ProgressMeter,
) -> AsyncIterator[Event]:
    """One request: progress while it waits for its first byte, then its events."""
    session_id = progress.session_id
    async with aclosing(provider.stream(request)) as stream:
        # The first read runs as a task, so that saying how long it takes never cancels it.
        read = asyncio.ensure_future(anext(stream, None))
        loading: bool | None = None
        try:
            while not (await asyncio.wait({read}, timeout=WAIT_TICK_S))[0]:
                if loading is None:  # asked once: a load, once begun, is what the wait is
                    loading = await _loading(provider, request.model)
                yield progress.waiting(loading)
        finally:
            if not read.done():  # the caller left (cancelled, closed): stop the read, which closes the response
                read.cancel()
                await asyncio.wait({read})
        delta = read.result()
        while delta is not None and not isinstance(delta, StreamEnd):
            text = _delta_text(delta)
            produced.feed(text)
            if produced.exceeds(cap):  # raising here leaves the `async with`, which closes the response
                raise _runaway(provider, request, cap)
            phase: Literal["thinking", "writing"] | None = "writing"
            if isinstance(delta, ToolCallChunk):
                acc.calls.feed(delta)
            else:
                pieces: list[Piece] = (splitter.feed(delta.text) if isinstance(delta, TextChunk)
                                       else [("reasoning", delta.text)])
                exceeded = _consume(pieces, acc, meter)
                for event in _events(pieces, session_id):
                    yield event
                if exceeded:
                    return  # budget exceeded: leaving the `async with` closes the response now
                # A chunk the splitter holds back (part of a tag) says nothing about the phase.
                phase = None if not pieces else "writing" if pieces[-1][0] == "text" else "thinking"
            if phase is not None and (update := progress.update(phase, text)) is not None:
                yield update
            delta = await anext(stream, None)
        acc.end = delta


def _delta_text(delta: TextChunk | ReasoningChunk | ToolCallChunk) -> str:
    if isinstance(delta, ToolCallChunk):
        arguments = json.dumps(delta.arguments, ensure_ascii=False) if delta.arguments is not None else ""
        return (delta.name or "") + delta.arguments_fragment + arguments
    return delta.text


def _runaway(provider: Provider, request: ChatRequest, cap: int) -> ProviderError:
    asked = f"{request.max_output_tokens} asked for" if request.max_output_tokens else "no limit asked for"
    return ProviderError(
        "bad_response",
        f"the model server at {provider.base_url} kept generating past {cap} tokens ({asked}); the reply was "
        "cut off and dropped",
        hint="the server ignored the output limit (num_predict / max_tokens): check its settings, or lower "
             "max_output_tokens",
    )


def _consume(pieces: list[Piece], acc: _Accumulator, meter: ThinkingBudget | None) -> bool:
    """Add pieces to the accumulator; True when the thinking budget is now exceeded."""
    for kind, text in pieces:
        if kind == "text":
            acc.text.append(text)
        elif meter is None:
            acc.reasoning.append(text)
        elif meter.feed(text):
            return True
    return False


def _events(pieces: list[Piece], session_id: str) -> list[Event]:
    return [
        TextDelta(session_id=session_id, text=t) if k == "text" else ReasoningDelta(session_id=session_id, text=t)
        for k, t in pieces
        if t
    ]


def _usage(request: ChatRequest, acc: _Accumulator, *, calls: int) -> Usage:
    """Server counts when reported; tiktoken estimates otherwise (marked as such)."""
    reported: StreamUsage = acc.end.usage if acc.end else StreamUsage()
    reasoning_tokens = tokens.count("".join(acc.reasoning))
    estimated = reported.prompt_tokens is None or reported.completion_tokens is None
    prompt = reported.prompt_tokens
    if prompt is None:
        prompt = sum(tokens.count(message_text(m)) for m in request.messages)
    completion = reported.completion_tokens
    if completion is None:
        completion = tokens.count("".join(acc.text)) + reasoning_tokens
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=reported.cached_tokens or 0,
        reasoning_tokens=reasoning_tokens,
        calls=calls,
        estimated=estimated,
    )

