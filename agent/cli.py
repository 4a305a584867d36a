"""`little-coder` command line: run a task headless, probe a model server, serve LSP, run the benchmark.

Exit codes of `run`: 0 the model finished, 3 turn cap, 1 error or stuck, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from agent.settings import LoadedSettings, Settings

# Start-up matters (`--help`, `lsp`): building the parser imports nothing heavy; each command imports
# what it runs (pydantic models, httpx, the benchmark harness) once it is chosen.

EXIT = {"done": 0, "turn_cap": 3, "error": 1, "stuck": 1, "cancelled": 130}


def _add_backend_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", "-w", type=Path, default=Path.cwd(), help="project root (default: cwd)")
    p.add_argument("--backend", choices=["auto", "ollama", "openai"], help="model server protocol")
    p.add_argument("--base-url", help="model server URL, e.g. http://127.0.0.1:11434")
    p.add_argument("--model", help="model name (default: the server's first model)")


def build_parser() -> argparse.ArgumentParser:
    from agent.bench.cli import register as register_bench
    from agent.server_cli import add_probe_arguments
    from agent.server_cli import register as register_server

    parser = argparse.ArgumentParser(prog="little-coder", description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one task headless, writing to disk")
    _add_backend_args(run)
    run.add_argument("--max-turns", type=int, help="turn cap (default 20)")
    run.add_argument("--thinking-budget", type=int, help="reasoning tokens per turn (0 disables thinking)")
    run.add_argument("--bash", choices=["allowlist", "always", "never"], help="which shell commands may run")
    run.add_argument("--json", action="store_true", help="print the final event as JSON on stdout")
    run.add_argument("--show-thinking", action="store_true", help="include reasoning in the transcript")
    run.add_argument("task", nargs="+", help="what to do ('-' reads it from stdin)")

    probe = sub.add_parser("probe", help="what the model server and model can do")
    _add_backend_args(probe)
    add_probe_arguments(probe)
    register_server(sub)

    trust = sub.add_parser("trust", help="whether a workspace is trusted, and which of its settings count")
    trust.add_argument("workspace", nargs="?", type=Path, default=Path.cwd(), metavar="PATH",
                       help="project root (default: cwd)")

    register_bench(sub)

    # Listed for --help only: main() hands `lsp ...` to the server's own parser before parsing here.
    sub.add_parser("lsp", help="run the language server on stdio (for editors); options: see `lsp --help`")
    return parser


def entry() -> NoReturn:
    """The installed `little-coder` command: main(), then out of the process.

    Once main() has returned, everything a command opened is closed (sessions close their clients,
    sandboxes and model servers themselves). What normal interpreter exit still does is free every
    object one by one, the tokenizer's tables and each module: ~0.1 s a user waits for after the
    answer. So, with no other thread still working, the exit handlers run (logging's flush, temporary
    folders) and the process ends without that teardown.
    """
    code = main()
    if any(thread.is_alive() and not thread.daemon for thread in threading.enumerate()
           if thread is not threading.main_thread()):
        sys.exit(code)  # the interpreter waits for them, as it always has
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["lsp"]:
        # The server parses its own options (editors add --stdio). agent never imports lc_lsp at module
        # level: the language server is a separate room that builds on the agent.
        from lc_lsp.server import main as lsp_main

        return lsp_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command == "bench":
        from agent.bench.cli import handle as handle_bench

        return handle_bench(args)  # its own settings: the exercise tree is not a workspace
    if args.command == "serve-embedded":
        from agent.server_cli import serve_embedded

        return serve_embedded(args)
    from agent.settings import SettingsError

    try:
        loaded = _settings(args)
    except SettingsError as exc:
        print(f"little-coder: {exc}", file=sys.stderr)
        return 2
    if args.command == "trust":
        print(_trust_report(loaded))
        return 0
    if loaded.notice:
        print(loaded.notice, file=sys.stderr)
    settings = loaded.settings
    if args.command == "run":
        task = sys.stdin.read() if args.task == ["-"] else " ".join(args.task)
        if not task.strip():
            print("little-coder: the task is empty", file=sys.stderr)
            return 2
        import asyncio

        try:
            return asyncio.run(_run(task, args.workspace.resolve(), settings, as_json=args.json,
                                    show_thinking=args.show_thinking))
        except KeyboardInterrupt:  # asyncio.run re-raises Ctrl-C after the session has reported it
            return EXIT["cancelled"]
    if args.command == "probe":
        from agent.server_cli import probe_command

        return probe_command(settings, live=args.live)
    parser.error(f"unknown command {args.command}")
    return 2


def _settings(args: argparse.Namespace) -> LoadedSettings:
    from agent.settings import SettingsError, load_settings

    workspace: Path = args.workspace
    if not workspace.is_dir():
        raise SettingsError("workspace", f"{workspace} is not a directory", "arguments")
    overrides: dict[str, Any] = {
        "backend": getattr(args, "backend", None),
        "base_url": getattr(args, "base_url", None),
        "model": getattr(args, "model", None),
        "max_turns": getattr(args, "max_turns", None),
        "thinking_budget": getattr(args, "thinking_budget", None),
        "bash": getattr(args, "bash", None),
    }
    return load_settings(workspace, overrides)


def _trust_report(loaded: LoadedSettings) -> str:
    lines = [f"workspace: {loaded.workspace}",
             f"project file: {loaded.project_file or 'none'}",
             f"trusted: {'yes' if loaded.trusted else 'no'}"]
    if loaded.ignored:
        lines.append(f"ignored from the project file: {', '.join(loaded.ignored)}")
    if not loaded.trusted:
        lines.append(f"to trust it: {loaded.how_to_trust()}")
    return "\n".join(lines)


async def _run(task: str, root: Path, settings: Settings, *, as_json: bool, show_thinking: bool) -> int:
    import asyncio

    from agent.backend import ModelMemory
    from agent.embedded import ensure_model_server
    from agent.events import SessionFinished, StreamProgress
    from agent.providers.base import ProviderError
    from agent.server_cli import warn
    from agent.session import Session
    from agent.transcript import Transcript
    from agent.workspace import DiskWorkspace

    transcript = Transcript(show_reasoning=show_thinking)
    # On a terminal, where the model stands ("thinking 812/2048 · 38 tok/s") stays on one line that the
    # transcript's next line replaces; piped, the transcript alone.
    live = sys.stderr.isatty()
    shown = False
    final: SessionFinished | None = None
    try:
        # With backend auto and nothing answering, this starts the embedded llama-server for the run.
        async with ensure_model_server(settings, notify=warn) as reachable:
            workspace = DiskWorkspace(root)
            session = Session(task, workspace, reachable, memory=ModelMemory())
            try:
                async for event in session.run():
                    if live and isinstance(event, StreamProgress):
                        print(f"\r\x1b[K  … {event.text}", end="", file=sys.stderr, flush=True)
                        shown = True
                        continue
                    lines = transcript.lines(event)
                    if shown and lines:
                        print("\r\x1b[K", end="", file=sys.stderr)
                        shown = False
                    for line in lines:
                        print(line, file=sys.stderr, flush=True)
                    if isinstance(event, SessionFinished):
                        final = event
            except asyncio.CancelledError:
                final = session.result
                for line in transcript.lines(final) if final else []:
                    print(line, file=sys.stderr, flush=True)
            finally:
                await workspace.aclose()  # the sandbox's session folder (its /tmp and HOME)
    except ProviderError as exc:
        print(f"little-coder: {exc.user_message()}", file=sys.stderr)
        return 1
    if final is None:
        return 1
    if as_json:
        print(final.model_dump_json(indent=2))
    return EXIT[final.outcome]


if __name__ == "__main__":
    entry()
