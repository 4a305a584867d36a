"""The protocol-neutral half of the scripted server: stream steps, token pieces, fault placement.

A wire module (wire_ollama, wire_openai) turns a Reply into the bytes its real server would send,
as a list of `Frame`s (one NDJSON line or SSE event each). `plan()` then decides what the server does:
answer with an error, stream the frames, or stream them with a fault spliced in.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from agent import tokens
from tests.fakes.script import HTTP_FAULTS, Fault, Reply


@dataclass(frozen=True)
class Frame:
    """One unit on the wire; `tokens` is how many generated tokens it carries."""

    data: bytes
    tokens: int = 0


@dataclass(frozen=True)
class Stall:
    seconds: float


@dataclass(frozen=True)
class Cut:
    """Close the connection at once, without the stream's terminator."""


@dataclass(frozen=True)
class Reset:
    """Abort the connection with a TCP reset (RST), as a crashed host or a killed proxy does."""


Step = Frame | Stall | Cut | Reset


@dataclass(frozen=True)
class Complete:
    """A whole (non-streamed) HTTP answer."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"


@dataclass
class Streamed:
    content_type: str
    steps: Iterator[Step]
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunk_bytes: int | None = None  # cut the body into HTTP chunks of this many bytes (None: one per frame)


class Wire(Protocol):
    content_type: str
    stream_headers: ClassVar[list[tuple[str, str]]]

    def frames(self) -> list[Frame]: ...

    def endless(self, cap_tokens: int) -> Iterator[Frame]: ...

    def raw_text_frame(self, raw: bytes) -> Frame: ...

    def garbage_frame(self) -> Frame: ...

    def padding_frame(self, size: int) -> Frame: ...

    def keepalive_frames(self) -> list[Frame]:
        """Frames that keep the connection busy and carry no output, sent in turn by the keepalive fault."""
        ...

    def error_frame(self, message: str) -> Frame: ...

    def error_reply(self, fault: Fault) -> Complete: ...

    def complete(self) -> Complete: ...


def plan(wire: Wire, reply: Reply, streaming: bool) -> Complete | Streamed:
    if reply.fault in HTTP_FAULTS:
        return wire.error_reply(reply.fault)
    if not streaming:
        return wire.complete()
    if reply.fault == "never_ends":
        return Streamed(wire.content_type, iter(wire.endless(reply.never_ends_cap)), wire.stream_headers)
    chunk_bytes = max(1, reply.tiny_chunk_bytes) if reply.fault == "tiny_chunks" else None
    return Streamed(wire.content_type, _with_fault(wire, reply), wire.stream_headers, chunk_bytes)


def _with_fault(wire: Wire, reply: Reply) -> Iterator[Step]:
    frames = wire.frames()
    # Never after the terminator: a fault there would not be a fault.
    at = min(reply.fault_after, len(frames) - 1) if reply.fault else len(frames)
    for position, frame in enumerate(frames):
        if position == at:
            if reply.fault == "cut":
                yield Cut()
                return
            if reply.fault == "reset":
                yield Reset()
                return
            if reply.fault == "truncated":
                # At least one byte, never the whole line: the newline that would end it is missing.
                yield Frame(frame.data[: max(1, len(frame.data.rstrip(b"\n")) // 2)])
                return
            if reply.fault == "huge_line":
                yield wire.padding_frame(reply.huge_line_bytes)
            if reply.fault == "keepalive":
                for keepalive in itertools.cycle(wire.keepalive_frames()):
                    yield Stall(reply.keepalive_interval)
                    yield keepalive
            if reply.fault == "stall":
                yield Stall(reply.stall_seconds)
            elif reply.fault == "garbage":
                yield wire.garbage_frame()
            elif reply.fault == "invalid_utf8":
                yield wire.raw_text_frame(b"caf\xc3\xa9 \xff\xfe\xfd ok ")
            elif reply.fault == "stream_error":
                yield wire.error_frame("the model runner stopped unexpectedly")
                return
        yield frame


def token_pieces(text: str, size: int) -> list[tuple[str, int]]:
    """`text` cut every `size` tokens: (piece, tokens in it). Multi-byte characters split by a token
    boundary are carried to the next piece, so every piece is valid text."""
    if not text:
        return []
    encoding = tokens.encoding()
    ids = encoding.encode(text, disallowed_special=())
    pieces: list[tuple[str, int]] = []
    pending = b""
    count = 0
    for start in range(0, len(ids), max(1, size)):
        group = ids[start : start + max(1, size)]
        pending += encoding.decode_bytes(group)
        count += len(group)
        cut = _complete_utf8_prefix(pending)
        if cut:
            pieces.append((pending[:cut].decode("utf-8"), count))
            pending, count = pending[cut:], 0
    if pending or count:
        tail = pending.decode("utf-8", errors="replace")
        if pieces and not tail:
            last, n = pieces[-1]
            pieces[-1] = (last, n + count)
        else:
            pieces.append((tail, count))
    return pieces


def _complete_utf8_prefix(data: bytes) -> int:
    """Length of the longest prefix of `data` that does not end inside a UTF-8 sequence."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # a lead byte (or ASCII): does its sequence fit?
            need = 1 if byte < 0x80 else 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4
            return len(data) if need <= back else len(data) - back
    return len(data)


def prompt_tokens(body: dict[str, Any]) -> int:
    """tiktoken count of everything in the request's messages (what a real server would evaluate,
    give or take its chat template)."""
    total = 0
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            continue
        parts: list[str] = []
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
        for call in message.get("tool_calls") or ():
            function = call.get("function", {}) if isinstance(call, dict) else {}
            parts.append(str(function.get("name", "")))
            arguments = function.get("arguments", "")
            parts.append(arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False))
        total += tokens.count("\n".join(p for p in parts if p))
    return total


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
