"""Session start on the model I/O path: N sessions connecting at once, shared HTTP clients vs one per use.

Each session does what a session does first: `agent.backend.connect` (detect the server, probe the model
once per host, make the provider) and one short streamed reply, against the scripted model server in its
own process. All N start together on one event loop, as editor sessions do in the language server; a
ticker task measures how late the loop runs it (the longest stall is what an editor request would wait).

`shared` is the product: every request borrows one of the process's few clients for the server
(agent.providers.clients). `per_use` is the
old way, replayed in the same run: a fresh httpx.AsyncClient (CA bundle loaded anew) for each use, which
made two per session (detection and the provider), closed when the session ends.

    python bench/session_start.py [--quick] [--sessions 60]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from contextlib import aclosing
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.backend import ModelMemory, connect
from agent.providers import clients
from agent.providers.base import ChatRequest, TextChunk
from agent.settings import Settings
from bench.support import FakeModelProcess, emit, own_cpu_seconds
from tests.fakes.script import Reply

GOAL_STALL_MS = 100.0
TICK_S = 0.002


class PerUse:
    """The replaced behaviour: a new client, with its own SSL context, every time one is asked for."""

    def __init__(self) -> None:
        self.made: list[httpx.AsyncClient] = []

    async def get(self, base_url: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient()
        self.made.append(client)
        return client

    async def close(self) -> None:
        for client in self.made:  # the old sessions closed their clients as they ended
            await client.aclose()
        self.made.clear()


async def _ticker(stop: asyncio.Event, stalls: list[tuple[float, float]]) -> None:
    """(how late each tick ran, the loop thread's CPU in that time): a late tick with little CPU is the
    machine running something else, not the loop being blocked."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        due, cpu = loop.time() + TICK_S, time.thread_time()
        await asyncio.sleep(TICK_S)
        stalls.append((max(0.0, loop.time() - due), time.thread_time() - cpu))


async def _session(settings: Settings, memory: ModelMemory) -> str:
    backend = await connect(settings, memory)
    request = ChatRequest(model=backend.model, messages=[], temperature=0.0, context_size=4096)
    try:
        async with aclosing(backend.provider.stream(request)) as stream:
            return "".join([d.text async for d in stream if isinstance(d, TextChunk)])
    finally:
        await backend.provider.aclose()


async def _round(settings: Settings, sessions: int, way: str) -> dict[str, float]:
    per_use = PerUse()
    if way == "per_use":
        clients.shared.get = per_use.get  # type: ignore[method-assign]  # every borrow builds a client
    try:
        memory = ModelMemory()
        await _session(settings, memory)  # the model's probe, once per host, is not what is compared
        await per_use.close()
        await clients.shared.close()
        stop = asyncio.Event()
        stalls: list[tuple[float, float]] = []
        ticker = asyncio.create_task(_ticker(stop, stalls))
        await asyncio.sleep(TICK_S * 3)
        cpu, wall = own_cpu_seconds(), time.perf_counter()
        replies = await asyncio.gather(*(_session(settings, memory) for _ in range(sessions)))
        built = len(per_use.made) if way == "per_use" else clients.shared.count()
        await per_use.close()
        cpu, wall = own_cpu_seconds() - cpu, time.perf_counter() - wall
        stop.set()
        await ticker
    finally:
        if way == "per_use":
            del clients.shared.get
    assert replies == ["ok"] * sessions, replies[:3]
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "cpu_ms_per_session": round(cpu * 1000 / sessions, 2),
        "max_loop_stall_ms": round(max(stalls)[0] * 1000, 1),
        "max_loop_stall_cpu_ms": round(max(stalls)[1] * 1000, 1),
        "clients_built": built,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 sessions, one round each")
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds per way, alternating; the round with the median stall is reported")
    args = parser.parse_args()
    sessions, rounds = (10, 1) if args.quick else (args.sessions, args.rounds)
    with FakeModelProcess(default_reply=Reply("ok"), protocol="ollama") as server:
        settings = Settings(backend="auto", base_url=server.base_url, model="scripted", connect_timeout=10.0,
                            stall_timeout=30.0)
        results: dict[str, list[dict[str, float]]] = {"per_use": [], "shared": []}
        for _ in range(rounds):
            for way in ("per_use", "shared"):
                results[way].append(await _round(settings, sessions, way))
    median = {way: sorted(runs, key=lambda r: r["max_loop_stall_ms"])[len(runs) // 2] for way, runs in results.items()}
    shared, old = median["shared"], median["per_use"]
    emit({
        "benchmark": "session_start",
        "sessions": sessions,
        "goal": f"event-loop stall while {sessions} sessions start < {GOAL_STALL_MS:g} ms",
        "shared": shared,
        "per_use": old,
        "cpu_per_session_ratio_shared_vs_per_use": round(shared["cpu_s"] / old["cpu_s"], 3),
        "stall_ratio_shared_vs_per_use": round(shared["max_loop_stall_ms"] / max(old["max_loop_stall_ms"], 0.1), 3),
        "goal_met": shared["max_loop_stall_ms"] < GOAL_STALL_MS,
        "rounds": results,
    })


if __name__ == "__main__":
    asyncio.run(main())
