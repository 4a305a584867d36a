"""Just enough HTTP/1.1 on asyncio streams for a fake model server.

Requests with Content-Length or chunked bodies, keep-alive, whole and chunked responses. The
connection is read in the background the whole time, so a client that hangs up mid-response is
seen at once (its EOF arrives while we are still streaming), not only at the next failed write.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

MAX_HEAD_BYTES = 64 * 1024


class BadRequest(Exception):
    """The bytes are not an HTTP request we can read; answer 400 and close."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    version: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body.strip() else None

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


class Inbound:
    """The reading side of one connection, pumped by a background task."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._buf = bytearray()
        self._arrived = asyncio.Event()
        self.closed = asyncio.Event()  # the client closed (or reset) the connection
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        try:
            while chunk := await self._reader.read(65536):
                self._buf += chunk
                self._arrived.set()
        except OSError:
            pass
        finally:
            self.closed.set()
            self._arrived.set()

    def stop(self) -> None:
        self._task.cancel()

    async def aclose(self) -> None:
        """Stop pumping and wait until the pump has ended, so no task outlives its server's loop."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def wait_closed(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True as soon as the client has gone."""
        try:
            await asyncio.wait_for(self.closed.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _until(self, ready: Callable[[], bool]) -> bool:
        while not ready():
            if self.closed.is_set():
                return ready()
            self._arrived.clear()
            await self._arrived.wait()
        return True

    async def _line(self) -> bytes | None:
        if not await self._until(lambda: b"\r\n" in self._buf):
            return None
        line, _, _ = bytes(self._buf).partition(b"\r\n")
        del self._buf[: len(line) + 2]
        return line

    async def _exactly(self, n: int) -> bytes | None:
        if not await self._until(lambda: len(self._buf) >= n):
            return None
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    async def read_request(self) -> Request | None:
        """The next request, or None when the client closed the connection between requests."""
        if not await self._until(lambda: b"\r\n\r\n" in self._buf or len(self._buf) > MAX_HEAD_BYTES):
            if self._buf.strip():
                raise BadRequest("connection closed inside a request head")
            return None
        head, sep, _ = bytes(self._buf).partition(b"\r\n\r\n")
        if not sep:
            raise BadRequest("request head too large")
        del self._buf[: len(head) + 4]
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError as exc:
            raise BadRequest(f"bad request line {lines[0]!r}") from exc
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._chunked_body()
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError as exc:
                raise BadRequest("bad Content-Length") from exc
            body = await self._exactly(length) if length else b""
        if body is None:
            raise BadRequest("connection closed inside a request body")
        path, _, query = target.partition("?")
        return Request(method.upper(), path, query, version, headers, body)

    async def _chunked_body(self) -> bytes | None:
        parts: list[bytes] = []
        while True:
            size_line = await self._line()
            if size_line is None:
                return None
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise BadRequest("bad chunk size") from exc
            if size == 0:
                while await self._line() not in (b"", None):
                    pass  # trailers carry nothing we use
                return b"".join(parts)
            data = await self._exactly(size + 2)
            if data is None:
                return None
            parts.append(data[:-2])


class Outbound:
    """The writing side. Every write reports whether the client was still there to receive it."""

    def __init__(self, writer: asyncio.StreamWriter, inbound: Inbound) -> None:
        self._writer = writer
        self._inbound = inbound

    @property
    def client_gone(self) -> bool:
        return self._inbound.closed.is_set() or self._writer.is_closing()

    async def wait_gone(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True as soon as the client has gone."""
        return await self._inbound.wait_closed(seconds)

    async def _write(self, data: bytes) -> bool:
        if self.client_gone:
            return False
        try:
            self._writer.write(data)
            await self._writer.drain()
        except OSError:
            return False
        return True

    async def send(self, status: int, body: bytes, content_type: str,
                   headers: Iterable[tuple[str, str]] = ()) -> bool:
        head = _head(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers])
        return await self._write(head + body)

    async def send_json(self, status: int, obj: Any) -> bool:
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        return await self.send(status, body, "application/json; charset=utf-8")

    async def start_chunked(self, status: int, content_type: str, headers: Iterable[tuple[str, str]] = ()) -> bool:
        return await self._write(_head(status, [("Content-Type", content_type), ("Transfer-Encoding", "chunked"),
                                                *headers]))

    async def chunk(self, data: bytes) -> bool:
        return await self._write(b"%x\r\n%s\r\n" % (len(data), data))

    async def end_chunked(self) -> bool:
        return await self._write(b"0\r\n\r\n")

    def close(self) -> None:
        """Close after what was written has been flushed (FIN), as a crashing server's OS would."""
        self._writer.close()

    def reset(self) -> None:
        """Abort with a TCP reset: SO_LINGER 0 makes close() send RST instead of FIN."""
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._writer.transport.abort()


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", f"Date: {formatdate(usegmt=True)}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
