"""Scaffold overhead per turn: everything a session does except waiting on the model server.

A scripted Ollama-protocol server streams 20-turn sessions (19 tool turns — Read, Grep, Glob, Edit — and a
final answer) one token per NDJSON line at a fixed rate (default 2,000 tokens/s). The server records when
each request arrived and when its response ended, on the same monotonic clock as the session, so

    overhead = session wall time − Σ (server response time)

is the time spent in our code: request building, guidance selection, context accounting, parsing, the
thinking meter, repair, the monitor, tools and events. It is reported per turn and as a share of the model
time the same tokens would take at 50 tokens/s (a 9B model on a consumer GPU). Target: < 2 %.

    python bench/agent_overhead.py [--sessions 3] [--rate 2000] [--tokens-per-turn 120]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.events import SessionFinished  # noqa: E402
from agent.session import Session  # noqa: E402
from agent.settings import Settings  # noqa: E402
from agent.workspace import DiskWorkspace  # noqa: E402
from tests.fakes.model_server import ScriptedModelServer  # noqa: E402
from tests.fakes.script import Call, Reply  # noqa: E402

TURNS = 20
FILLER = "I will check the next part of the module and keep the change small and focused. "


def make_workspace(root: Path) -> None:
    (root / "pkg").mkdir()
    for i in range(12):
        body = "\n".join(f"def helper_{i}_{j}(x):\n    return x + {j}\n" for j in range(40))
        (root / "pkg" / f"mod{i}.py").write_text(body)
    (root / "README.md").write_text("# bench project\n")


def script(tokens_per_turn: int) -> list[Reply]:
    words = (FILLER * 40).split()
    prose = " ".join(words[: tokens_per_turn // 2])
    thinking = " ".join(words[: tokens_per_turn // 2])
    calls = [
        lambda i: Call("Read", {"file_path": f"pkg/mod{i % 12}.py"}),
        lambda i: Call("Grep", {"pattern": f"helper_{i % 12}_1", "output_mode": "content"}),
        lambda i: Call("Glob", {"pattern": "pkg/*.py"}),
        lambda i: Call("Edit", {"file_path": f"pkg/mod{i % 12}.py", "old_string": f"return x + {i}\n",
                                "new_string": f"return x + {i} + 0\n", "replace_all": True}),
    ]
    replies = [Reply(prose, reasoning=thinking, calls=[calls[i % 4](i)]) for i in range(TURNS - 1)]
    replies.append(Reply(prose + " Done."))
    return replies


async def one_session(rate: float, tokens_per_turn: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_workspace(root)
        with ScriptedModelServer("ollama", script(tokens_per_turn), chunk_tokens=1, tokens_per_second=rate) as server:
            settings = Settings(backend="ollama", base_url=server.base_url, model=server.model, max_turns=TURNS,
                                thinking_budget=100_000)
            started = time.monotonic()
            final: SessionFinished | None = None
            async for event in Session("Tidy the helpers in pkg/.", DiskWorkspace(root), settings).run():
                if isinstance(event, SessionFinished):
                    final = event
            wall = time.monotonic() - started
            log = await asyncio.to_thread(server.wait_finished, TURNS, 10.0)
    assert final is not None and final.outcome == "done" and final.turns == TURNS, final
    server_time = sum((entry.finished_at or entry.started_at) - entry.started_at for entry in log)
    streamed = sum(entry.tokens_sent for entry in log)
    overhead = wall - server_time
    model_time_at_50 = streamed / 50.0
    return {
        "wall_s": wall,
        "server_s": server_time,
        "overhead_s": overhead,
        "overhead_per_turn_ms": overhead / TURNS * 1000,
        "tokens_streamed": streamed,
        "overhead_share_at_50_tok_s": overhead / model_time_at_50,
        "overhead_share_at_stream_rate": overhead / server_time,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--rate", type=float, default=2000.0, help="tokens per second the server streams")
    parser.add_argument("--tokens-per-turn", type=int, default=120)
    args = parser.parse_args()
    runs = [await one_session(args.rate, args.tokens_per_turn) for _ in range(args.sessions)]
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    print(json.dumps({
        "benchmark": "agent_overhead",
        "turns_per_session": TURNS,
        "sessions": args.sessions,
        "stream_rate_tok_s": args.rate,
        "median": {k: round(v, 4) for k, v in median.items()},
        "target_share_at_50_tok_s": 0.02,
        "meets_target": median["overhead_share_at_50_tok_s"] < 0.02,
        "runs": [{k: round(v, 4) for k, v in run.items()} for run in runs],
    }, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
