"""HTTP clients per model server per event loop, shared by every session of the process.

Building an httpx.AsyncClient loads the CA bundle into a new SSL context (tens of milliseconds of CPU,
on the event loop), and each session used to build two; sixty sessions starting at once blocked a
language server's loop for seconds. Here the SSL context is made once per process and the clients are
kept per (event loop, server): an AsyncClient's pooled connections belong to the loop that opened
them, so a client is never handed to another loop (tests run one loop per test; a process may run
several `asyncio.run`s). Sessions borrow a client and never close it.

A server gets a fixed handful of clients (`POOLS_PER_SERVER`), handed out in turn, not one: httpcore's
connection pool does work proportional to requests × connections on every request start and end, so
one pool under sixty concurrent streams cost 2.5 times the CPU of four pools of fifteen
(bench/session_start.py).

Clients are closed when their loop shuts down: each loop's clients hang off an async generator that
the loop tracks, and `asyncio.run` (like pytest's loop runner) closes every such generator before it
closes the loop, which runs the generator's `finally`: it closes the clients and forgets the loop. A
host that stops its loop some other way calls `close_shared_clients()` first, or the loop and its idle
connections stay registered until the process ends.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncGenerator, Callable
from functools import lru_cache, partial

import httpx

# No cap on connections: each session streams over its own, as it did with a client of its own. Idle
# ones are kept for the next request of a session (a tool turn follows every reply).
_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=16, keepalive_expiry=30.0)
POOLS_PER_SERVER = 4


@lru_cache(maxsize=1)
def ssl_context() -> ssl.SSLContext:
    """The process's SSL context with the default CA bundle, loaded once."""
    return httpx.create_ssl_context()


@lru_cache(maxsize=1)
def _plain_http_context() -> ssl.SSLContext:
    """For a client of an http:// server, which never speaks TLS (redirects are not followed): a context
    that verifies like any other but trusts nothing, so a TLS connection it were somehow asked for fails
    closed. Saves a CLI start the CA bundle's ~25 ms."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _context_for(base_url: str) -> ssl.SSLContext:
    return ssl_context() if base_url.lower().startswith("https:") else _plain_http_context()


class _LoopClients:
    """The clients of one event loop, closed by `_closer` when the loop shuts its generators down."""

    def __init__(self, forget: Callable[[], object]) -> None:
        self.clients: dict[tuple[str, int], httpx.AsyncClient] = {}
        self.turns: dict[str, int] = {}
        self.closer = self._closer(forget)

    async def _closer(self, forget: Callable[[], object]) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            forget()
            for client in self.clients.values():
                await client.aclose()


class SharedClients:
    """The registry; one per process (`shared`), a fresh one in tests that need isolation."""

    def __init__(self) -> None:
        # Not weak: the loop keeps a finalizer on each generator it tracks, so the entry refers to its loop.
        self._loops: dict[asyncio.AbstractEventLoop, _LoopClients] = {}

    async def get(self, base_url: str) -> httpx.AsyncClient:
        """A client for `base_url` on the running loop. Timeouts and headers go with each request."""
        loop = asyncio.get_running_loop()
        entry = self._loops.get(loop)
        if entry is None:
            entry = self._loops[loop] = _LoopClients(partial(self._loops.pop, loop, None))
            await anext(entry.closer)  # now tracked by the loop: closed by its shutdown_asyncgens()
        turn = entry.turns[base_url] = (entry.turns.get(base_url, -1) + 1) % POOLS_PER_SERVER
        client = entry.clients.get((base_url, turn))
        if client is None or client.is_closed:
            client = entry.clients[base_url, turn] = httpx.AsyncClient(verify=_context_for(base_url), limits=_LIMITS)
        return client

    async def close(self) -> None:
        """Close the running loop's clients now (later requests get fresh ones)."""
        entry = self._loops.get(asyncio.get_running_loop())
        if entry is not None:
            await entry.closer.aclose()

    def count(self) -> int:
        """Open clients on the running loop."""
        entry = self._loops.get(asyncio.get_running_loop())
        return 0 if entry is None else sum(not c.is_closed for c in entry.clients.values())


shared = SharedClients()


async def close_shared_clients() -> None:
    """For a host that ends its event loop without `asyncio.run`'s shutdown: close its model-server clients."""
    await shared.close()
