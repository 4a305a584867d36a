"""Language-server latency while a session streams: does the editor stay responsive?

Starts `python -m lc_lsp` as an editor would, opens a file with a stub, starts a session against the
scripted model server streaming at `--tokens-per-second` (default 6,000 asked, which the scripted server delivers at about 2,500 in
4-token pieces on a 2-core machine; the measured rate is reported), and while it streams times
`textDocument/codeAction` and `littleCoder.status` round trips (client → server → client, through the
stdio pipes). Also reports how long the server takes from process start to answering `initialize`.
Goal: p99 < 20 ms for both requests.

    python bench/lsp_latency.py [--samples 300] [--tokens-per-second 6000] [--chunk-tokens 4] [--quick]

Prints one JSON object on stdout.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pytest_lsp
from lsprotocol import types
from pygls.uris import from_fs_path

from tests.fakes.model_server import Reply, ScriptedModelServer
from tests.lsp.conftest import MODEL, make_client, server_config

GOAL_P99_MS = 20.0
MIN_STREAM_TPS = 2000.0  # the load the goal is stated for
STUB = '''"""Leap years."""


def leap(year: int) -> bool:
    """True when `year` is a leap year in the Gregorian calendar."""
    raise NotImplementedError


def label(year: int) -> str:
    return "leap" if leap(year) else "common"
'''


def summary(samples: list[float]) -> dict[str, float | int]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered) * 1000, 3),
            "p99_ms": round(p99 * 1000, 3), "max_ms": round(ordered[-1] * 1000, 3)}


async def measure(samples: int, tokens_per_second: float, chunk_tokens: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder, ScriptedModelServer(
        "ollama", [Reply(fault="never_ends", never_ends_cap=10_000_000)], model=MODEL,
        tokens_per_second=tokens_per_second, chunk_tokens=chunk_tokens,
    ) as model:
        root = Path(folder)
        (root / "leap.py").write_text(STUB, encoding="utf-8")
        uri = from_fs_path(str(root / "leap.py"))
        config = server_config()
        client = make_client()
        deltas = 0
        streaming = asyncio.Event()

        @client.feature("littleCoder/event")
        def on_event(params: Any) -> None:
            nonlocal deltas
            if params.event.kind == "text_delta":
                deltas += 1
                streaming.set()

        @client.feature("littleCoder/sessionFinished")
        def on_finished(params: Any) -> None:
            return None

        started = time.perf_counter()
        await client.start_io(*config.server_command, env=config.server_env, cwd=str(root))
        await client.initialize_session(types.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"), root_uri=from_fs_path(str(root)),
            initialization_options={"littleCoder": {"backend": "ollama", "baseUrl": model.base_url, "model": MODEL}},
        ))
        start_to_initialized = time.perf_counter() - started
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=uri, language_id="python", version=1, text=STUB)))

        action = types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(line=5, character=8), end=types.Position(line=5, character=8)),
            context=types.CodeActionContext(diagnostics=[]),
        )
        status = types.ExecuteCommandParams(command="littleCoder.status", arguments=[{}])
        result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="littleCoder.implement",
            arguments=[{"uri": uri, "position": {"line": 3, "character": 0}}]))
        session = result["sessionId"]
        await asyncio.wait_for(streaming.wait(), 30)

        code_action_times: list[float] = []
        status_times: list[float] = []
        tokens_before = model.log[-1].tokens_sent
        deltas_before = deltas
        window_start = time.perf_counter()
        for _ in range(samples):
            t = time.perf_counter()
            found = await client.text_document_code_action_async(action)
            code_action_times.append(time.perf_counter() - t)
            assert found, "the stub must offer an action"
            t = time.perf_counter()
            await client.workspace_execute_command_async(status)
            status_times.append(time.perf_counter() - t)
            await asyncio.sleep(0.005)  # an editor asks on cursor moves, not in a tight loop
        window = time.perf_counter() - window_start
        streamed = model.log[-1].tokens_sent - tokens_before
        still_streaming = not model.log[-1].finished

        await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="littleCoder.cancel", arguments=[{"sessionId": session}]))
        await client.shutdown_session()
        await client.stop()

    code_action = summary(code_action_times)
    status_summary = summary(status_times)
    return {
        "benchmark": "lsp_latency",
        "start_to_initialized_s": round(start_to_initialized, 3),
        "code_action": code_action,
        "status": status_summary,
        "stream_tokens_per_s": round(streamed / window, 1),
        "stream_chunk_tokens": chunk_tokens,
        "stream_active_throughout": still_streaming,
        "event_notifications_per_s": round((deltas - deltas_before) / window, 1),
        "goal_p99_ms": GOAL_P99_MS,
        "stream_fast_enough": streamed / window >= MIN_STREAM_TPS,
        "goal_met": code_action["p99_ms"] < GOAL_P99_MS and status_summary["p99_ms"] < GOAL_P99_MS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300, help="code actions and status calls each")
    parser.add_argument("--tokens-per-second", type=float, default=6000.0, help="scripted stream pacing")
    parser.add_argument("--chunk-tokens", type=int, default=4, help="tokens per stream piece (Ollama sends 1-4)")
    parser.add_argument("--quick", action="store_true", help="60 samples (CI smoke run)")
    args = parser.parse_args()
    samples = 60 if args.quick else args.samples
    print(json.dumps(asyncio.run(measure(samples, args.tokens_per_second, args.chunk_tokens)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
