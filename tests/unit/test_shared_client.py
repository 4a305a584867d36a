"""A few HTTP clients per model server per event loop: sessions borrow them, the loop's shutdown closes them."""

from __future__ import annotations

import asyncio
import ssl
import gc
import weakref
from contextlib import aclosing
from typing import Any

import httpx
import pytest

from agent.backend import ModelMemory, connect
from agent.providers import clients
from agent.providers.base import ChatRequest, TextChunk
from agent.providers.clients import POOLS_PER_SERVER, SharedClients, close_shared_clients, shared
from agent.settings import Settings
from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Reply


def _settings(server: ScriptedModelServer, backend: str = "auto") -> Settings:
    return Settings(backend=backend, base_url=server.base_url, model=server.model, connect_timeout=2.0,
                    stall_timeout=10.0)


def _request(model: str) -> ChatRequest:
    return ChatRequest(model=model, messages=[], temperature=0.0, context_size=4096)


@pytest.mark.parametrize("backend", ["auto", "ollama", "openai"])
async def test_sessions_starting_together_share_the_clients(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    init = httpx.AsyncClient.__init__

    def counting_init(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", counting_init)
    protocol = "ollama" if backend == "auto" else backend
    with ScriptedModelServer(protocol, [], default_reply=Reply("hi")) as server:
        memory = ModelMemory()
        backends = await asyncio.gather(*(connect(_settings(server, backend), memory) for _ in range(20)))
        # Detection, probe and provider of all twenty borrow the same few clients.
        assert shared.count() == len(built) == POOLS_PER_SERVER

        async def reply(index: int) -> str:
            provider = backends[index].provider
            async with aclosing(provider.stream(_request(server.model))) as stream:
                return "".join([d.text async for d in stream if isinstance(d, TextChunk)])

        # More concurrent streams than httpx's default pool would allow without waiting.
        assert await asyncio.gather(*(reply(i % 20) for i in range(120))) == ["hi"] * 120
        for backend_ in backends:
            await backend_.provider.aclose()  # what a session does when it ends: the clients stay open
        assert shared.count() == POOLS_PER_SERVER and len(built) == POOLS_PER_SERVER


async def test_the_ssl_context_is_made_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[object] = []
    original = httpx.create_ssl_context

    def counting() -> object:
        made.append(1)
        return original()

    monkeypatch.setattr(httpx, "create_ssl_context", counting)
    clients.ssl_context.cache_clear()
    registry = SharedClients()
    for port in range(10):
        await registry.get(f"https://127.0.0.1:{9000 + port}")
    assert len(made) == 1
    await registry.get("http://127.0.0.1:9100")  # plain HTTP: no CA bundle loaded at all
    assert len(made) == 1
    await registry.close()
    clients.ssl_context.cache_clear()


def test_a_plain_http_server_s_context_trusts_no_certificate() -> None:
    # Its client never speaks TLS; were it made to, the handshake must fail, not go unverified.
    context = clients._context_for("http://127.0.0.1:11434")
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0
    assert clients._context_for("HTTPS://models.example").cert_store_stats()["x509_ca"] > 0


def test_each_event_loop_gets_its_own_clients_closed_when_the_loop_ends() -> None:
    registry = SharedClients()
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def borrow() -> httpx.AsyncClient:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        turns = [await registry.get("http://127.0.0.1:9") for _ in range(2 * POOLS_PER_SERVER)]
        assert turns[:POOLS_PER_SERVER] == turns[POOLS_PER_SERVER:]  # the same few, in turn
        assert len(set(map(id, turns))) == POOLS_PER_SERVER
        assert await registry.get("http://127.0.0.1:10") not in turns
        return turns[0]

    one = asyncio.run(borrow())
    assert one.is_closed  # asyncio.run's shutdown closed it
    two = asyncio.run(borrow())
    assert two is not one and two.is_closed
    gc.collect()
    assert [ref() for ref in loops] == [None, None]  # the registry forgot the finished loops


async def test_closing_explicitly_then_borrowing_again_gives_a_fresh_client() -> None:
    first = await shared.get("http://127.0.0.1:9")
    await close_shared_clients()
    assert first.is_closed and shared.count() == 0
    second = await shared.get("http://127.0.0.1:9")
    assert second is not first and not second.is_closed
