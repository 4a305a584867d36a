"""`/v1/chat/completions` as llama.cpp's llama-server streams it: SSE `data:` events holding
`chat.completion.chunk`s (role first, `reasoning_content`, `content`, tool calls as an id/name delta
that already carries the first piece of the arguments, then argument string pieces), a finish_reason
chunk, a usage chunk with llama.cpp `timings` when `stream_options.include_usage` is set (without it
the timings ride on the finish_reason chunk), and `data: [DONE]`. Errors are
`{"error": {"code", "message", "type"}}`.

Checked field by field against a real llama-server (tests/realmodel/test_wire_openai.py); what
differed before and was corrected: choices carry no `logprobs` key, the first tool-call delta holds
argument text (not ""), timings come on the finish chunk when no usage chunk is asked for, and a
whole (non-streamed) message has `content: ""` rather than null when it only calls tools."""

from __future__ import annotations

import random
import string
import time
from collections.abc import Iterator
from typing import Any, ClassVar

from agent import tokens
from tests.fakes.script import Fault, Reply
from tests.fakes.wire import Complete, Frame, dumps, prompt_tokens, token_pieces

CONTENT_TYPE = "text/event-stream"
FINGERPRINT = "b6500-5f1d2c3a"
_ENDLESS_TEXT = "and the answer keeps going, one more clause after another, "


def _random_id(length: int = 32) -> str:
    return "".join(random.choices(string.ascii_letters + string.digits, k=length))


class OpenAIWire:
    content_type = CONTENT_TYPE
    stream_headers: ClassVar[list[tuple[str, str]]] = [("Server", "llama.cpp"), ("Access-Control-Allow-Origin", "*")]

    def __init__(self, reply: Reply, body: dict[str, Any], *, chunk_tokens: int, n_ctx: int) -> None:
        self.reply = reply
        self.body = body
        self.model = str(body.get("model") or "")
        self.chunk_tokens = chunk_tokens
        self.n_ctx = n_ctx
        self.id = f"chatcmpl-{_random_id()}"
        self.created = int(time.time())
        options = body.get("stream_options")
        self.include_usage = isinstance(options, dict) and bool(options.get("include_usage"))

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {"choices": choices, "created": self.created, "id": self.id, "model": self.model,
                "system_fingerprint": FINGERPRINT, "object": "chat.completion.chunk", **extra}

    def _delta(self, delta: dict[str, Any], tokens: int = 0, finish: str | None = None) -> Frame:
        choice = {"finish_reason": finish, "index": 0, "delta": delta}
        return _event(self._chunk([choice]), tokens)

    def _pieces(self) -> list[Frame]:
        reply = self.reply
        frames = [self._delta({"role": "assistant", "content": None})]
        if reply.think_tags and reply.reasoning:
            frames += [self._delta({"content": p}, n)
                       for p, n in token_pieces(f"<think>{reply.reasoning}</think>", self.chunk_tokens)]
        else:
            frames += [self._delta({"reasoning_content": p}, n) for p, n in token_pieces(reply.reasoning,
                                                                                       self.chunk_tokens)]
        frames += [self._delta({"content": p}, n) for p, n in token_pieces(reply.text, self.chunk_tokens)]
        for index, call in enumerate(reply.calls):
            pieces = token_pieces(call.arguments_text(), self.chunk_tokens) or [("", 0)]
            (first, first_n), rest = pieces[0], pieces[1:]
            head = {"index": index, "id": call.id or _random_id(), "type": "function",
                    "function": {"name": call.name, "arguments": first}}
            frames.append(self._delta({"tool_calls": [head]}, tokens.count(call.name) + first_n))
            for piece, n in rest:
                frames.append(self._delta({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}, n))
        return frames

    def _usage(self, generated: int) -> dict[str, Any]:
        reply = self.reply
        prompt = reply.prompt_tokens if reply.prompt_tokens is not None else prompt_tokens(self.body)
        completion = reply.completion_tokens if reply.completion_tokens is not None else generated
        cached = min(reply.cached_tokens or 0, prompt)
        evaluated = prompt - cached
        prompt_ms, predicted_ms = evaluated * 1.0 + 0.5, completion * 10.0 + 0.5
        timings = {
            "cache_n": cached,
            "prompt_n": evaluated,
            "prompt_ms": prompt_ms,
            "prompt_per_token_ms": prompt_ms / max(evaluated, 1),
            "prompt_per_second": 1000.0 * evaluated / prompt_ms,
            "predicted_n": completion,
            "predicted_ms": predicted_ms,
            "predicted_per_token_ms": predicted_ms / max(completion, 1),
            "predicted_per_second": 1000.0 * completion / predicted_ms,
            **reply.timings,
        }
        usage = {"completion_tokens": completion, "prompt_tokens": prompt, "total_tokens": prompt + completion,
                 "prompt_tokens_details": {"cached_tokens": cached}}
        return {"usage": usage, "timings": timings}

    def _ending(self, generated: int, finish: str) -> list[Frame]:
        choice = {"finish_reason": finish, "index": 0, "delta": {}}
        if self.include_usage:
            frames = [_event(self._chunk([choice])), _event(self._chunk([], **self._usage(generated)))]
        else:
            frames = [_event(self._chunk([choice], timings=self._usage(generated)["timings"]))]
        frames.append(Frame(b"data: [DONE]\n\n"))
        return frames

    def frames(self) -> list[Frame]:
        frames = self._pieces()
        finish = self.reply.finish_reason or ("tool_calls" if self.reply.calls else "stop")
        return frames + self._ending(sum(f.tokens for f in frames), finish)

    def endless(self, cap_tokens: int) -> Iterator[Frame]:
        yield self._delta({"role": "assistant", "content": None})
        sent = 0
        pieces = token_pieces(_ENDLESS_TEXT, self.chunk_tokens)
        while sent < cap_tokens:
            for piece, n in pieces:
                sent += n
                yield self._delta({"content": piece}, n)
        yield from self._ending(sent, "length")

    def raw_text_frame(self, raw: bytes) -> Frame:
        template = self._delta({"content": "\x00"}).data
        return Frame(template.replace(b"\\u0000", raw), 1)

    def garbage_frame(self) -> Frame:
        return Frame(b'data: {"choices": [ this is not json\n\n')

    def padding_frame(self, size: int) -> Frame:
        # A well-formed event that carries nothing for the client: no choices, plus a field it ignores.
        empty = _event(self._chunk([], padding="")).data
        return Frame(empty.replace(b'"padding":""', b'"padding":"' + b"x" * max(0, size - len(empty)) + b'"'))

    def keepalive_frames(self) -> list[Frame]:
        return [Frame(b": ping\n\n"), self._delta({}), self._delta({"content": ""}), _event(self._chunk([]))]

    def error_frame(self, message: str) -> Frame:
        return _event({"error": {"code": 500, "message": message, "type": "server_error"}})

    def error_reply(self, fault: Fault) -> Complete:
        if fault == "http_503_empty":
            return Complete(503, b"", "text/plain; charset=utf-8")
        prompt = prompt_tokens(self.body)
        status, message, kind, extra = {
            "http_500": (500, "the model failed to decode the batch", "server_error", {}),
            "http_503": (503, "Loading model", "unavailable_error", {}),
            "model_not_found": (404, f"model '{self.model}' not found", "not_found_error", {}),
            "tools_unsupported": (500, "tools param requires --jinja flag", "server_error", {}),
            "context_overflow": (400, f"request ({prompt} tokens) exceeds the available context size "
                                      f"({self.n_ctx} tokens), try increasing it", "exceed_context_size_error",
                                 {"n_prompt_tokens": prompt, "n_ctx": self.n_ctx}),
        }[fault]
        return Complete(status, dumps({"error": {"code": status, "message": message, "type": kind, **extra}}))

    def complete(self) -> Complete:
        reply = self.reply
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.think_tags and reply.reasoning:
            message["content"] = f"<think>{reply.reasoning}</think>{reply.text}"
        elif reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        if reply.calls:
            message["tool_calls"] = [
                {"id": c.id or _random_id(), "type": "function",
                 "function": {"name": c.name, "arguments": c.arguments_text()}}
                for c in reply.calls
            ]
        generated = sum(f.tokens for f in self._pieces())
        finish = reply.finish_reason or ("tool_calls" if reply.calls else "stop")
        obj = {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
               "system_fingerprint": FINGERPRINT,
               "choices": [{"finish_reason": finish, "index": 0, "message": message}],
               **self._usage(generated)}
        return Complete(200, dumps(obj))


def _event(obj: dict[str, Any], tokens: int = 0) -> Frame:
    return Frame(b"data: " + dumps(obj) + b"\n\n", tokens)
