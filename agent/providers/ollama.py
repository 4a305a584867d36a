"""Ollama's native API: `POST /api/chat`, one JSON object per line (NDJSON).

We use the native endpoint rather than Ollama's `/v1` because only here can a request set the
context size (`options.num_ctx`; Ollama's small default truncates silently), `keep_alive` and `think`.
Lines carry `message.thinking`, `message.content` or `message.tool_calls` (whole calls, arguments as
objects); the last line has `done: true`, `done_reason` and the token counts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import httpx

from agent.messages import AssistantMessage, Message, SystemMessage, ToolMessage, UserMessage
from agent.providers.base import (
    ChatRequest,
    ProviderError,
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
    ProgressClock,
    ServerErrors,
    error_from_json,
    get_json,
    open_stream,
    server_root,
    stream_timeout,
)

START_HINT = ("start Ollama with `ollama serve` (then `ollama pull qwen3.5:9b`), "
              f"or set the base URL ({BASE_URL_SETTING}) to the server you run")
# Ollama's final line reports these durations (nanoseconds); they are passed on with the usage.
_DURATIONS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")


def _pull_hint(model: str) -> str:
    return f"download it with `ollama pull {model or '<model>'}`, or list what you have with `ollama list`"


class OllamaProvider:
    name = "ollama"

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float,
        stall_timeout: float,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = server_root(base_url)
        self._stall_timeout = stall_timeout
        self._timeout = stream_timeout(connect_timeout, stall_timeout)
        self._client = client  # None: borrow the process's shared client for this server
        self._errors = ServerErrors("Ollama", self.base_url, START_HINT, _pull_hint, stall_timeout=stall_timeout)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamDelta, None]:
        url = f"{self.base_url}/api/chat"
        errors = self._errors.for_model(request.model)
        parser = OllamaLineParser()
        end: StreamEnd | None = None
        async with open_stream(await self._http(), url, chat_body(request), headers={}, timeout=self._timeout,
                               errors=errors) as response:
            clock = ProgressClock(self._stall_timeout, errors, url)
            async for line in clock.lines(response):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except ValueError:
                    raise errors.bad_line(line, url, "a line that is not JSON") from None
                if not isinstance(data, dict):
                    raise errors.bad_line(line, url, "a line that is not a JSON object")
                if data.get("error"):
                    message, code = error_from_json(data) or (str(data["error"]), "")
                    raise errors.from_stream_error(message, code, url)
                deltas = parser.parse(data)
                for delta in deltas:
                    if isinstance(delta, StreamEnd):
                        end = delta
                        break
                    yield delta
                if end is not None:
                    break
                clock.progress(deltas)
        if end is None:
            raise errors.cut(url, "no line with done: true")
        yield end

    async def list_models(self) -> list[str]:
        url = f"{self.base_url}/api/tags"
        data = await get_json(await self._http(), url, headers={}, timeout=self._timeout, errors=self._errors)
        models = data.get("models") if isinstance(data, dict) else None
        if not isinstance(models, list):
            raise self._errors.bad_line(json.dumps(data)[:200], url, "a model list without 'models'")
        return [str(m.get("name") or m.get("model")) for m in models if isinstance(m, dict)]

    async def loading(self, model: str) -> bool:
        """Ollama loads a model on the first request for it; /api/ps lists the models in memory, so a
        request in flight for one that is not listed is waiting for its load."""
        url = f"{self.base_url}/api/ps"
        try:
            data = await get_json(await self._http(), url, headers={}, timeout=self._timeout, errors=self._errors)
        except ProviderError:
            return False
        models = data.get("models") if isinstance(data, dict) else None
        if not isinstance(models, list):
            return False
        loaded = {str(m.get(key)) for m in models if isinstance(m, dict) for key in ("name", "model")}
        return model not in loaded and f"{model}:latest" not in loaded

    async def _http(self) -> httpx.AsyncClient:
        return self._client if self._client is not None else await shared.get(self.base_url)

    async def aclose(self) -> None:
        """Nothing to release: the client is the caller's or shared by the process (agent.providers.clients)."""


class OllamaLineParser:
    """One NDJSON object in, the deltas it carries out. Numbers the tool calls of one response."""

    def __init__(self) -> None:
        self._calls = 0

    def parse(self, data: dict[str, Any]) -> list[StreamDelta]:
        deltas: list[StreamDelta] = []
        message = data.get("message")
        if isinstance(message, dict):
            if thinking := message.get("thinking"):
                deltas.append(ReasoningChunk(text=str(thinking)))
            if content := message.get("content"):
                deltas.append(TextChunk(text=str(content)))
            for call in message.get("tool_calls") or ():
                deltas.append(self._call(call))
        if data.get("done"):
            deltas.append(StreamEnd(finish_reason=data.get("done_reason"), usage=_usage(data)))
        return deltas

    def _call(self, call: Any) -> ToolCallChunk:
        index = self._calls
        self._calls += 1
        function = call.get("function", {}) if isinstance(call, dict) else {}
        arguments = function.get("arguments")
        call_id = call.get("id") if isinstance(call, dict) else None
        chunk = ToolCallChunk(index=index, id=call_id or f"call_{index}", name=function.get("name"))
        if isinstance(arguments, dict):
            chunk.arguments = arguments
        elif isinstance(arguments, str):
            chunk.arguments_fragment = arguments
        elif arguments is not None:
            chunk.arguments_fragment = json.dumps(arguments)
        return chunk


def _usage(data: dict[str, Any]) -> StreamUsage:
    return StreamUsage(
        prompt_tokens=data.get("prompt_eval_count"),
        completion_tokens=data.get("eval_count"),
        timings={k: data[k] for k in _DURATIONS if k in data},
    )


def chat_body(request: ChatRequest) -> dict[str, Any]:
    options: dict[str, Any] = {"num_ctx": request.context_size, "temperature": request.temperature}
    if request.max_output_tokens is not None:
        options["num_predict"] = request.max_output_tokens
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [to_ollama(m) for m in request.messages],
        "stream": True,
        "options": options,
    }
    if request.tools:
        body["tools"] = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in request.tools
        ]
    if request.think is not None:
        body["think"] = request.think
    if request.keep_alive is not None:
        body["keep_alive"] = request.keep_alive
    return body


def to_ollama(message: Message) -> dict[str, Any]:
    if isinstance(message, (SystemMessage, UserMessage)):
        return {"role": message.role, "content": message.content}
    if isinstance(message, AssistantMessage):
        out: dict[str, Any] = {"role": "assistant", "content": message.content or ""}
        if message.tool_calls:
            # Ollama wants arguments as an object; text that never parsed has none to give.
            out["tool_calls"] = [{"function": {"name": c.name, "arguments": c.arguments}} for c in message.tool_calls]
        return out
    if isinstance(message, ToolMessage):
        return {"role": "tool", "content": message.content, "tool_name": message.name}
    raise TypeError(f"not a message: {message!r}")
