"""One model call: stream a reply, enforce the thinking budget, assemble tool calls.

The budget sits here, above the providers, so both wire protocols get it. When the reasoning passes the
budget the stream is closed at once (the provider's `async with` closes the HTTP response), the partial
trace is kept, and the same request is retried with thinking off plus the trace's tail and an instruction
to commit (agent/thinking_budget.py writes those two messages). They go to the retry only, never into
history, so the next call's prefix is unchanged and thinking is on again.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Literal

from agent import tokens
from agent.events import Event, ReasoningDelta, TextDelta, ThinkingBudgetHit, Usage
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
    async for event in _stream(provider, request, acc, meter, session_id, starts_in_reasoning):
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
        async for event in _stream(provider, retry, acc, None, session_id, starts_in_reasoning):
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
) -> AsyncIterator[Event]:
    splitter = ThinkTagSplitter(assume_open=starts_in_reasoning)
    cap = output_cap(request)
    produced = tokens.RunningCount()  # counted as one text: per-delta counts over-count small deltas
    async with aclosing(provider.stream(request)) as stream:
        async for delta in stream:
            if isinstance(delta, StreamEnd):
                acc.end = delta
                break
            produced.feed(_delta_text(delta))
            if produced.exceeds(cap):  # raising here leaves the `async with`, which closes the response
                raise _runaway(provider, request, cap)
            if isinstance(delta, TextChunk):
                pieces: list[Piece] = splitter.feed(delta.text)
            elif isinstance(delta, ReasoningChunk):
                pieces = [("reasoning", delta.text)]
            else:
                acc.calls.feed(delta)
                continue
            if _consume(pieces, acc, meter):
                for event in _events(pieces, session_id):
                    yield event
                return  # budget exceeded: leaving the `async with` closes the response now
            for event in _events(pieces, session_id):
                yield event
    rest = splitter.flush()
    _consume(rest, acc, meter)
    for event in _events(rest, session_id):
        yield event


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

