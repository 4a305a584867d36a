"""HTTP plumbing shared by the providers: timeouts, line and SSE framing, errors the user can act on.

Both wire protocols stream text over one long HTTP response. The pieces here turn raw bytes into
lines (NDJSON) or events (SSE) one at a time, so a provider yields one delta per line or event and a
caller that stops early has read at most one unit past its limit. Every httpx failure and every HTTP
error status becomes a `ProviderError` whose message names the server and whose hint says what to do.

The stall limit counts from the last real progress (text, thinking or tool-call bytes), not the last
byte: blank NDJSON lines, SSE `: ping` comments and empty deltas kept a stuck stream alive for ever.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, Literal

import httpx

from agent.providers.base import ProviderError, ReasoningChunk, StreamDelta, TextChunk, ToolCallChunk

# Where users set the model server URL: the CLI flag and the editor setting.
BASE_URL_SETTING = "--base-url, or littleCoder.baseUrl in the editor"

# A line (or SSE event) longer than this is not a protocol line; stop buffering instead of exhausting
# memory. Far above any real delta: a whole file written by one tool call is a few MB at most.
MAX_LINE_BYTES = 32 * 1024 * 1024
_EOL_BYTE = re.compile(rb"[\r\n]")
# Failures an error message can name precisely; everything else is "http" (or a stream kind).
SpecificKind = Literal["tools_unsupported", "thinking_unsupported", "context_overflow", "model_not_found"]
# Everything httpx raises: its HTTPError family plus the two that stand outside it.
HTTPX_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError)
_MAX_BODY_CHARS = 500


def server_root(base_url: str) -> str:
    """The server's root URL. OpenAI-style base URLs are often quoted with `/v1`, which we add ourselves."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def stream_timeout(connect_timeout: float, stall_timeout: float) -> httpx.Timeout:
    """`read` is the stall limit between bytes (before the first one, too); while a stream runs,
    `ProgressClock` also holds it to the gap between pieces of output."""
    return httpx.Timeout(connect=connect_timeout, read=stall_timeout, write=stall_timeout, pool=connect_timeout)


class LineSplitter:
    """Bytes in, complete lines out. Accepts LF, CRLF and lone CR endings (SSE allows all three).

    Linear in the bytes fed: each byte is scanned for a line end once, however the stream is chunked
    (rescanning the buffered start of a long line on every chunk made a 50 MB line take minutes). A
    line longer than `max_line` is refused as soon as that many bytes are buffered, so memory stays
    bounded. A CR at the very end of the buffer is held back: it may be the first half of a CRLF.
    """

    def __init__(self, max_line: int | None = None) -> None:
        self._buf = bytearray()
        self._scanned = 0  # bytes of `_buf` known to hold no line end (a held-back CR excepted)
        self._max_line = MAX_LINE_BYTES if max_line is None else max_line

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        lines: list[bytes] = []
        start = 0
        pos = self._scanned
        while (match := _EOL_BYTE.search(buf, pos)) is not None:
            end = match.start()
            if buf[end] == 0x0D:  # CR: alone, or the first half of CRLF
                if end + 1 == len(buf):
                    pos = end
                    break
                after = end + 2 if buf[end + 1] == 0x0A else end + 1
            else:
                after = end + 1
            if end - start > self._max_line:
                raise ValueError(f"a line longer than {self._max_line} bytes")
            lines.append(bytes(buf[start:end]))
            start = pos = after
        else:
            pos = len(buf)
        del buf[:start]
        self._scanned = pos - start
        if len(buf) > self._max_line:
            raise ValueError(f"a line longer than {self._max_line} bytes")
        return lines

    def flush(self) -> list[bytes]:
        """The unterminated remainder at end of stream, if any."""
        rest = bytes(self._buf).rstrip(b"\r")
        self._buf.clear()
        self._scanned = 0
        return [rest] if rest else []


@dataclass(frozen=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str | None = None


class SSEDecoder:
    """Server-sent events per the WHATWG spec: `data:` lines joined with "\\n", `:` comments
    ignored, one optional space after the colon stripped, a blank line dispatches the event, an
    event without data is dropped, and an unterminated event at end of stream is discarded.
    An event whose data grows past `max_event` characters raises ValueError (many short `data:`
    lines with no blank line between would otherwise accumulate without bound)."""

    def __init__(self, max_event: int | None = None) -> None:
        self._data: list[str] = []
        self._size = 0
        self._max_event = MAX_LINE_BYTES if max_event is None else max_event
        self._event = ""
        self._last_id: str | None = None

    def feed_line(self, line: str) -> SSEEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._size += len(value) + 1
            if self._size > self._max_event:
                raise ValueError(f"an event longer than {self._max_event} characters")
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self._last_id = value
        return None

    def _dispatch(self) -> SSEEvent | None:
        data, event = self._data, self._event
        self._data, self._event, self._size = [], "", 0
        if not data:
            return None
        return SSEEvent(data="\n".join(data), event=event or "message", id=self._last_id)


async def iter_lines(response: httpx.Response, errors: ServerErrors) -> AsyncGenerator[str, None]:
    """Decoded lines of a streamed body, one at a time; invalid UTF-8 becomes U+FFFD."""
    splitter = LineSplitter()
    async for chunk in response.aiter_bytes():
        try:
            lines = splitter.feed(chunk)
        except ValueError as exc:
            raise errors.bad_line(chunk[:120].decode("utf-8", errors="replace"), str(response.url), str(exc)) from exc
        for line in lines:
            yield line.decode("utf-8", errors="replace")
    for line in splitter.flush():
        yield line.decode("utf-8", errors="replace")


class ProgressClock:
    """Lines of a streamed body, ending in ProviderError("stall") once `stall_timeout` seconds pass
    without real progress, however many bytes arrive meanwhile. The provider reports what each line
    carried with `progress()`, after passing it on (so the caller's own time never counts)."""

    def __init__(self, stall_timeout: float, errors: ServerErrors, url: str) -> None:
        self._stall_timeout = stall_timeout
        self._errors = errors
        self._url = url
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self._idle_lines = False  # lines came since the last progress: keep-alives

    async def lines(self, response: httpx.Response) -> AsyncIterator[str]:
        async with aclosing(iter_lines(response, self._errors)) as source:
            while True:
                try:
                    async with asyncio.timeout_at(self._last + self._stall_timeout) as scope:
                        line = await anext(source, None)
                except TimeoutError:
                    if not scope.expired():
                        raise
                    raise self._errors.stalled(self._url, keepalives=self._idle_lines) from None
                if line is None:
                    return
                self._idle_lines = True
                yield line

    def progress(self, deltas: Sequence[StreamDelta]) -> None:
        if any(_is_progress(delta) for delta in deltas):
            self._last = self._loop.time()
            self._idle_lines = False


def _is_progress(delta: StreamDelta) -> bool:
    if isinstance(delta, (TextChunk, ReasoningChunk)):
        return bool(delta.text)
    if isinstance(delta, ToolCallChunk):
        return bool(delta.id or delta.name or delta.arguments_fragment or delta.arguments)
    return False


def extract_error(body: bytes) -> tuple[str, str]:
    """(message, code) from an error body: `{"error": "..."}` (Ollama), `{"error": {"message",
    "type", "code"}}` (OpenAI, llama.cpp), `{"message": ...}`, else the text itself, or "no body"."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return "no body", ""
    try:
        data = json.loads(text)
    except ValueError:
        return _clip(text), ""
    return error_from_json(data) or (_clip(text), "")


def error_from_json(data: Any) -> tuple[str, str] | None:
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, str):
        return _clip(error), ""
    if isinstance(error, dict):
        message = error.get("message") or json.dumps(error)
        code = " ".join(str(error[k]) for k in ("type", "code") if error.get(k) is not None)
        return _clip(str(message)), code
    if isinstance(data.get("message"), str) and "choices" not in data:
        return _clip(data["message"]), ""
    return None


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_BODY_CHARS else text[:_MAX_BODY_CHARS] + " …"


def classify(message: str, code: str = "", status: int | None = None) -> SpecificKind | None:
    """The specific kind an error message describes, or None for a plain failure."""
    low = f"{message} {code}".lower()
    if "does not support tools" in low or "requires --jinja" in low or (
        "tool" in low and ("not supported" in low or "unsupported" in low)
    ):
        return "tools_unsupported"
    # Ollama: '"m" does not support thinking'; servers that do not know the thinking fields name them
    # ("Unrecognized request argument supplied: chat_template_kwargs", "extra inputs are not permitted").
    if status == 400 and any(word in low for word in ("think", "reasoning", "chat_template_kwargs")) and any(
        phrase in low for phrase in ("not support", "unsupported", "unrecognized", "unknown", "not permitted")
    ):
        return "thinking_unsupported"
    mentions_context = any(
        phrase in low for phrase in ("context size", "context length", "context window", "exceed_context",
                                     "context_length_exceeded")
    )
    if mentions_context and any(
        word in low for word in ("exceed", "too long", "overflow", "greater than", "larger than", "maximum")
    ):
        return "context_overflow"
    if status in (None, 400, 404) and "model" in low and ("not found" in low or "does not exist" in low):
        return "model_not_found"
    return None


@dataclass(frozen=True)
class ServerErrors:
    """Turns failures talking to one server into ProviderErrors with hints for that kind of server."""

    label: str  # "Ollama", "the OpenAI-compatible server"
    base_url: str
    start_hint: str  # how to start such a server
    model_hint: Callable[[str], str]  # what to do when a model is missing
    model: str = ""
    stall_timeout: float | None = None

    def for_model(self, model: str) -> ServerErrors:
        return replace(self, model=model)

    def from_status(self, status: int, body: bytes, url: str) -> ProviderError:
        message, code = extract_error(body)
        kind = classify(message, code, status)
        if kind is not None:
            return self._specific(kind, message, status, url)
        return ProviderError("http", f"{self.label} at {self.base_url} answered HTTP {status}: {message}",
                             hint=_status_hint(status), status=status, url=url)

    def from_stream_error(self, message: str, code: str, url: str) -> ProviderError:
        """An error object that arrived inside a stream that had already started."""
        kind = classify(message, code)
        if kind is not None:
            return self._specific(kind, message, None, url)
        return ProviderError("stream_cut", f"{self.label} at {self.base_url} failed mid-response: {message}",
                             hint="the server hit an error while generating; check its log, then retry", url=url)

    def _specific(self, kind: SpecificKind, message: str, status: int | None, url: str) -> ProviderError:
        where = f"{self.label} at {self.base_url}"
        if kind == "model_not_found":
            return ProviderError(kind, f"{where} does not have model '{self.model}': {message}",
                                 hint=self.model_hint(self.model), status=status, url=url)
        if kind == "tools_unsupported":
            return ProviderError(kind, f"{where} rejected native tool calls for '{self.model}': {message}",
                                 hint="use text tools (text_tools = \"on\") or a model whose template supports tools",
                                 status=status, url=url)
        if kind == "thinking_unsupported":
            return ProviderError(kind, f"{where} rejected thinking for '{self.model}': {message}",
                                 hint="this model cannot think: set thinking_budget = 0 for it", status=status, url=url)
        return ProviderError(kind, f"the conversation no longer fits the context of {where}: {message}",
                             hint="raise the server's context size (e.g. llama-server -c N) or the "
                                  "context_size setting, or start a shorter session",
                             status=status, url=url)

    def from_httpx(self, exc: Exception, url: str) -> ProviderError:
        if isinstance(exc, httpx.InvalidURL):
            return ProviderError("connection", f"'{self.base_url}' is not a usable URL ({exc})",
                                 hint=f"give the base URL ({BASE_URL_SETTING}) as http://host:port", url=url)
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return ProviderError("connection", f"cannot connect to {self.label} at {self.base_url} ({_reason(exc)})",
                                 hint=self.start_hint, url=url)
        if isinstance(exc, httpx.ReadTimeout):
            return self.stalled(url)
        if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
            return self.cut(url, detail=_reason(exc))
        if isinstance(exc, httpx.TimeoutException):
            return ProviderError("connection", f"timed out talking to {self.label} at {self.base_url} ({_reason(exc)})",
                                 hint=self.start_hint, url=url)
        return ProviderError("connection", f"talking to {self.label} at {self.base_url} failed: {_reason(exc)}",
                             hint=self.start_hint, url=url)

    def stalled(self, url: str, *, keepalives: bool = False) -> ProviderError:
        waited = f"{self.stall_timeout:g} s" if self.stall_timeout is not None else "too long"
        what = "nothing but keep-alives (blank lines, comments or empty deltas)" if keepalives else "no data"
        return ProviderError("stall", f"{self.label} at {self.base_url} sent {what} for {waited}",
                             hint="the model may be stuck or the machine overloaded; raise stall_timeout "
                                  "if it is only slow", url=url)

    def cut(self, url: str, detail: str = "") -> ProviderError:
        suffix = f" ({detail})" if detail else ""
        return ProviderError("stream_cut", f"{self.label} at {self.base_url} ended the response early{suffix}",
                             hint="the server may have crashed or run out of memory; check its log, then retry",
                             url=url)

    def bad_line(self, line: str, url: str, why: str) -> ProviderError:
        shown = line if len(line) <= 120 else line[:120] + " …"
        return ProviderError("bad_response", f"{self.label} at {self.base_url} sent {why}: {shown!r}",
                             hint=f"is this URL really the model server? check the base URL ({BASE_URL_SETTING})",
                             url=url)


def _status_hint(status: int) -> str:
    if status == 404:
        return (f"is the base URL ({BASE_URL_SETTING}) the server's root? e.g. http://127.0.0.1:11434 for "
                "Ollama, http://127.0.0.1:8080 for llama-server")
    if status in (401, 403):
        return "the server wants an API key: put it in the variable named by api_key_env (LITTLE_CODER_API_KEY)"
    if status == 503:
        return "the server is busy or still loading the model; retry in a moment"
    if status >= 500:
        return "the server failed; its log says why"
    return "check the request settings (model, context size, thinking) against what the server supports"


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str],
    timeout: httpx.Timeout,
    errors: ServerErrors,
) -> AsyncIterator[httpx.Response]:
    """POST and stream; error statuses and httpx failures (also those raised while the caller reads
    the body) come out as ProviderError. Leaving the block closes the response at once."""
    try:
        async with client.stream("POST", url, json=body, headers=headers, timeout=timeout) as response:
            if response.status_code >= 400:
                raise errors.from_status(response.status_code, await response.aread(), url)
            yield response
    except HTTPX_ERRORS as exc:
        raise errors.from_httpx(exc, url) from exc


async def get_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: dict[str, str],
    timeout: httpx.Timeout | float,
    errors: ServerErrors,
) -> Any:
    try:
        response = await client.get(url, headers=headers, timeout=timeout)
    except HTTPX_ERRORS as exc:
        raise errors.from_httpx(exc, url) from exc
    if response.status_code >= 400:
        raise errors.from_status(response.status_code, response.content, url)
    try:
        return response.json()
    except ValueError as exc:
        raise errors.bad_line(response.text, url, "a body that is not JSON") from exc
