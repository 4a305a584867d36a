"""What every provider speaks: a request in the neutral format, a stream of deltas back.

A provider turns `ChatRequest` into one wire protocol and yields `StreamDelta`s as the bytes arrive.
Breaking out of the iteration (or cancelling the task) must close the HTTP response at once; the
thinking budget relies on it. Failures are raised as `ProviderError`, never as bare httpx errors.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Literal, Protocol, Union

from pydantic import BaseModel, Field

from agent.messages import Message


class ToolSpec(BaseModel):
    """A tool as the model sees it: name, description and a JSON schema for its input."""

    name: str
    description: str
    parameters: dict[str, Any]


class ChatRequest(BaseModel):
    model: str
    messages: list[Message]
    tools: list[ToolSpec] = Field(default_factory=list)  # empty = no native tools (text-tool mode)
    think: bool | None = None  # None = the server's default; False = force thinking off
    temperature: float
    context_size: int
    max_output_tokens: int | None = None
    keep_alive: str | int | None = None
    # Passed through to the body unchanged (e.g. chat_template_kwargs for llama.cpp).
    extra_body: dict[str, Any] = Field(default_factory=dict)


class TextChunk(BaseModel):
    kind: Literal["text"] = "text"
    text: str


class ReasoningChunk(BaseModel):
    kind: Literal["reasoning"] = "reasoning"
    text: str


class ToolCallChunk(BaseModel):
    """A fragment of a native tool call. Ollama sends whole calls (one chunk each, `arguments`
    already a dict); OpenAI-compatible servers send an id/name first, then argument string pieces,
    all keyed by `index`. The provider's caller assembles them with `ToolCallAssembler`."""

    kind: Literal["tool_call"] = "tool_call"
    index: int
    id: str | None = None
    name: str | None = None
    arguments_fragment: str = ""
    arguments: dict[str, Any] | None = None


class StreamUsage(BaseModel):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    # llama.cpp `timings` verbatim (prompt_n, cache_n, prompt_ms, predicted_n, ...) when present.
    timings: dict[str, Any] = Field(default_factory=dict)


class StreamEnd(BaseModel):
    kind: Literal["end"] = "end"
    finish_reason: str | None = None  # "stop", "tool_calls", "length", ...
    usage: StreamUsage = Field(default_factory=StreamUsage)


StreamDelta = Union[TextChunk, ReasoningChunk, ToolCallChunk, StreamEnd]

ErrorKind = Literal[
    "connection",  # nothing listening / DNS / refused
    "http",  # 4xx/5xx with the server's message
    "model_not_found",
    "tools_unsupported",  # the server rejected the `tools` field: switch to text-tool mode
    "thinking_unsupported",  # the server rejected thinking (`think`, `chat_template_kwargs`): stop asking
    "context_overflow",
    "stream_cut",  # the stream ended before its terminator
    "stall",  # no byte for stall_timeout seconds
    "bad_response",  # bytes that are not the protocol
]


class ProviderError(Exception):
    """A model-server failure the user can act on. `hint` says what to do."""

    def __init__(self, kind: ErrorKind, message: str, *, hint: str = "", status: int | None = None,
                 url: str = "") -> None:
        self.kind = kind
        self.message = message
        self.hint = hint
        self.status = status
        self.url = url
        super().__init__(self.user_message())

    def user_message(self) -> str:
        text = self.message
        if self.hint:
            text += f" — {self.hint}"
        return text


class Provider(Protocol):
    name: str  # "ollama" | "openai"
    base_url: str

    def stream(self, request: ChatRequest) -> AsyncGenerator[StreamDelta, None]:
        """Yield deltas until (and including) one StreamEnd; raise ProviderError on failure."""
        ...

    async def list_models(self) -> list[str]: ...

    async def loading(self, model: str) -> bool:
        """Whether the server is loading `model` into memory right now (best effort: False when it
        cannot tell). Asked while a request waits for its first byte, to say why it waits."""
        ...

    async def aclose(self) -> None: ...
