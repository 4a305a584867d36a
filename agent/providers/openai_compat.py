"""OpenAI-compatible chat completions: `POST /v1/chat/completions` streamed as server-sent events.

Spoken by llama.cpp's llama-server (the reference), LM Studio and vLLM. Each event's data is one
`chat.completion.chunk`: `delta.content`, `delta.reasoning_content` (llama.cpp, vLLM) or
`delta.reasoning`, and `delta.tool_calls[i]` fragments keyed by index. With
`stream_options.include_usage` a last chunk with empty `choices` carries `usage` (and llama.cpp's
`timings`); `data: [DONE]` ends the stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import httpx

from agent.messages import AssistantMessage, Message, SystemMessage, ToolMessage, UserMessage
from agent.providers.base import (
    ChatRequest,
    ReasoningChunk,
    StreamDelta,
    StreamEnd,
    StreamUsage,
    TextChunk,
    ToolCallChunk,
)
from agent.providers.clients import shared
from agent.providers.http import (
    BASE_URL_SETTING,
    HTTPX_ERRORS,
    ProgressClock,
    ServerErrors,
    SSEDecoder,
    error_from_json,
    get_json,
    open_stream,
    server_root,
    stream_timeout,
)

START_HINT = ("start llama.cpp's server with `llama-server -m model.gguf --port 8080` "
              f"(or LM Studio / vLLM), or set the base URL ({BASE_URL_SETTING}) to the server you run")
LABEL = "the OpenAI-compatible server"


def _model_hint(model: str) -> str:
    return f"'{model}' is not served there; pick one that GET /v1/models lists, or load it into the server"


class OpenAICompatProvider:
    name = "openai"

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float,
        stall_timeout: float,
        api_key: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = server_root(base_url)
        self._stall_timeout = stall_timeout
        self._timeout = stream_timeout(connect_timeout, stall_timeout)
        self._client = client  # None: borrow the process's shared client for this server
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._errors = ServerErrors(LABEL, self.base_url, START_HINT, _model_hint, stall_timeout=stall_timeout)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamDelta, None]:
        url = f"{self.base_url}/v1/chat/completions"
        errors = self._errors.for_model(request.model)
        decoder = SSEDecoder()
        parser = ChunkParser()
        finished = False
        async with open_stream(await self._http(), url, chat_body(request), headers=self._headers,
                               timeout=self._timeout, errors=errors) as response:
            clock = ProgressClock(self._stall_timeout, errors, url)
            async for line in clock.lines(response):
                try:
                    event = decoder.feed_line(line)
                except ValueError as exc:
                    raise errors.bad_line(line[:120], url, str(exc)) from None
                if event is None:
                    continue
                if event.data.strip() == "[DONE]":
                    finished = True
                    break
                try:
                    data = json.loads(event.data)
                except ValueError:
                    raise errors.bad_line(event.data, url, "an event whose data is not JSON") from None
                if not isinstance(data, dict):
                    raise errors.bad_line(event.data, url, "an event whose data is not a JSON object")
                if data.get("error") or event.event == "error":
                    message, code = error_from_json(data) or (event.data, "")
                    raise errors.from_stream_error(message, code, url)
                deltas = parser.parse(data)
                for delta in deltas:
                    yield delta
                clock.progress(deltas)
        if not finished:
            raise errors.cut(url, "no data: [DONE]")
        yield parser.end()

    async def list_models(self) -> list[str]:
        url = f"{self.base_url}/v1/models"
        data = await get_json(await self._http(), url, headers=self._headers, timeout=self._timeout,
                              errors=self._errors)
        models = data.get("data") if isinstance(data, dict) else None
        if not isinstance(models, list):
            raise self._errors.bad_line(json.dumps(data)[:200], url, "a model list without 'data'")
        return [str(m["id"]) for m in models if isinstance(m, dict) and "id" in m]

    async def loading(self, model: str) -> bool:
        """llama-server answers /health with 503 while it loads its model; other servers say nothing."""
        try:
            response = await (await self._http()).get(f"{self.base_url}/health", headers=self._headers,
                                                       timeout=self._timeout)
        except HTTPX_ERRORS:
            return False
        return response.status_code == 503

    async def _http(self) -> httpx.AsyncClient:
        return self._client if self._client is not None else await shared.get(self.base_url)

    async def aclose(self) -> None:
        """Nothing to release: the client is the caller's or shared by the process (agent.providers.clients)."""


class ChunkParser:
    """One `chat.completion.chunk` in, its deltas out; remembers finish_reason, usage and timings."""

    def __init__(self) -> None:
        self._finish: str | None = None
        self._usage: dict[str, Any] | None = None
        self._timings: dict[str, Any] = {}

    def parse(self, data: dict[str, Any]) -> list[StreamDelta]:
        if isinstance(data.get("usage"), dict):
            self._usage = data["usage"]
        if isinstance(data.get("timings"), dict):
            self._timings = data["timings"]
        deltas: list[StreamDelta] = []
        for choice in data.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # we ask for one completion; others would be noise
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                deltas.append(ReasoningChunk(text=str(reasoning)))
            if content := delta.get("content"):
                deltas.append(TextChunk(text=str(content)))
            for position, call in enumerate(delta.get("tool_calls") or ()):
                deltas.append(_call_chunk(call, position))
        return deltas

    def end(self) -> StreamEnd:
        usage = self._usage or {}
        timings = self._timings
        details = usage.get("prompt_tokens_details") or {}
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens")
        # llama.cpp's timings say the same when a server sends no usage: prompt = evaluated + reused.
        if prompt is None and "prompt_n" in timings:
            prompt = int(timings["prompt_n"]) + int(timings.get("cache_n", 0))
        if completion is None and "predicted_n" in timings:
            completion = int(timings["predicted_n"])
        if cached is None and "cache_n" in timings:
            cached = int(timings["cache_n"])
        return StreamEnd(
            finish_reason=self._finish,
            usage=StreamUsage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached,
                              timings=dict(timings)),
        )


def _call_chunk(call: Any, position: int) -> ToolCallChunk:
    if not isinstance(call, dict):
        return ToolCallChunk(index=position)
    function = call.get("function") or {}
    arguments = function.get("arguments")
    chunk = ToolCallChunk(index=int(call.get("index", position)), id=call.get("id") or None,
                          name=function.get("name") or None)
    if isinstance(arguments, str):
        chunk.arguments_fragment = arguments
    elif isinstance(arguments, dict):
        chunk.arguments = arguments  # some servers send the object itself
    return chunk


def chat_body(request: ChatRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [to_openai(m) for m in request.messages],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": request.temperature,
    }
    if request.max_output_tokens is not None:
        body["max_tokens"] = request.max_output_tokens
    if request.tools:
        body["tools"] = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in request.tools
        ]
        body["tool_choice"] = "auto"
    extra = dict(request.extra_body)
    template_kwargs = dict(extra.pop("chat_template_kwargs", None) or {})
    body.update(extra)
    if request.think is False:
        template_kwargs["enable_thinking"] = False
    if template_kwargs:
        body["chat_template_kwargs"] = template_kwargs
    return body


def to_openai(message: Message) -> dict[str, Any]:
    if isinstance(message, (SystemMessage, UserMessage)):
        return {"role": message.role, "content": message.content}
    if isinstance(message, AssistantMessage):
        out: dict[str, Any] = {"role": "assistant", "content": message.content}
        if message.tool_calls:
            if not message.content:
                out["content"] = None
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {
                        "name": c.name,
                        "arguments": c.raw_arguments if c.raw_arguments is not None
                        else json.dumps(c.arguments, ensure_ascii=False),
                    },
                }
                for c in message.tool_calls
            ]
        return out
    if isinstance(message, ToolMessage):
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    raise TypeError(f"not a message: {message!r}")
