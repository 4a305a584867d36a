"""Language-server latency while a session streams: does the editor stay responsive as the user types?

Starts `python -m lc_lsp` as an editor would, opens a 3,000-line file with a stub near its end, and
starts a session on the stub against the scripted model server running as a separate process
(bench/support.py), paced at `--tokens-per-second` (default 5,000 asked, which the scripted server
delivers at about 2,400 on a 2-core machine; the rate the client actually received is measured, by
tokenizing what it got, and the goal counts only when it is ≥ 2,000). While it streams, the client alternates
`textDocument/codeAction` and `textDocument/hover` on the stub, sending an incremental didChange (a
character typed in the middle of the file) before every 4th request, so the server re-analyses a new
version as it would for a user typing; every round trip is timed through the stdio pipes. Reported
beside the latencies: the server's CPU over the window, the fake server's CPU (its own process), and
the server's resident memory after the session ends.

With `--compare-with DIR` (a checkout of an earlier version) the same run is made against that server,
side by side.

Goal: codeAction and hover p99 < 20 ms with the stream at ≥ 2,000 tokens/s.

    python bench/lsp_latency.py [--samples 400] [--tokens-per-second 5000] [--compare-with DIR] [--quick]

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pytest_lsp  # noqa: E402
from lsprotocol import types  # noqa: E402
from pygls.uris import from_fs_path  # noqa: E402

from agent import tokens  # noqa: E402
from bench.support import FakeModelProcess, emit, module_with_stub, process_cpu_seconds, rss_mb, summary_ms  # noqa: E402
from tests.fakes.script import Reply  # noqa: E402
from tests.lsp.conftest import MODEL, make_client  # noqa: E402

GOAL_P99_MS = 20.0
MIN_STREAM_TPS = 2000.0  # the load the goal is stated for
CHANGE_EVERY = 4  # a didChange before every 4th request
FILE_LINES = 3000


async def measure(source: Path, samples: int, tokens_per_second: float, chunk_tokens: int) -> dict[str, Any]:
    text, stub_line = module_with_stub(FILE_LINES)
    never_ends = Reply(fault="never_ends", never_ends_cap=50_000_000)
    with tempfile.TemporaryDirectory(prefix="lc-bench-latency-") as folder, FakeModelProcess(
        [never_ends], tokens_per_second=tokens_per_second, chunk_tokens=chunk_tokens, model=MODEL,
    ) as model:
        root = Path(folder)
        (root / "inventory.py").write_text(text, encoding="utf-8")
        uri = from_fs_path(str(root / "inventory.py"))
        assert uri is not None
        client = make_client()
        received: list[str] = []
        streaming = asyncio.Event()

        @client.feature("littleCoder/event")
        def on_event(params: Any) -> None:
            if params.event.kind == "text_delta":
                received.append(params.event.text)
                streaming.set()

        env = {**os.environ, "PYTHONPATH": str(source), "LITTLE_CODER_LOG_LEVEL": "WARNING"}
        @client.feature("littleCoder/sessionFinished")
        def on_finished(params: Any) -> None:
            return None

        await client.start_io(sys.executable, "-m", "lc_lsp", env=env, cwd=str(source))
        initialized = await client.initialize_session(types.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"), root_uri=from_fs_path(str(root)),
            initialization_options={"littleCoder": {"backend": "ollama", "baseUrl": model.base_url, "model": MODEL}},
        ))
        has_hover = bool(initialized.capabilities.hover_provider)  # an earlier version may have none
        server_pid = client._server.pid  # type: ignore[union-attr]  # pytest-lsp keeps the child here
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=uri, language_id="python", version=1, text=text)))
        at_stub = types.Position(line=stub_line + 1, character=8)
        action = types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), range=types.Range(start=at_stub, end=at_stub),
            context=types.CodeActionContext(diagnostics=[]),
        )
        hover = types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=at_stub)
        result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="littleCoder.implement",
            arguments=[{"uri": uri, "position": {"line": stub_line, "character": 0}}]))
        session = result["sessionId"]
        await asyncio.wait_for(streaming.wait(), 60)

        code_action_times: list[float] = []
        hover_times: list[float] = []
        version = 1
        typed_line = FILE_LINES // 2  # the middle of the file: the stub below it moves with nothing
        received_before = len(received)
        server_cpu_before = process_cpu_seconds(server_pid)
        model_cpu_before = model.cpu_seconds()
        window_start = time.perf_counter()
        for index in range(samples):
            if index % CHANGE_EVERY == 0:
                version += 1
                where = types.Position(line=typed_line, character=0)
                client.text_document_did_change(types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[types.TextDocumentContentChangePartial(
                        range=types.Range(start=where, end=where), text="#")],
                ))
            started = time.perf_counter()
            if index % 2 == 0 or not has_hover:
                found = await client.text_document_code_action_async(action)
                code_action_times.append(time.perf_counter() - started)
                assert found, "the stub must offer an action"
            else:
                shown = await client.text_document_hover_async(hover)
                hover_times.append(time.perf_counter() - started)
                assert shown is not None, "hover shows the running session on its stub"
            await asyncio.sleep(0.005)  # an editor asks on cursor moves and keystrokes, not in a tight loop
        window = time.perf_counter() - window_start
        server_cpu = process_cpu_seconds(server_pid) - server_cpu_before
        model_cpu = model.cpu_seconds() - model_cpu_before
        streamed = sum(tokens.count(piece) for piece in received[received_before:])

        await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="littleCoder.cancel", arguments=[{"sessionId": session}]))
        await asyncio.sleep(1.0)
        rss_after = rss_mb(server_pid)
        await client.shutdown_session()
        await client.stop()

    stream_rate = streamed / window
    code_action = summary_ms(code_action_times)
    hover_summary = summary_ms(hover_times) if hover_times else None
    return {
        "code_action": code_action,
        "hover": hover_summary,
        "did_change_every": CHANGE_EVERY,
        "document_versions": version,
        "file_lines": FILE_LINES,
        "window_s": round(window, 2),
        "stream_tokens_per_s": round(stream_rate, 1),
        "stream_chunk_tokens": chunk_tokens,
        "server_cpu_s": round(server_cpu, 3),
        "server_cpu_share_of_window": round(server_cpu / window, 3),
        "fake_model_cpu_s": round(model_cpu, 3),
        "server_rss_after_session_mb": round(rss_after, 1),
        "stream_fast_enough": stream_rate >= MIN_STREAM_TPS,
        "goal_met": stream_rate >= MIN_STREAM_TPS and code_action["p99_ms"] < GOAL_P99_MS
        and hover_summary is not None and hover_summary["p99_ms"] < GOAL_P99_MS,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    samples = 80 if args.quick else args.samples
    current = await measure(ROOT, samples, args.tokens_per_second, args.chunk_tokens)
    result: dict[str, Any] = {"bench": "lsp_latency", "cpus": os.cpu_count(), "samples": samples,
                              "goal": {"p99_ms": GOAL_P99_MS, "min_stream_tokens_per_s": MIN_STREAM_TPS},
                              "current": current, "goal_met": current["goal_met"]}
    if args.compare_with is not None:
        previous = await measure(args.compare_with.resolve(), samples, args.tokens_per_second, args.chunk_tokens)
        result["previous"] = previous
        result["code_action_p99_previous_over_current"] = round(
            previous["code_action"]["p99_ms"] / current["code_action"]["p99_ms"], 2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=400, help="requests (codeAction and hover alternate)")
    parser.add_argument("--tokens-per-second", type=float, default=5000.0, help="the fake model's pacing (asked)")
    parser.add_argument("--chunk-tokens", type=int, default=4, help="tokens per stream piece (Ollama sends 1-4)")
    parser.add_argument("--compare-with", type=Path, help="a checkout of an earlier version to measure beside")
    parser.add_argument("--quick", action="store_true", help="80 requests (smoke run)")
    emit(asyncio.run(run(parser.parse_args())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
