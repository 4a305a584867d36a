"""Commands about the model server: `serve-embedded` and `probe`.

`little-coder serve-embedded` runs the embedded SmolLM2-135M llama-server until Ctrl-C. The URL goes
to stdout as one line (scripts read it); everything else goes to stderr. Without --port it takes
8080 when free, llama-server's usual port, which backend `auto` tries, so a `little-coder run` in
another terminal finds it without flags.

`little-coder probe` prints, as JSON, which server and model `run` would use, what the server says
the model can do and the configuration that follows; with --live it also asks the model once
(agent.providers.probe.live_check) whether native tool calls work and how reasoning arrives.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.settings import Settings

# Registering these commands imports nothing heavy (start-up of `little-coder --help`); the handlers
# import the model-server code once one of them runs.
_POLL_S = 0.5


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    serve = subparsers.add_parser(
        "serve-embedded", help="serve the embedded SmolLM2-135M smoke-test model on 127.0.0.1 until Ctrl-C"
    )
    serve.add_argument("--port", type=int,
                       help="default: llama-server's usual port (the one backend auto tries) if free, else any")
    serve.add_argument("--context-size", "-c", type=int,
                       help="tokens (llama-server -c; default agent.embedded.DEFAULT_CONTEXT)")
    serve.add_argument("--threads", "-t", type=int, help="CPU threads (default: half the CPUs, at most 4)")
    serve.add_argument("--cache-reuse", type=int, default=0,
                       help="reuse shifted KV chunks of at least N tokens (llama-server --cache-reuse)")
    serve.add_argument("--log", type=Path, help="append llama-server's log to this file")


def add_probe_arguments(probe: argparse.ArgumentParser) -> None:
    probe.add_argument("--live", action="store_true",
                       help="also send one short request: do native tool calls work, how does reasoning arrive")


def warn(message: str) -> None:
    print(f"little-coder: {message}", file=sys.stderr, flush=True)


def probe_command(settings: Settings, *, live: bool) -> int:
    """Handler of `probe`; the exit status (1 when no server can be reached)."""
    import asyncio

    return asyncio.run(_probe(settings, live=live))


async def _probe(settings: Settings, *, live: bool) -> int:
    import json

    from agent.backend import ModelMemory, connect
    from agent.embedded import ensure_model_server
    from agent.providers.base import ProviderError
    from agent.providers.probe import live_check

    try:
        async with ensure_model_server(settings, notify=warn) as reachable:
            backend = await connect(reachable, ModelMemory())
            try:
                report: dict[str, Any] = {
                    "backend": backend.name,
                    "base_url": backend.base_url,
                    "model": backend.model,
                    "capabilities": backend.capabilities.model_dump(),
                    "effective": backend.config.model_dump(),
                }
                if live:
                    check = await live_check(backend.provider, backend.model, context_size=backend.config.context_size)
                    report["live"] = check.model_dump()
            finally:
                await backend.provider.aclose()
    except ProviderError as exc:
        warn(exc.user_message())
        return 1
    print(json.dumps(report, indent=2))
    return 0


def serve_embedded(args: argparse.Namespace) -> int:
    """Handler of `serve-embedded`; the exit status."""
    import asyncio

    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        return 130


async def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from agent.embedded import EmbeddedError, EmbeddedServer, port_is_free
    from agent.settings import DEFAULT_LLAMACPP_URL

    usual_port = int(DEFAULT_LLAMACPP_URL.rsplit(":", 1)[1])
    port = args.port or (usual_port if port_is_free(usual_port) else None)
    options: dict[str, Any] = {"port": port, "threads": args.threads, "cache_reuse": args.cache_reuse,
                               "log_path": args.log}
    if args.context_size is not None:  # else the embedded server's own default
        options["context_size"] = args.context_size
    try:
        server = EmbeddedServer.installed(**options)
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
