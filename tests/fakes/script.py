"""What the scripted model server says: one `Reply` per chat request, optionally with a fault.

Replies are pydantic models so a script can live in a JSON file for servers started as a separate
process (editor tests). `Call("Write", {...})` and `Reply("Done.")` accept their main field
positionally to keep scripts short.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Fault = Literal[
    "http_500",  # status 500 with the protocol's JSON error body
    "http_503_empty",  # status 503, no body at all
    "model_not_found",  # 404 the way the server words it
    "tools_unsupported",  # the server refuses the request's `tools`
    "context_overflow",  # the prompt is larger than the server's context
    "cut",  # the connection closes mid-stream, no terminator
    "stall",  # nothing is sent for `stall_seconds` mid-stream, then the stream goes on
    "garbage",  # a line / event that is not JSON mid-stream
    "invalid_utf8",  # a content piece with bytes that are not UTF-8 (the stream is otherwise fine)
    "stream_error",  # an error object mid-stream, then the response ends
    "never_ends",  # text keeps coming until the client disconnects (or a cap)
    # The chaos additions (tests/fakes/chaos.py picks among them by seed):
    "http_503",  # status 503 with the protocol's JSON error body ("loading model")
    "reset",  # the connection is reset (RST, SO_LINGER 0) mid-stream
    "truncated",  # half a line / SSE event, then the response ends cleanly (chunked terminator)
    "huge_line",  # one extra line of `huge_line_bytes` (a field clients ignore), then the stream goes on
    "tiny_chunks",  # the whole body goes out in HTTP chunks of `tiny_chunk_bytes` bytes
    # Mid-stream, keep-alives for ever (one every `keepalive_interval` s) until the client leaves: blank
    # lines and empty-content lines (Ollama); `: ping` comments, empty deltas and "" content (OpenAI).
    "keepalive",
]
HTTP_FAULTS = frozenset({"http_500", "http_503", "http_503_empty", "model_not_found", "tools_unsupported",
                         "context_overflow"})


class Call(BaseModel):
    """A native tool call. `arguments` may be a string: it is sent verbatim (e.g. broken JSON)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    id: str | None = None  # None: the server makes one up (OpenAI) or sends none (Ollama)

    def __init__(self, name: str | None = None, arguments: dict[str, Any] | str | None = None, /,
                 **data: Any) -> None:
        if name is not None:
            data["name"] = name
        if arguments is not None:
            data["arguments"] = arguments
        super().__init__(**data)

    def arguments_text(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = ""
    reasoning: str = ""
    calls: list[Call] = Field(default_factory=list)
    # Reasoning inside the content as <think>…</think>, as servers that do not split it send it.
    think_tags: bool = False
    finish_reason: str | None = None  # None: "tool_calls"/"stop" (OpenAI), "stop" (Ollama)
    prompt_tokens: int | None = None  # None: tiktoken count of the request's messages
    completion_tokens: int | None = None  # None: tokens actually streamed
    cached_tokens: int | None = None  # OpenAI usage / llama.cpp cache_n; None: 0
    timings: dict[str, Any] = Field(default_factory=dict)  # merged over the generated llama.cpp timings
    fault: Fault | None = None
    fault_after: int = 2  # mid-stream faults strike after this many stream pieces
    stall_seconds: float = 2.0
    delay: float = 0.0  # seconds before the response starts (before any header)
    tokens_per_second: float | None = None  # overrides the server's pacing for this reply
    never_ends_cap: int = 200_000  # tokens after which a never-ending stream gives up
    huge_line_bytes: int = 1_000_000
    tiny_chunk_bytes: int = 1
    keepalive_interval: float = 0.1

    def __init__(self, text: str | None = None, /, **data: Any) -> None:
        if text is not None:
            data["text"] = text
        super().__init__(**data)


class ServerScript(BaseModel):
    """The JSON file format of the server's command line: the replies and optional settings."""

    model_config = ConfigDict(extra="forbid")

    replies: list[Reply] = Field(default_factory=list)
    default_reply: Reply | None = None
    model: str | None = None
    capabilities: list[str] | None = None
    n_ctx: int | None = None
    context_length: int | None = None

    @classmethod
    def load(cls, path: Path) -> ServerScript:
        """A file holding either this object or just the list of replies."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if isinstance(data, list):
            data = {"replies": data}
        return cls.model_validate(data)
