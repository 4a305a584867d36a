"""`little-coder bench`: run the Aider-Polyglot protocol on an exercise tree, and report on results.

    little-coder bench --tree ~/polyglot-benchmark --languages python,go --workers 2 --out run.json
    little-coder bench --tree ~/polyglot-benchmark --out run.json --resume
    little-coder bench report run.json [other.json] [--format markdown] [--png chart.png]
    little-coder bench verify --tree ~/polyglot-benchmark [--json verify.json]

Exit codes: 0 done, 1 the run could not start or continue (no model server, a results file in the
way), 2 usage error, 130 interrupted (finished exercises are saved; continue with --resume). `verify`
exits 1 when a reference solution fails (unavailable ones do not count against it).
`register(subparsers)` adds the command to the main parser; `handle(args)` runs it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

# Registering `bench` imports nothing heavy (start-up of `little-coder --help`); the handlers import the
# harness, the results models and settings once `bench` runs.

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add `bench` (and `bench report`) to a parser's subcommands; returns the bench parser."""
    bench = subparsers.add_parser(
        "bench", help="run the Aider-Polyglot benchmark protocol, or report on its results",
        description="Run the paper's Aider-Polyglot protocol (two attempts per exercise, tests restored "
                    "before grading) on an exercise tree laid out like the public polyglot-benchmark.",
    )
    add_run_arguments(bench)
    nested = bench.add_subparsers(dest="bench_command", metavar="{report,verify}")
    rep = nested.add_parser("report", help="tables of one results.json, or the overlap of two")
    rep.add_argument("results", type=Path, nargs="+", help="one results.json, or two to compare (A then B)")
    rep.add_argument("--format", choices=["text", "markdown"], default="text")
    rep.add_argument("--png", type=Path, help="also write a per-language pass-rate chart (needs matplotlib)")
    rep.add_argument("--labels", help="names of the two runs, comma-separated (default: file names)")
    ver = nested.add_parser("verify", help="grade every exercise's reference solution: is each one gradable here?",
                            description="Grade each exercise's reference solution (from .meta/) in the copy an "
                                        "agent would get, with the same graders and limits and no model; print per "
                                        "language how many are gradable, and every failure with its cause.")
    add_grading_arguments(ver, workers=2)
    ver.add_argument("--json", type=Path, help="also write the whole report as JSON to this file")
    return bench


def add_grading_arguments(p: argparse.ArgumentParser, workers: int) -> None:
    """The options of what is graded and how (agent.bench.workcopy.GradingRun), for `bench` and `verify`."""
    p.add_argument("--tree", type=Path, help="exercise tree: <language>/exercises/practice/<exercise>/")
    p.add_argument("--languages", help="comma-separated, e.g. python,go (default: all six)")
    p.add_argument("--exercises", help="comma-separated names or language/name keys")
    p.add_argument("--limit", type=int, help="first N exercises of each language")
    p.add_argument("--workers", type=int, default=workers, help=f"exercises run in parallel (default {workers})")
    p.add_argument("--test-timeout", type=float, help="seconds for one grading (default: per language)")
    p.add_argument("--memory-mb", type=int, default=4096, help="memory limit of a test run (default 4096)")
    p.add_argument("--work-dir", type=Path, help="where exercise copies are made (default: temp dir)")
    p.add_argument("--keep-workdirs", action="store_true", help="keep the exercise copies for inspection")


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    add_grading_arguments(p, workers=1)
    p.add_argument("--out", type=Path, default=Path("results.json"), help="results file (default results.json)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    again.add_argument("--force", action="store_true", help="discard the run saved in --out and start over")
    p.add_argument("--turns-1", type=int, default=12, help="turn cap of attempt 1 (default 12)")
    p.add_argument("--turns-2", type=int, default=8, help="turn cap of attempt 2; 0 = one attempt (default 8)")
    p.add_argument("--exercise-timeout", type=float, default=1800.0,
                   help="wall-clock seconds for one exercise's agent sessions (default 1800)")
    # Checked by BenchConfig (a usage error), which also holds the default: agent/bench/protocols.py.
    p.add_argument("--protocol", help="paper: the original harness; improved: this scaffold's (the default); "
                                      "see agent/bench/protocols.py")
    p.add_argument("--retry-tail", type=int, help="characters of failing output for attempt 2 (default: the "
                                                   "protocol's: paper 2000 from the start, improved 2500 from the end)")
    p.add_argument("--backend", choices=["auto", "ollama", "openai"], help="model server protocol")
    p.add_argument("--base-url", help="model server URL")
    p.add_argument("--model", help="model name (default: the server's first model)")
    p.add_argument("--thinking-budget", type=int, help="reasoning tokens per turn (0 disables thinking)")
    p.add_argument("--bash", choices=["allowlist", "always", "never"], help="which shell commands may run")


def handle(args: argparse.Namespace) -> int:
    command = getattr(args, "bench_command", None)
    if command == "report":
        return _report(args)
    if command == "verify":
        return _verify(args)
    return _run(args)


def _fail(message: str, code: int) -> int:
    print(f"little-coder bench: {message}", file=sys.stderr)
    return code


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import shutil

    from agent.bench.harness import BenchConfig, BenchError, Harness
    from agent.bench.report import report
    from agent.profiles import benchmark_overrides
    from agent.settings import SettingsError, load_settings

    if args.tree is None:
        return _fail("--tree is required (the exercise tree to run)", EXIT_USAGE)
    if not args.tree.is_dir():
        return _fail(f"--tree {args.tree} is not a directory", EXIT_USAGE)
    chosen = {"protocol": args.protocol} if args.protocol else {}
    try:
        config = BenchConfig(
            **_grading_run(args),
            turns_1=args.turns_1,
            turns_2=args.turns_2,
            exercise_timeout=args.exercise_timeout,
            **chosen,
            retry_tail_chars=args.retry_tail,
        )
        explicit = {"backend": args.backend, "base_url": args.base_url, "model": args.model,
                    "thinking_budget": args.thinking_budget, "bash": args.bash}
        loaded = load_settings(Path.cwd(), explicit)
        model = loaded.settings.model
        if model:  # the profile's polyglot overrides (the paper's corrections, say), below the user's own flags
            tuned = benchmark_overrides(model, "polyglot", backend=loaded.settings.backend)
            if tuned:
                loaded = load_settings(Path.cwd(), {**tuned, **{k: v for k, v in explicit.items() if v is not None}})
    except (ValueError, SettingsError) as exc:
        return _fail(_short(exc), EXIT_USAGE)
    if loaded.notice:
        print(loaded.notice, file=sys.stderr)
    settings = loaded.settings
    out: Path = args.out
    if args.force:
        out.unlink(missing_ok=True)
        shutil.rmtree(out.parent / f"{out.stem}-logs", ignore_errors=True)
    harness = Harness(config, settings, out, resume=args.resume, progress=sys.stderr)
    try:
        results = asyncio.run(harness.run())
    except BenchError as exc:
        return _fail(str(exc), EXIT_FAILED)
    except KeyboardInterrupt:
        return _fail(f"interrupted; finished exercises are saved in {out}: continue with --resume",
                     EXIT_INTERRUPTED)
    print(report(results), end="")
    print(f"results: {out}  logs: {harness.log_dir}", file=sys.stderr)
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    import asyncio

    from agent.bench.verify import VerifyConfig, VerifyError, render, verify

    if args.tree is None:
        return _fail("--tree is required (the exercise tree to check)", EXIT_USAGE)
    if not args.tree.is_dir():
        return _fail(f"--tree {args.tree} is not a directory", EXIT_USAGE)
    try:
        config = VerifyConfig(**_grading_run(args))
    except ValueError as exc:
        return _fail(_short(exc), EXIT_USAGE)
    try:
        report = asyncio.run(verify(config, progress=sys.stderr))
    except VerifyError as exc:
        return _fail(str(exc), EXIT_FAILED)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)
    print(render(report), end="")
    if args.json is not None:
        args.json.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
        print(f"report: {args.json}", file=sys.stderr)
    return EXIT_FAILED if report.overall.failed else EXIT_OK


def _grading_run(args: argparse.Namespace) -> dict[str, Any]:
    """The options `bench` and `bench verify` share (agent.bench.workcopy.GradingRun); ValueError on a
    wrong one."""
    from agent.bench.exercises import parse_languages
    from agent.bench.runners import Limits

    return {"tree": args.tree, "languages": parse_languages(args.languages),
            "exercises": [n.strip() for n in (args.exercises or "").split(",") if n.strip()],
            "limit": args.limit, "workers": args.workers,
            "limits": Limits(test_timeout=args.test_timeout, memory_mb=args.memory_mb),
            "work_dir": args.work_dir, "keep_workdirs": args.keep_workdirs}


def _report(args: argparse.Namespace) -> int:
    from agent.bench.report import ReportError, compare, comparison_report, plot, report
    from agent.bench.results import RunResults

    files: list[Path] = args.results
    if len(files) > 2:
        return _fail("report takes one results file, or two to compare", EXIT_USAGE)
    try:
        runs = [RunResults.load(f) for f in files]
    except ValueError as exc:
        return _fail(str(exc), EXIT_FAILED)
    labels = [s.strip() for s in args.labels.split(",")] if args.labels else [f.stem for f in files]
    if len(labels) != len(files):
        return _fail(f"--labels needs {len(files)} name(s)", EXIT_USAGE)
    if len(labels) == 2 and labels[0] == labels[1]:
        labels = [str(f) for f in files]
    texts = [report(r, args.format, title=f"{label}: {r.model or 'unknown model'}")
             for label, r in zip(labels, runs, strict=True)]
    if len(runs) == 2:
        comparison = compare(runs[0], runs[1], labels[0], labels[1])
        texts.append(comparison_report(comparison, args.format))
        for warning in comparison.warnings:  # also on stderr, so it is seen even when stdout goes to a file
            print(warning, file=sys.stderr)
    print("\n".join(texts), end="")
    if args.png is not None:
        try:
            plot(list(zip(labels, runs, strict=True)), args.png)
        except ReportError as exc:
            return _fail(str(exc), EXIT_FAILED)
        print(f"chart: {args.png}", file=sys.stderr)
    return EXIT_OK


def _short(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (`python -m agent.bench.cli ...`), the same command as `little-coder bench ...`."""
    parser = argparse.ArgumentParser(prog="little-coder")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    return handle(args)


if __name__ == "__main__":
    sys.exit(main())
