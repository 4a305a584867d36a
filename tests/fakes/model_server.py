"""A scripted model server: real HTTP on 127.0.0.1 that answers like Ollama or llama.cpp's server.

It runs in its own thread with its own event loop, so sync tests, async tests, subprocesses (CLI,
language server, editors) and benchmarks can all talk to it::

    from tests.fakes.model_server import ScriptedModelServer, Reply, Call

    with ScriptedModelServer("ollama", [
        Reply(reasoning="let me think", text="I'll create it.",
              calls=[Call("Write", {"file_path": "a.py", "content": "x = 1\\n"})]),
        Reply("Done."),
    ]) as server:
        ...  # point the code under test at server.base_url
        server.requests        # chat request bodies, in order
        server.wait_finished() # RequestLog per chat request once all have ended

Each chat request takes the next Reply (or asks `replies(body, index)` when it is a callable); once
the script runs out, `default_reply` answers and the log marks the request `exhausted`. Replies are
streamed in pieces of `chunk_tokens` tiktoken tokens, optionally paced at `tokens_per_second`, in the
exact wire format of the protocol, with faults on request (see tests/fakes/script.py).

As a process (for editor tests)::

    python -m tests.fakes.model_server --protocol ollama --script script.json [--port N] [--log out.jsonl]
                                       [--chaos SEED [--chaos-rate 0.5]]

prints `{"base_url": ...}` on one line when ready and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent import tokens
from tests.fakes.chaos import Chaos
from tests.fakes.http_server import BadRequest, Inbound, Outbound, Request
from tests.fakes.script import Call, Fault, Reply, ServerScript
from tests.fakes.wire import Complete, Cut, Frame, Reset, Stall, Streamed, Wire, plan
from tests.fakes.wire_ollama import OllamaWire
from tests.fakes.wire_openai import FINGERPRINT, OpenAIWire

__all__ = ["Call", "Fault", "Reply", "RequestLog", "ScriptedModelServer"]

WireProtocol = Literal["ollama", "openai"]
ReplySource = Sequence[Reply] | Callable[[dict[str, Any], int], Reply]
OLLAMA_VERSION = "0.12.6"
# llama.cpp answers these without an API key even when started with --api-key.
_PUBLIC_PATHS = frozenset({"/health", "/v1/health", "/models", "/v1/models", "/api/tags"})


class RequestLog(BaseModel):
    """What happened to one chat request."""

    index: int  # 0-based position among chat requests
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    reply: Reply
    exhausted: bool = False  # the script had run out; `reply` is the default reply
    script_error: str | None = None  # the reply callable raised this; the client got HTTP 500
    status: int = 200
    tokens_sent: int = 0  # generated tokens the client was sent before the response ended
    frames_sent: int = 0  # stream units (NDJSON lines, SSE events, keep-alives included) sent
    completed: bool = False  # the response went out in full, terminator included
    client_closed_early: bool = False  # the client hung up before the response was complete
    started_at: float = Field(default_factory=time.monotonic)
    finished_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


class ScriptedModelServer:
    def __init__(
        self,
        protocol: str = "ollama",
        replies: ReplySource = (),
        *,
        chunk_tokens: int = 4,
        tokens_per_second: float | None = None,
        model: str = "qwen3.5:9b",
        models: Sequence[str] | None = None,
        capabilities: Iterable[str] = ("completion", "tools", "thinking"),
        context_length: int = 262_144,
        n_ctx: int = 32_768,
        parameters: str | None = None,
        reasoning_budget: int | None = None,
        api_key: str | None = None,
        llamacpp_tags: bool = False,
        rejects_thinking: bool | None = None,
        opens_think: bool = False,
        reasoning_format: str = "deepseek",
        default_reply: Reply | None = None,
        on_finished: Callable[[RequestLog], None] | None = None,
        load_seconds: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """`models`: what /api/tags or /v1/models list (default: just `model`). `capabilities`,
        `context_length` (the model's trained length) and `parameters` (Modelfile text) feed Ollama's
        /api/show; `n_ctx` is the server's context (llama.cpp /props, and the limit named in context
        errors); `reasoning_budget` is reported by /props when set. With `api_key`, the OpenAI
        protocol requires `Authorization: Bearer <key>` like llama-server --api-key. `llamacpp_tags`:
        the OpenAI protocol also answers /api/tags as llama-server does (`models` beside `data`),
        which is how detection must tell it from Ollama. `rejects_thinking`: chat requests that ask
        for thinking get HTTP 400 as the real server sends it — Ollama for `"think": true` (default:
        when `capabilities` lacks "thinking", as Ollama does), an OpenAI-compatible server that does
        not know `chat_template_kwargs`/`reasoning`/`reasoning_effort` (default: never, as
        llama-server accepts them); rejected requests are logged but take no scripted reply.
        `opens_think`: /props' chat template opens `<think>` at the generation prompt (QwQ, Qwen3
        thinking templates); `reasoning_format` is llama-server's (--reasoning-format; "none" hands the
        reply over raw, so it starts inside the reasoning). `on_finished`
        runs on the server thread after every chat request. `load_seconds`: how long loading the model
        takes — Ollama loads it on the first chat request, which waits meanwhile, and lists it in
        /api/ps once loaded; llama-server loads it at start, answering every request (/health, /props, its
        model list, chat) with 503 "Loading model" until then."""
        if protocol not in ("ollama", "openai"):
            raise ValueError(f"protocol must be 'ollama' or 'openai', not {protocol!r}")
        self.protocol: WireProtocol = "ollama" if protocol == "ollama" else "openai"
        self.chunk_tokens = chunk_tokens
        self.tokens_per_second = tokens_per_second
        self.model = model
        self.models = list(models) if models is not None else [model]
        self.capabilities = list(capabilities)
        self.context_length = context_length
        self.n_ctx = n_ctx
        self.parameters = parameters
        self.reasoning_budget = reasoning_budget
        self.api_key = api_key
        self.llamacpp_tags = llamacpp_tags
        self.load_seconds = load_seconds
        self._loaded_at: float | None = None  # monotonic time the model is (or will be) in memory
        if rejects_thinking is None:
            rejects_thinking = protocol == "ollama" and "thinking" not in self.capabilities
        self.rejects_thinking = rejects_thinking
        self.opens_think = opens_think
        self.reasoning_format = reasoning_format
        self.default_reply = default_reply or Reply("(script exhausted)")
        self._on_finished = on_finished
        self._host = host
        self._port = port
        self._replies: ReplySource = replies
        self._next_index = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._log: list[RequestLog] = []
        self._hits: list[str] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._startup_error: BaseException | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> ScriptedModelServer:
        if self._thread is not None:
            raise RuntimeError("the server is already running")
        tokens.encoding()  # load tiktoken here, not inside the first timed response
        if self.protocol == "openai":
            self._loaded_at = time.monotonic() + self.load_seconds
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="scripted-model-server", daemon=True)
        self._thread.start()
        if not ready.wait(15):
            raise RuntimeError("the scripted model server did not start within 15 s")
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise self._startup_error
        return self

    def stop(self) -> None:
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None:
            return
        loop.call_soon_threadsafe(stopping.set)
        thread.join(15)
        self._thread = None

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        if not self._port:
            raise RuntimeError("start the server first")
        return f"http://{self._host}:{self._port}"  # stays readable after stop(), for assertions

    # -- what happened ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Bodies of the chat requests received so far, in order."""
        with self._lock:
            return [entry.body for entry in self._log]

    @property
    def log(self) -> list[RequestLog]:
        """A snapshot of every chat request's record."""
        with self._lock:
            return [entry.model_copy() for entry in self._log]

    @property
    def hits(self) -> list[str]:
        """Every request received, chat or not, as "METHOD /path"."""
        with self._lock:
            return list(self._hits)

    @property
    def exhausted(self) -> int:
        """How many chat requests found the script used up."""
        with self._lock:
            return sum(entry.exhausted for entry in self._log)

    def wait_finished(self, count: int | None = None, timeout: float = 5.0) -> list[RequestLog]:
        """Block until at least `count` chat requests (default: all received so far, at least one)
        have ended, however they ended; return the log. Raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                want = count if count is not None else max(1, len(self._log))
                if len(self._log) >= want and all(entry.finished for entry in self._log[:want]):
                    return [entry.model_copy() for entry in self._log]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    states = [e.model_dump(include={"index", "tokens_sent", "finished_at"}) for e in self._log]
                    raise TimeoutError(f"{want} chat request(s) had not finished after {timeout} s: {states}")
                self._changed.wait(remaining)

    def replace_replies(self, replies: ReplySource) -> None:
        """A new script for the requests that follow (the reply counter starts again at 0)."""
        with self._lock:
            self._replies = replies
            self._next_index = 0

    # -- the server thread ---------------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ready))
        finally:
            loop.close()

    async def _serve(self, ready: threading.Event) -> None:
        self._stopping = asyncio.Event()
        try:
            server = await asyncio.start_server(self._connection, self._host, self._port)
        except OSError as exc:
            self._startup_error = exc
            ready.set()
            return
        self._port = server.sockets[0].getsockname()[1]
        ready.set()
        await self._stopping.wait()
        server.close()
        # A connection accepted just before close() gets its handler a few loop turns later, after the
        # first round of cancelling: it must be closed too, or its client waits on a socket nobody reads
        # (a router relaying to this server stalled until its client's stall timeout).
        await asyncio.sleep(0.05)
        while self._tasks:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await asyncio.sleep(0.01)
        await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._stopping is not None and self._stopping.is_set():
            writer.close()  # accepted as the server stopped: closed at once, as a dead server's would be
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        inbound = Inbound(reader)
        out = Outbound(writer, inbound)
        try:
            while True:
                try:
                    request = await inbound.read_request()
                except BadRequest as exc:
                    await out.send(400, str(exc).encode(), "text/plain; charset=utf-8", [("Connection", "close")])
                    break
                if request is None:
                    break
                with self._lock:
                    self._hits.append(f"{request.method} {request.path}")
                keep_open = await self._route(request, out)
                if not (keep_open and request.keep_alive) or out.client_gone:
                    break
        except asyncio.CancelledError:
            pass  # stop() is closing every connection; ending quietly keeps asyncio from logging it
        finally:
            out.close()
            self._tasks.discard(task)
            await inbound.aclose()

    # -- routing -------------------------------------------------------------------------------

    async def _route(self, request: Request, out: Outbound) -> bool:
        """Answer one request; False when the connection must not be reused."""
        key = (request.method, request.path)
        if self.protocol == "ollama":
            if key in (("GET", "/"), ("HEAD", "/")):
                return await out.send(200, b"Ollama is running", "text/plain; charset=utf-8")
            if key == ("GET", "/api/tags"):
                return await out.send_json(200, self._ollama_tags())
            if key == ("GET", "/api/version"):
                return await out.send_json(200, {"version": OLLAMA_VERSION})
            if key == ("GET", "/api/ps"):
                loaded = not self.load_seconds or (self._loaded_at is not None and not self._loading())
                return await out.send_json(200, {"models": [{"name": self.model, "model": self.model}] if loaded
                                                 else []})
            if key == ("POST", "/api/show"):
                return await self._ollama_show(request, out)
            if key == ("POST", "/api/chat"):
                return await self._chat(request, out)
            return await out.send(404, b"404 page not found", "text/plain")
        authorized = request.headers.get("authorization") == f"Bearer {self.api_key}"
        if self.api_key and request.path not in _PUBLIC_PATHS and not authorized:
            return await out.send_json(401, _openai_error(401, "Invalid API Key", "authentication_error"))
        if self._loading():
            return await out.send_json(503, _openai_error(503, "Loading model", "unavailable_error"))
        if key in (("GET", "/health"), ("GET", "/v1/health")):
            return await out.send_json(200, {"status": "ok"})
        llamacpp_tags = self.llamacpp_tags and key == ("GET", "/api/tags")
        if key in (("GET", "/v1/models"), ("GET", "/models")) or llamacpp_tags:
            return await out.send_json(200, self._openai_models())
        if key == ("GET", "/props"):
            return await out.send_json(200, self._props())
        if key == ("POST", "/tokenize"):
            return await self._tokenize(request, out)
        if key in (("POST", "/v1/chat/completions"), ("POST", "/chat/completions")):
            return await self._chat(request, out)
        return await out.send_json(404, _openai_error(404, "File Not Found", "not_found_error"))

    def _loading(self) -> bool:
        return self._loaded_at is not None and time.monotonic() < self._loaded_at

    def _ollama_tags(self) -> dict[str, Any]:
        return {"models": [
            {"name": name, "model": name, "modified_at": "2025-09-01T10:00:00.000000Z", "size": 6_600_000_000,
             "digest": hashlib.sha256(name.encode()).hexdigest(),
             "details": {"parent_model": "", "format": "gguf", "family": "qwen35", "families": ["qwen35"],
                         "parameter_size": "9.0B", "quantization_level": "Q4_K_M"}}
            for name in self.models
        ]}

    async def _ollama_show(self, request: Request, out: Outbound) -> bool:
        try:
            body = request.json()
        except ValueError:
            return await out.send_json(400, {"error": "invalid request body"})
        name = (body or {}).get("model") or (body or {}).get("name")
        if name not in self.models:
            return await out.send_json(404, {"error": f"model '{name}' not found"})
        show: dict[str, Any] = {
            "license": "",
            "modelfile": f"# Modelfile generated by \"ollama show\"\nFROM {name}\n",
            "template": "{{ .Prompt }}",
            "details": {"parent_model": "", "format": "gguf", "family": "qwen35", "families": ["qwen35"],
                        "parameter_size": "9.0B", "quantization_level": "Q4_K_M"},
            "model_info": {"general.architecture": "qwen35", "general.parameter_count": 9_000_000_000,
                           "qwen35.context_length": self.context_length, "qwen35.embedding_length": 4096},
            "capabilities": self.capabilities,
            "modified_at": "2025-09-01T10:00:00.000000Z",
        }
        if self.parameters:
            show["parameters"] = self.parameters
        return await out.send_json(200, show)

    def _openai_models(self) -> dict[str, Any]:
        return {
            "models": [{"name": name, "model": name, "type": "model", "capabilities": ["completion"]}
                       for name in self.models],
            "object": "list",
            "data": [{"id": name, "object": "model", "created": int(time.time()), "owned_by": "llamacpp",
                      "meta": {"n_ctx_train": self.context_length, "n_params": 9_000_000_000}}
                     for name in self.models],
        }

    def _props(self) -> dict[str, Any]:
        params: dict[str, Any] = {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "n_predict": -1,
                                  "max_tokens": -1, "reasoning_format": self.reasoning_format}
        if self.reasoning_budget is not None:
            params["reasoning_budget_tokens"] = self.reasoning_budget
        tools = "tools" in self.capabilities
        thinking = "{% if enable_thinking %}<think>{% endif %}" if "thinking" in self.capabilities else ""
        if self.opens_think:
            thinking = "<think>\n"
        return {
            "default_generation_settings": {"id": 0, "id_task": -1, "n_ctx": self.n_ctx, "speculative": False,
                                            "is_processing": False, "params": params},
            "total_slots": 1,
            "model_alias": self.model,
            "model_path": f"/models/{self.model}.gguf",
            "modalities": {"vision": False, "audio": False},
            "chat_template": "{% for message in messages %}<|im_start|>{{ message.role }}\n"
                             "{{ message.content }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n" + thinking,
            "chat_template_caps": {"supports_tools": tools, "supports_tool_calls": tools,
                                   "supports_parallel_tool_calls": tools, "supports_system_role": True},
            "bos_token": "",
            "eos_token": "<|im_end|>",
            "build_info": FINGERPRINT,
        }

    async def _tokenize(self, request: Request, out: Outbound) -> bool:
        try:
            body = request.json() or {}
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("content"), str):
            return await out.send_json(400, _openai_error(400, "\"content\" must be a string", "invalid_request_error"))
        return await out.send_json(200, {"tokens": tokens.encode(body["content"])})

    # -- chat ----------------------------------------------------------------------------------

    async def _chat(self, request: Request, out: Outbound) -> bool:
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            error = ({"error": "invalid request body"} if self.protocol == "ollama"
                     else _openai_error(400, "the body is not a JSON object", "invalid_request_error"))
            return await out.send_json(400, error)
        if self.rejects_thinking and (refusal := self._thinking_refusal(body)) is not None:
            return await self._reject(request, body, refusal, out)
        if self.protocol == "ollama" and self.load_seconds:
            if self._loaded_at is None:
                self._loaded_at = time.monotonic() + self.load_seconds
            if self._loading() and await out.wait_gone(self._loaded_at - time.monotonic()):
                return False
        entry = self._record(request, body)
        if entry.script_error is not None:
            message = f"the test script raised {entry.script_error}"
            self._update(entry, status=500)
            sent = await out.send_json(500, {"error": message} if self.protocol == "ollama"
                                       else _openai_error(500, message, "server_error"))
            self._finish(entry, completed=sent, closed=not sent)
            return sent
        wire: Wire
        if self.protocol == "ollama":
            wire = OllamaWire(entry.reply, body, chunk_tokens=self.chunk_tokens, n_ctx=self.n_ctx)
            streaming = body.get("stream", True) is not False
        else:
            wire = OpenAIWire(entry.reply, body, chunk_tokens=self.chunk_tokens, n_ctx=self.n_ctx)
            streaming = body.get("stream") is True
        action = plan(wire, entry.reply, streaming)
        try:
            if entry.reply.delay and await out.wait_gone(entry.reply.delay):
                self._finish(entry, completed=False, closed=True)
                return False
            if isinstance(action, Complete):
                self._update(entry, status=action.status)
                sent = await out.send(action.status, action.body, action.content_type)
                self._finish(entry, completed=sent, closed=not sent)
                return sent
            return await self._stream(entry, action, out)
        finally:
            if entry.finished_at is None:  # cancelled by stop(): still record the end
                self._finish(entry, completed=False, closed=False)

    def _thinking_refusal(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The error body the real server sends for a request asking this model to think, else None."""
        if self.protocol == "ollama":
            return ({"error": f'"{body.get("model", self.model)}" does not support thinking'}
                    if body.get("think") is True else None)
        field = next((f for f in ("chat_template_kwargs", "reasoning", "reasoning_effort") if f in body), None)
        return (None if field is None else
                _openai_error(400, f"Unrecognized request argument supplied: {field}", "invalid_request_error"))

    async def _reject(self, request: Request, body: dict[str, Any], error: dict[str, Any], out: Outbound) -> bool:
        # Logged like any chat request, so tests see what was sent, but no scripted reply is used up.
        with self._changed:
            entry = RequestLog(index=len(self._log), path=request.path, headers=request.headers, body=body,
                               reply=self.default_reply, status=400)
            self._log.append(entry)
            self._changed.notify_all()
        sent = await out.send_json(400, error)
        self._finish(entry, completed=sent, closed=not sent)
        return sent

    async def _stream(self, entry: RequestLog, action: Streamed, out: Outbound) -> bool:
        pace = entry.reply.tokens_per_second or self.tokens_per_second
        if not await out.start_chunked(200, action.content_type, action.headers):
            self._finish(entry, completed=False, closed=True)
            return False
        for step in action.steps:
            if isinstance(step, Cut):
                out.close()
                self._finish(entry, completed=False, closed=False)
                return False
            if isinstance(step, Reset):
                out.reset()
                self._finish(entry, completed=False, closed=False)
                return False
            if isinstance(step, Stall):
                if await out.wait_gone(step.seconds):
                    self._finish(entry, completed=False, closed=True)
                    return False
                continue
            if pace and step.tokens and await out.wait_gone(step.tokens / pace):
                self._finish(entry, completed=False, closed=True)
                return False
            if not await self._send_frame(out, step.data, action.chunk_bytes):
                self._finish(entry, completed=False, closed=True)
                return False
            self._sent(entry, step)
        done = await out.end_chunked()
        self._finish(entry, completed=done, closed=not done)
        return done

    @staticmethod
    async def _send_frame(out: Outbound, data: bytes, chunk_bytes: int | None) -> bool:
        if chunk_bytes is None:
            return await out.chunk(data)
        for start in range(0, len(data), chunk_bytes):
            if not await out.chunk(data[start : start + chunk_bytes]):
                return False
        return True

    def _record(self, request: Request, body: dict[str, Any]) -> RequestLog:
        with self._lock:
            index = self._next_index
            self._next_index += 1
            replies = self._replies
        exhausted, script_error = False, None
        if callable(replies):
            try:  # outside the lock: a script may look at server.requests
                reply = replies(body, index)
            except Exception as exc:  # a broken script should fail loudly, not look like a network fault
                reply, script_error = self.default_reply, f"{type(exc).__name__}: {exc}"
        elif index < len(replies):
            reply = replies[index]
        else:
            reply, exhausted = self.default_reply, True
        if self.reasoning_budget is not None and reply.reasoning:
            # The server enforces the budget it advertises, as llama-server does: the reasoning ends
            # after that many tokens and the answer follows.
            encoding = tokens.encoding()
            cut = encoding.decode(encoding.encode(reply.reasoning)[: self.reasoning_budget])
            reply = reply.model_copy(update={"reasoning": cut})
        with self._changed:
            entry = RequestLog(index=len(self._log), path=request.path, headers=request.headers, body=body,
                               reply=reply, exhausted=exhausted, script_error=script_error)
            self._log.append(entry)
            self._changed.notify_all()
        return entry

    def _update(self, entry: RequestLog, **changes: Any) -> None:
        with self._changed:
            for name, value in changes.items():
                setattr(entry, name, value)
            self._changed.notify_all()

    def _sent(self, entry: RequestLog, frame: Frame) -> None:
        self._update(entry, tokens_sent=entry.tokens_sent + frame.tokens, frames_sent=entry.frames_sent + 1)

    def _finish(self, entry: RequestLog, *, completed: bool, closed: bool) -> None:
        self._update(entry, completed=completed, client_closed_early=closed, finished_at=time.monotonic())
        if self._on_finished is not None:
            self._on_finished(entry.model_copy())


def _openai_error(code: int, message: str, kind: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "type": kind}}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.model_server",
                                     description="Serve a scripted model over HTTP until killed.")
    parser.add_argument("--protocol", choices=("ollama", "openai"), default="ollama")
    parser.add_argument("--script", type=Path, help="JSON: a list of replies, or {\"replies\": [...], ...}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--chunk-tokens", type=int, default=4)
    parser.add_argument("--tokens-per-second", type=float, default=None)
    parser.add_argument("--log", type=Path, default=None, help="append one JSON line per finished chat request")
    parser.add_argument("--chaos", type=int, default=None, metavar="SEED",
                        help="chaos mode: splice seeded faults into the script (tests/fakes/chaos.py)")
    parser.add_argument("--chaos-rate", type=float, default=0.5, help="share of requests that get a fault")
    args = parser.parse_args(argv)

    script = ServerScript.load(args.script) if args.script else ServerScript()
    options: dict[str, Any] = {}
    for name in ("capabilities", "n_ctx", "context_length"):
        if getattr(script, name) is not None:
            options[name] = getattr(script, name)
    log_lock = threading.Lock()

    def write_log(entry: RequestLog) -> None:
        if args.log is not None:
            with log_lock, args.log.open("a", encoding="utf-8") as handle:
                handle.write(entry.model_dump_json() + "\n")

    replies: ReplySource = script.replies
    if args.chaos is not None:
        replies = Chaos(script.replies, seed=args.chaos, rate=args.chaos_rate, default_reply=script.default_reply)
    server = ScriptedModelServer(
        args.protocol, replies, chunk_tokens=args.chunk_tokens, tokens_per_second=args.tokens_per_second,
        model=args.model or script.model or "qwen3.5:9b", default_reply=script.default_reply,
        on_finished=write_log, host=args.host, port=args.port, **options,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with server:
        sys.stdout.write(json.dumps({"base_url": server.base_url, "port": server.port,
                                     "protocol": server.protocol}) + "\n")
        sys.stdout.flush()
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
