"""Thinking-budget overshoot: how far past the budget a session reads before it aborts the stream.

For each wire protocol and chunk size, a scripted server streams a long reasoning trace (paced, as a
real model would) into a real Session with a thinking budget. Reported per case:

- `client_overshoot`: reasoning tokens the session consumed past the budget (the meter's count at the
  abort minus the budget). Target ≤ 16 whatever the chunk size.
- `server_overshoot`: reasoning tokens the server had written past the budget when it noticed the client
  hang up (socket buffers and the server's own pacing included: informational).
  One chunk past the budget means the connection was closed as soon as the crossing chunk arrived.

    python bench/thinking_overshoot.py [--budget 2048] [--rate 4000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent import tokens  # noqa: E402
from agent.events import SessionFinished, ThinkingBudgetHit  # noqa: E402
from agent.session import Session  # noqa: E402
from agent.settings import Settings  # noqa: E402
from agent.workspace import DiskWorkspace  # noqa: E402
from tests.fakes.model_server import ScriptedModelServer  # noqa: E402
from tests.fakes.script import Reply  # noqa: E402

CHUNKS = (1, 4, 16, 64, 256)


def reasoning(budget: int) -> str:
    text = " ".join(f"Consider case {i}: the constraint may or may not hold." for i in range(budget))
    ids = tokens.encode(text)
    return tokens.decode(ids[: budget * 3])


async def one(protocol: str, chunk: int, budget: int, rate: float) -> dict[str, object]:
    script = [Reply(reasoning=reasoning(budget)), Reply("Committed answer.")]
    with tempfile.TemporaryDirectory() as tmp, ScriptedModelServer(
        protocol, script, chunk_tokens=chunk, tokens_per_second=rate
    ) as server:
        settings = Settings(backend=protocol, base_url=server.base_url, model=server.model, thinking_budget=budget)
        hit: ThinkingBudgetHit | None = None
        final: SessionFinished | None = None
        async for event in Session("think", DiskWorkspace(Path(tmp)), settings).run():
            if isinstance(event, ThinkingBudgetHit):
                hit = event
            elif isinstance(event, SessionFinished):
                final = event
        log = await asyncio.to_thread(server.wait_finished, 2, 10.0)
    assert hit is not None and final is not None and final.outcome == "done", final
    first = log[0]
    return {
        "protocol": protocol,
        "chunk_tokens": chunk,
        "client_overshoot": hit.tokens - budget,
        "server_overshoot": first.tokens_sent - budget,
        "client_closed_early": first.client_closed_early,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=2048)
    parser.add_argument("--rate", type=float, default=4000.0, help="tokens per second the server streams")
    args = parser.parse_args()
    cases = [await one(p, c, args.budget, args.rate) for p in ("ollama", "openai") for c in CHUNKS]
    worst = max(int(case["client_overshoot"]) for case in cases)  # type: ignore[call-overload]
    print(json.dumps({
        "benchmark": "thinking_overshoot",
        "budget": args.budget,
        "stream_rate_tok_s": args.rate,
        "worst_client_overshoot": worst,
        "target": 16,
        "meets_target": worst <= 16,
        "cases": cases,
    }, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
