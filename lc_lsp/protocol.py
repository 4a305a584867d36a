"""LcProtocol: fixes to pygls 2.1.1's JSON-RPC and document handling, several on private methods (hence
the exact pin).

1. `$/cancelRequest` for `workspace/executeCommand` only cancels pygls's outer future: the client gets
   -32800 but the command coroutine runs on. A command that keeps its request open (`"wait": true`)
   registers a canceller under its request id; we call it here so the session stops too.
2. pygls #621 (fixed upstream after 2.1.1): when the task awaiting a server→client request (applyEdit,
   showMessageRequest) is cancelled, the client's late reply hits a cancelled future, raises
   InvalidStateError and pygls shows the user "Error in server". Such replies are dropped instead.
3. A request whose params do not fit its method (a string where a range belongs, params missing) is
   never answered by pygls — the editor waits for ever — and the user gets "Error in server: Invalid
   Params". It is answered with InvalidParams naming the field; a malformed notification, or a message
   that is not a JSON-RPC object at all, is logged and dropped (requests among them get InvalidRequest).
4. A string with a lone surrogate (valid JSON, "\\ud800") cannot be encoded as UTF-8: one buffer holding it
   failed every later command and model request. Incoming strings get U+FFFD in its place.
5. pygls applies didChange on `str.splitlines` lines, which also break at form feeds, U+2028 and other
   characters that editors keep inside a line, and it clamps a column past a line's end to one before
   it (splitting a "\\r\\n" on CRLF lines). Either way its copy of the buffer silently differs from the
   editor's, and the agent reads and the review edits the wrong text. didChange is applied here with
   the LSP rules of lc_lsp.ranges; a change to a document that is not open is logged and ignored.
6. pygls reads a body with `stdin.read(Content-Length)`, which allocates that many bytes at once: a header
   claiming 1 TB ended the server with MemoryError. `BoundedStdin` (the server's stdin) refuses a length
   over MAX_MESSAGE_BYTES: the header is logged and hidden from pygls, which then reads no body and goes
   on with the next message. Header lines are read at most MAX_HEADER_LINE bytes at a time, likewise.
"""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from cattrs import transform_error
from lsprotocol import types
from lsprotocol.types import ResponseError
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.protocol.json_rpc import JsonRPCProtocol, MsgId

from lc_lsp.ranges import normalize_encoding, offset_at

log = logging.getLogger(__name__)

# Far above any real message (a whole file in didOpen), far below what a refused allocation could cost.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_HEADER_LINE = 64 * 1024
# pygls's own header pattern: a line it would take as the body's length.
_CONTENT_LENGTH = re.compile(rb"^Content-Length: (\d+)\r\n$")
# Longest explanation of unreadable params sent back; the first problems say enough.
_PROBLEMS_SHOWN = 3
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Unreadable:
    """A message whose JSON is fine but whose shape is not what its method needs."""

    msg_id: MsgId | None  # None for a notification (or an id that is no JSON-RPC id)
    is_request: bool
    method: str
    reason: str
    code: int = JsonRpcInvalidParams.CODE


class LcProtocol(LanguageServerProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Request id → what stops the work behind it; owned by the protocol because ids are its business.
        self.request_cancellers: dict[MsgId, Callable[[], object]] = {}

    def _handle_cancel_notification(self, msg_id: MsgId) -> None:
        super()._handle_cancel_notification(msg_id)
        cancel = self.request_cancellers.pop(msg_id, None)
        if cancel is not None:
            log.info("request %s cancelled by the client: stopping its session", msg_id)
            cancel()

    def _handle_response(self, msg_id: MsgId, result: Any | None = None, error: ResponseError | None = None) -> None:
        future = self._request_futures.get(msg_id)
        if future is not None and future.cancelled():
            self._request_futures.pop(msg_id, None)
            log.debug("dropped a late reply to cancelled request %s", msg_id)
            return
        super()._handle_response(msg_id, result, error)

    # --- messages that do not fit ---------------------------------------------------------------

    def structure_message(self, data: dict[str, Any]) -> Any:
        for key, value in data.items():
            if isinstance(value, (str, list)):
                data[key] = _without_lone_surrogates(value)
        if "jsonrpc" not in data:
            return data  # an object inside a message (json.loads builds them innermost first)
        method = data.get("method")
        name = method if isinstance(method, str) else ""
        is_request = "id" in data and isinstance(method, str)
        if "id" in data and data["id"] is not None and _msg_id(data["id"]) is None:
            reason = "the id must be a number or a string"
            return Unreadable(None, is_request, name, reason, JsonRpcInvalidRequest.CODE)
        try:
            message = super().structure_message(data)
        except JsonRpcException as exc:
            return Unreadable(_msg_id(data.get("id")), is_request, name, _reason(exc.__cause__ or exc))
        if is_request and not hasattr(message, "id"):
            # An LSP notification sent with an id: pygls would run it and leave the "request" unanswered.
            reason = f"{name} is a notification: send it without an id"
            return Unreadable(_msg_id(data["id"]), True, name, reason, JsonRpcInvalidRequest.CODE)
        params = getattr(message, "params", None)
        if hasattr(type(params), "__attrs_attrs__"):
            # lsprotocol lets any JSON through where an id or a progress token (number | string) belongs;
            # pygls then looks it up in a dict, and an object there is unhashable.
            for field in ("id", "token"):
                value = getattr(params, field, None)
                if value is not None and _msg_id(value) is None:
                    reason = f"params.{field} must be a number or a string"
                    return Unreadable(_msg_id(data.get("id")), is_request, name, reason)
        return message

    def handle_message(self, message: Any) -> None:
        if isinstance(message, Unreadable):
            if message.is_request:
                log.warning("answered %s with error %d: %s", message.method, message.code, message.reason)
                what = "invalid params" if message.code == JsonRpcInvalidParams.CODE else "invalid request"
                self._send_error(message.msg_id, JsonRpcException(f"{message.method}: {what}: {message.reason}",
                                                                  code=message.code))
            else:
                log.warning("ignored %s: invalid params: %s", message.method or "a message", message.reason)
            return
        version = message.get("jsonrpc") if isinstance(message, dict) else getattr(message, "jsonrpc", None)
        if version != JsonRPCProtocol.VERSION:
            # A JSON value that is no JSON-RPC 2.0 message: a batch, a number, "jsonrpc" missing or wrong.
            log.warning("ignored a message that is not JSON-RPC 2.0: %.200r", message)
            if isinstance(message, list):  # a batch, which LSP does not have
                self._send_error(None, JsonRpcInvalidRequest("batches are not supported"))
                return
            if isinstance(message, dict):
                msg_id, method = _msg_id(message.get("id")), message.get("method")
            else:
                msg_id, method = _msg_id(getattr(message, "id", None)), getattr(message, "method", None)
            if msg_id is not None and isinstance(method, str):
                self._send_error(msg_id, JsonRpcInvalidRequest('not a JSON-RPC 2.0 request: "jsonrpc" must be "2.0"'))
            return
        super().handle_message(message)

    def send_parse_error(self, exc: Exception) -> None:
        """Answer a body that is not JSON (or not UTF-8) the way JSON-RPC asks: ParseError, id null."""
        log.warning("a message from the client is not JSON: %s", exc)
        self._send_error(None, JsonRpcException(f"Parse error: {exc}", code=-32700))

    def _send_error(self, msg_id: MsgId | None, error: JsonRpcException) -> None:
        # Sent as a plain object: lsprotocol's converter drops `"id": null`, which JSON-RPC requires here.
        body: dict[str, Any] = {"code": error.code, "message": error.message}
        if error.data is not None:
            body["data"] = error.data
        self._send_data({"jsonrpc": JsonRPCProtocol.VERSION, "id": msg_id, "error": body})

    # --- documents --------------------------------------------------------------------------------

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
        self, params: types.DidChangeTextDocumentParams
    ) -> Generator[Any, Any, None]:
        uri = params.text_document.uri
        document = self.workspace.text_documents.get(unquote(uri))
        if document is None:
            log.warning("didChange for %s, which is not open: ignored", uri)
            return
        encoding = normalize_encoding(self.workspace.position_encoding or "utf-16")
        text = document.source
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                start = offset_at(text, change.range.start, encoding)
                end = offset_at(text, change.range.end, encoding)
                start, end = min(start, end), max(start, end)  # a reversed range covers the same text
                text = text[:start] + change.text + text[end:]
            else:
                text = change.text
        self.workspace.put_text_document(types.TextDocumentItem(
            uri=uri, language_id=document.language_id or "", version=params.text_document.version, text=text
        ))
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield user_handler, (params,), None


class BoundedStdin(io.BufferedReader):
    """The server's stdin (pygls reads it with readline and read): a Content-Length over
    MAX_MESSAGE_BYTES comes out renamed, so pygls ignores it, reads no body and resyncs on the next header."""

    def readline(self, size: int | None = -1) -> bytes:
        limit = MAX_HEADER_LINE if size is None or size < 0 else min(size, MAX_HEADER_LINE)
        line = super().readline(limit)
        match = _CONTENT_LENGTH.fullmatch(line)
        if match is not None and int(match.group(1)) > MAX_MESSAGE_BYTES:
            log.error("refused a message of Content-Length %s (more than %d bytes): its body is not read",
                      match.group(1).decode(), MAX_MESSAGE_BYTES)
            return b"X-Refused-" + line
        return line


def bounded_stdin() -> BoundedStdin:
    """Standard input (fd 0) for pygls, read through BoundedStdin."""
    return BoundedStdin(io.FileIO(sys.stdin.fileno(), "rb", closefd=False))


def _without_lone_surrogates(value: Any) -> Any:
    """Strings with each lone surrogate (JSON allows "\\ud800") replaced by U+FFFD, as editors do when
    they save; nothing downstream can encode one as UTF-8. Both are one code unit in every encoding, so
    positions do not move."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value) if _LONE_SURROGATE.search(value) else value
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    return value


def _msg_id(value: Any) -> MsgId | None:
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None


def _reason(exc: BaseException) -> str:
    """What does not fit, field by field ("expected int @ $.range.start.line")."""
    try:
        problems = transform_error(exc, path="$")
    except Exception:  # not a cattrs error: its own words are all there is
        problems = [str(exc) or type(exc).__name__]
    shown = "; ".join(problems[:_PROBLEMS_SHOWN])
    more = len(problems) - _PROBLEMS_SHOWN
    return shown + (f" (and {more} more)" if more > 0 else "")
