"""A round-robin reverse proxy: several model servers behind one URL, for tests.

It stands in for an OpenAI-compatible router (a LiteLLM proxy, vLLM's data-parallel front end): every
request goes to the next backend in turn, not sticky, so consecutive turns of one conversation land on
different servers. Responses are relayed piece by piece as they arrive, so streams are not buffered.
A backend that cannot be reached, or hangs up before answering, is dropped from the rotation and the
request goes to the next one, as a router's retries and cooldown do; a backend that dies mid-response
cuts that response (no chunked terminator), which is what a real router's client sees too.

It runs on the caller's event loop::

    async with RoundRobinRouter([a.base_url, b.base_url]) as router:
        ...  # point the client at router.base_url
        router.routes   # one Route per request: which backend answered it, and how it ended
        router.dropped  # backend -> number of the request that found it gone (and went elsewhere)

`on_relayed(route)` runs after each piece of a response has been passed on, so a test can act at a
known point of a stream (e.g. stop a backend once the client has part of a response).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from tests.fakes.http_server import BadRequest, Inbound, Outbound, Request

__all__ = ["RoundRobinRouter", "Route"]

# complete: the whole body went through; client_gone: the client (or the router closing) ended it first
RouteOutcome = Literal["complete", "cut", "client_gone", "no_backend"]
# About this connection or this message's framing, not its content: each hop sets its own (RFC 9110, 7.6.1).
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                         "upgrade", "host", "content-length"})


class Route(BaseModel):
    """One request through the router."""

    number: int  # the order requests arrived in
    method: str
    path: str
    body: Any = None  # the request's JSON, when it had one
    backend: str | None = None  # base URL of the server that answered; None when none could
    status: int = 0
    outcome: RouteOutcome = "complete"


class RoundRobinRouter:
    def __init__(self, backends: Sequence[str], *, on_relayed: Callable[[Route], None] | None = None,
                 host: str = "127.0.0.1") -> None:
        if not backends:
            raise ValueError("a router needs at least one backend")
        self.backends = [url.rstrip("/") for url in backends]
        self.routes: list[Route] = []
        self.dropped: dict[str, int] = {}
        self._live = list(self.backends)
        self._turn = 0
        self._numbers = itertools.count()
        self._on_relayed = on_relayed
        self._host = host
        self._port = 0
        self._server: asyncio.Server | None = None
        # No read timeout: a model may think for long; the client behind the router keeps its own limit.
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=None), trust_env=False)
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> RoundRobinRouter:
        self._server = await asyncio.start_server(self._connection, self._host, 0)
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
        await self._client.aclose()

    @property
    def base_url(self) -> str:
        if not self._port:
            raise RuntimeError("start the router first")
        return f"http://{self._host}:{self._port}"

    def _next_backend(self) -> str | None:
        if not self._live:
            return None
        backend = self._live[self._turn % len(self._live)]
        self._turn += 1
        return backend

    def _drop(self, backend: str, number: int) -> None:
        if backend in self._live:
            self._live.remove(backend)
            self.dropped[backend] = number

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        inbound = Inbound(reader)
        out = Outbound(writer, inbound)
        try:
            while (request := await inbound.read_request()) is not None:
                if not await self._forward(request, out) or not request.keep_alive:
                    break
        except BadRequest as exc:
            await out.send(400, str(exc).encode(), "text/plain; charset=utf-8", [("Connection", "close")])
        except asyncio.CancelledError:
            pass  # the router is closing every connection
        finally:
            inbound.stop()
            out.close()
            self._tasks.discard(task)

    async def _forward(self, request: Request, out: Outbound) -> bool:
        """Relay one request to the next live backend; False when the connection must not be reused."""
        try:
            body = request.json()
        except ValueError:
            body = None
        route = Route(number=next(self._numbers), method=request.method, path=request.path, body=body)
        target = request.path + (f"?{request.query}" if request.query else "")
        headers = [(name, value) for name, value in request.headers.items() if name not in _HOP_BY_HOP]
        while (backend := self._next_backend()) is not None:
            upstream = self._client.build_request(request.method, backend + target, headers=headers,
                                                  content=request.body)
            try:
                response = await self._client.send(upstream, stream=True)
            except httpx.TransportError:
                self._drop(backend, route.number)  # nothing came back, so the request is safe to send elsewhere
                continue
            route.backend, route.status = backend, response.status_code
            try:
                return await self._relay(response, route, out)
            finally:
                await response.aclose()
        route.status, route.outcome = 502, "no_backend"
        self.routes.append(route)
        return await out.send_json(502, {"error": {"code": 502, "message": "no backend is reachable",
                                                   "type": "server_error"}})

    async def _relay(self, response: httpx.Response, route: Route, out: Outbound) -> bool:
        passed = [(name, value) for name, value in response.headers.items()
                  if name.lower() not in _HOP_BY_HOP | {"content-type", "date"}]
        content_type = response.headers.get("content-type", "application/octet-stream")
        route.outcome = "client_gone"  # until the response has gone out in full
        try:
            if not await out.start_chunked(response.status_code, content_type, passed):
                return False
            try:
                async for piece in response.aiter_raw():
                    # An empty chunk would read as the terminator.
                    if not piece:
                        continue
                    if not await out.chunk(piece):
                        return False
                    if self._on_relayed is not None:
                        self._on_relayed(route)
            except httpx.TransportError:
                route.outcome = "cut"
                out.close()
                return False
            # The whole body is through: a client that hangs up before the terminator (once it has read
            # the stream's own end marker) still got all of it.
            route.outcome = "complete"
            return await out.end_chunked()
        finally:
            self.routes.append(route)
