"""`little-coder serve-embedded`: run the embedded SmolLM2-135M llama-server until Ctrl-C.

The URL goes to stdout as one line (scripts read it); everything else goes to stderr. Without
--port it takes 8080 when free, llama-server's usual port, which backend `auto` tries, so a
`little-coder run` in another terminal finds it without flags.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from agent.embedded import DEFAULT_CONTEXT, EmbeddedError, EmbeddedServer, port_is_free
from agent.settings import DEFAULT_LLAMACPP_URL

USUAL_PORT = int(DEFAULT_LLAMACPP_URL.rsplit(":", 1)[1])
_POLL_S = 0.5


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    serve = subparsers.add_parser(
        "serve-embedded", help="serve the embedded SmolLM2-135M smoke-test model on 127.0.0.1 until Ctrl-C"
    )
    serve.add_argument("--port", type=int, help=f"default: {USUAL_PORT} if free, else any free port")
    serve.add_argument("--context-size", "-c", type=int, default=DEFAULT_CONTEXT, help="tokens (llama-server -c)")
    serve.add_argument("--threads", "-t", type=int, help="CPU threads (default: llama-server's choice)")
    serve.add_argument("--cache-reuse", type=int, default=0,
                       help="reuse shifted KV chunks of at least N tokens (llama-server --cache-reuse)")
    serve.add_argument("--log", type=Path, help="append llama-server's log to this file")


def serve_embedded(args: argparse.Namespace) -> int:
    """Handler of `serve-embedded`; the exit status."""
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        return 130


async def _serve(args: argparse.Namespace) -> int:
    port = args.port or (USUAL_PORT if port_is_free(USUAL_PORT) else None)
    try:
        server = EmbeddedServer.installed(context_size=args.context_size, port=port, threads=args.threads,
                                          cache_reuse=args.cache_reuse, log_path=args.log)
        await server.start()
    except EmbeddedError as exc:
        print(f"little-coder: {exc.user_message()}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        print(server.base_url, flush=True)
        print(f"little-coder: serving {server.alias} (a 135M smoke-test model, not a coding model) at "
              f"{server.base_url}, started in {server.started_in:.1f} s; use it with "
              f"`little-coder run --base-url {server.base_url} TASK`; Ctrl-C stops it", file=sys.stderr, flush=True)
        while server.running:
            try:
                await asyncio.wait_for(stop.wait(), _POLL_S)
                return 0
            except TimeoutError:
                continue
        print(f"little-coder: llama-server stopped by itself:\n{server.log_tail()}", file=sys.stderr)
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await server.stop()
