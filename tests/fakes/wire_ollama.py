"""Ollama's `/api/chat` as Ollama writes it: NDJSON, thinking and content in separate lines, tool
calls whole in one line with object arguments, a final `done: true` line with durations and counts.
Errors are `{"error": "..."}` (with the HTTP status, or as a line mid-stream)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from agent import tokens
from tests.fakes.script import Fault, Reply
from tests.fakes.wire import Complete, Frame, dumps, prompt_tokens, token_pieces

CONTENT_TYPE = "application/x-ndjson"
_ENDLESS_TEXT = "and the answer keeps going, one more clause after another, "


class OllamaWire:
    content_type = CONTENT_TYPE
    stream_headers: ClassVar[list[tuple[str, str]]] = []

    def __init__(self, reply: Reply, body: dict[str, Any], *, chunk_tokens: int, n_ctx: int) -> None:
        self.reply = reply
        self.body = body
        self.model = str(body.get("model") or "")
        self.chunk_tokens = chunk_tokens
        self.n_ctx = n_ctx

    def _line(self, message: dict[str, Any], tokens: int = 0, **extra: Any) -> Frame:
        obj = {"model": self.model, "created_at": _now(), "message": {"role": "assistant", **message},
               "done": False, **extra}
        return Frame(dumps(obj) + b"\n", tokens)

    def _pieces(self) -> list[Frame]:
        reply = self.reply
        frames: list[Frame] = []
        if reply.think_tags and reply.reasoning:
            for piece, n in token_pieces(f"<think>{reply.reasoning}</think>", self.chunk_tokens):
                frames.append(self._line({"content": piece}, n))
        else:
            for piece, n in token_pieces(reply.reasoning, self.chunk_tokens):
                frames.append(self._line({"content": "", "thinking": piece}, n))
        for piece, n in token_pieces(reply.text, self.chunk_tokens):
            frames.append(self._line({"content": piece}, n))
        if reply.calls:
            calls = []
            for call in reply.calls:
                entry: dict[str, Any] = {"function": {"name": call.name, "arguments": call.arguments}}
                if call.id:
                    entry["id"] = call.id
                calls.append(entry)
            n = sum(tokens.count(c.name) + tokens.count(c.arguments_text()) for c in reply.calls)
            frames.append(self._line({"content": "", "tool_calls": calls}, n))
        return frames

    def _final(self, generated: int) -> dict[str, Any]:
        reply = self.reply
        prompt = reply.prompt_tokens if reply.prompt_tokens is not None else prompt_tokens(self.body)
        completion = reply.completion_tokens if reply.completion_tokens is not None else generated
        prompt_ns, eval_ns, load_ns = prompt * 1_000_000, completion * 10_000_000, 20_000_000
        return {
            "done_reason": reply.finish_reason or "stop",
            "done": True,
            "total_duration": load_ns + prompt_ns + eval_ns,
            "load_duration": load_ns,
            "prompt_eval_count": prompt,
            "prompt_eval_duration": prompt_ns,
            "eval_count": completion,
            "eval_duration": eval_ns,
        }

    def frames(self) -> list[Frame]:
        frames = self._pieces()
        final = self._final(sum(f.tokens for f in frames))
        frames.append(self._line({"content": ""}, **final))
        return frames

    def endless(self, cap_tokens: int) -> Iterator[Frame]:
        sent = 0
        pieces = token_pieces(_ENDLESS_TEXT, self.chunk_tokens)
        while sent < cap_tokens:
            for piece, n in pieces:
                sent += n
                yield self._line({"content": piece}, n)
        yield self._line({"content": ""}, **{**self._final(sent), "done_reason": "length"})

    def raw_text_frame(self, raw: bytes) -> Frame:
        # The bytes go inside the JSON string untouched, as a server with a broken decoder would send them.
        template = self._line({"content": "\x00"}).data
        return Frame(template.replace(b"\\u0000", raw), 1)

    def garbage_frame(self) -> Frame:
        return Frame(b"upstream connect error or disconnect/reset before headers\n")

    def padding_frame(self, size: int) -> Frame:
        # A well-formed line that carries nothing for the client: an empty piece plus a field it ignores.
        empty = self._line({"content": ""}, padding="").data
        return Frame(empty.replace(b'"padding":""', b'"padding":"' + b"x" * max(0, size - len(empty)) + b'"'))

    def keepalive_frames(self) -> list[Frame]:
        return [Frame(b"\n"), self._line({"content": ""}), Frame(b"  \r\n")]

    def error_frame(self, message: str) -> Frame:
        return Frame(dumps({"error": message}) + b"\n")

    def error_reply(self, fault: Fault) -> Complete:
        if fault == "http_503_empty":
            return Complete(503, b"", "text/plain; charset=utf-8")
        status, message = {
            "http_500": (500, "llama runner process has terminated: exit status 2"),
            "http_503": (503, "server busy, please try again.  maximum pending requests exceeded"),
            "model_not_found": (404, f"model '{self.model}' not found"),
            "tools_unsupported": (400, f"registry.ollama.ai/library/{self.model} does not support tools"),
            "context_overflow": (400, f"input length ({prompt_tokens(self.body)} tokens) exceeds the context "
                                      f"length ({self.n_ctx} tokens)"),
        }[fault]
        return Complete(status, dumps({"error": message}))

    def complete(self) -> Complete:
        reply = self.reply
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.think_tags and reply.reasoning:
            message["content"] = f"<think>{reply.reasoning}</think>{reply.text}"
        elif reply.reasoning:
            message["thinking"] = reply.reasoning
        if reply.calls:
            message["tool_calls"] = [{"function": {"name": c.name, "arguments": c.arguments}} for c in reply.calls]
        generated = sum(f.tokens for f in self._pieces())
        obj = {"model": self.model, "created_at": _now(), "message": message, **self._final(generated)}
        return Complete(200, dumps(obj))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
