"""Scaffold overhead of a whole `little-coder run`, process start included, beside the model's own time.

The model is the scripted server in a process of its own (bench/support.FakeModelProcess), paced at a
real 50 tokens/s, serving a short realistic session: read the module, edit it, run a quick check with
Bash (in the sandbox, as a user's run does), then a final answer. The real CLI runs it as a subprocess,
`little-coder run --workspace W --backend ollama --base-url URL --model M TASK`, on a 12-file project and on
a 50,000-file one (generated once, cached under ~/.cache/little-coder/bench/). Then

    model time = Σ over chat requests of (finished_at − started_at), from the fake server's log
    overhead   = (CLI wall time − model time − the check's own run time) / model time

so overhead is everything the user waits for that is neither the model nor the command the model asked
for: interpreter start and imports, settings, probing the server, building requests, parsing streams,
tools, the sandbox around the Bash call, and exit. The check's own run time (the same command run bare,
beside the CLI, best of three) is reported, and so is the share with it left in. The CLI's CPU
(RUSAGE_CHILDREN) is reported beside its wall time, and so is the session length from which the
overhead measured is 2 % (most of it is paid once per process). Goal: overhead ≤ 2 % on each workspace.

With `--compare-with DIR` (a checkout of an earlier version, e.g. `git worktree add /tmp/prev <commit>`)
that version's CLI runs beside ours, alternating run by run so the machine's drifts hit both alike. Each
checkout runs what its own `little-coder` command runs (the entry point its pyproject.toml names), with
this interpreter and that checkout first on PYTHONPATH.

    python bench/agent_overhead.py [--runs 3] [--rate 50] [--compare-with DIR] [--quick]

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import ROOT, FakeModelProcess, children_cpu_seconds, emit
from tests.fakes.script import Call, Reply

GOAL_SHARE = 0.02
CACHE = Path.home() / ".cache" / "little-coder" / "bench"
TASK = "add() in app/calc.py subtracts instead of adding; fix it and check it."
CALC = '"""Arithmetic helpers."""\n\n\ndef add(a: int, b: int) -> int:\n    return a - b\n\n\n' + "".join(
    f"def scale_{i}(x: int) -> int:\n    return x * {i + 2}\n\n\n" for i in range(30)
)
CHECK = "python3 -B -c 'from app.calc import add; assert add(2, 3) == 5; print(\"ok\")'"
# What a small thinking model says before each step: a few sentences of reasoning, a line of prose.
THOUGHT = ("The task says add() subtracts. I should look at the module before changing anything, keep the "
           "change to the one line that is wrong, and then run a quick check so the fix is verified rather "
           "than assumed. Nothing else in the module needs to change for this. ")


def replies() -> list[Reply]:
    return [
        Reply("Let me read the module first.", reasoning=THOUGHT * 2,
              calls=[Call("Read", {"file_path": "app/calc.py"})]),
        Reply("The bug is on line 5: it returns a - b.", reasoning=THOUGHT * 3,
              calls=[Call("Edit", {"file_path": "app/calc.py", "old_string": "    return a - b\n",
                                   "new_string": "    return a + b\n"})]),
        Reply("Now a quick check.", reasoning=THOUGHT, calls=[Call("Bash", {"command": CHECK})]),
        Reply("Fixed: add() in app/calc.py returned a - b; it now returns a + b, and the check passes. Done.",
              reasoning=THOUGHT),
    ]


def small_tree(root: Path) -> None:
    """12 files: the package, its tests, a README and a pyproject."""
    (root / "app").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "app" / "__init__.py").write_text("")
    for i in range(7):
        body = "".join(f"def f{i}_{j}(x):\n    return x + {j}\n\n" for j in range(40))
        (root / "app" / f"mod{i}.py").write_text(body)
    test = "from app.calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    (root / "tests" / "test_calc.py").write_text(test)
    (root / "README.md").write_text("# calc\n")
    (root / "pyproject.toml").write_text('[project]\nname = "calc"\nversion = "0"\n')
    (root / "app" / "calc.py").write_text(CALC)


def large_tree(files: int) -> Path:
    """A cached tree of `files` files (the small project plus generated packages)."""
    root = CACHE / f"workspace-{files}"
    done = root / ".complete"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        small_tree(root)
        made, package = 12, 0
        while made < files:
            folder = root / "src" / f"pkg{package // 50}" / f"sub{package % 50}"
            folder.mkdir(parents=True)
            for i in range(min(20, files - made)):
                name = f"VALUE_{package}_{i}"
                (folder / f"m{i}.py").write_text(f"{name} = {i}\n\n\ndef get():\n    return {name}\n")
                made += 1
            package += 1
        done.write_text(str(files))  # hidden, never listed: the tree keeps exactly `files` files
    return root


def bare_command_s(root: Path) -> float:
    """The check's own run time without the scaffold or the sandbox (it is part of the CLI's wall time):
    the best of three, so a hiccup of the machine is not subtracted as the command's."""
    times = []
    for _ in range(3):
        started = time.monotonic()
        subprocess.run(["/bin/sh", "-c", CHECK], cwd=root, capture_output=True, check=True)
        times.append(time.monotonic() - started)
    return min(times)


def cli_environment(source: Path) -> dict[str, str]:
    """Ours, with the checkout first on the path and bytecode caching on (an installed little-coder has
    its .pyc files; compiling every module at each start is not its cost), cached outside the checkout."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(CACHE / "pycache")
    env["PYTHONPATH"] = str(source)
    return env


def cli_command(source: Path) -> list[str]:
    """What the checkout's `little-coder` console script runs: its entry point, called the same way."""
    entry = tomllib.loads((source / "pyproject.toml").read_text())["project"]["scripts"]["little-coder"]
    module, function = entry.split(":")
    launcher = f"import sys; from {module} import {function}; sys.argv[0] = 'little-coder'; sys.exit({function}())"
    return [sys.executable, "-c", launcher]


def one_run(source: Path, root: Path, rate: float) -> dict[str, float]:
    (root / "app" / "calc.py").write_text(CALC)  # the bug back in place: each run makes the same edit
    script = replies()
    with FakeModelProcess(script, tokens_per_second=rate, chunk_tokens=1) as server:
        command = [*cli_command(source), "run", "--workspace", str(root), "--backend", "ollama",
                   "--base-url", server.base_url, "--model", "qwen3.5:9b", "--bash", "always", "--json", TASK]
        cpu_before = children_cpu_seconds()
        started = time.monotonic()
        # In the checkout: `python -c` puts the working directory first on sys.path, before PYTHONPATH.
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=cli_environment(source),
                              cwd=source)
        wall = time.monotonic() - started
        cpu = children_cpu_seconds() - cpu_before
        log = server.wait_requests(len(script), timeout=10.0)
    if done.returncode != 0 or '"outcome": "done"' not in done.stdout:
        raise RuntimeError(f"the CLI run failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    if "[exit code 0]" not in done.stderr and "exit 0" not in done.stderr:
        raise RuntimeError(f"the Bash check did not pass:\n{done.stderr[-3000:]}")
    model = sum(entry["finished_at"] - entry["started_at"] for entry in log)
    tokens = sum(entry["tokens_sent"] for entry in log)
    # Where the overhead goes (the server's clock is CLOCK_MONOTONIC too): before the first chat request
    # (start, imports, settings, probing), between requests (tools, Bash, request building), after the last.
    between = sum(later["started_at"] - earlier["finished_at"] for earlier, later in itertools.pairwise(log))
    return {"cli_wall_s": wall, "cli_cpu_s": cpu, "model_s": model, "tokens": tokens,
            "tokens_over_rate_s": tokens / rate, "overhead_share_with_command": (wall - model) / model,
            "before_first_request_s": log[0]["started_at"] - started, "between_requests_s": between,
            "after_last_request_s": started + wall - log[-1]["finished_at"]}


def measure(name: str, root: Path, runs: int, rate: float, previous: Path | None) -> dict[str, Any]:
    files = sum(len(names) for _, _, names in os.walk(root)) - (1 if (root / ".complete").exists() else 0)
    sources = {"current": ROOT} | ({"previous": previous} if previous is not None else {})
    samples: dict[str, list[dict[str, float]]] = {label: [] for label in sources}
    for _ in range(runs):
        for label, source in sources.items():
            samples[label].append(one_run(source, root, rate))
    command_s = bare_command_s(root)  # once the CLI has fixed add(): the check then passes, as in the runs
    for sample in itertools.chain(*samples.values()):
        sample["overhead_s"] = sample["cli_wall_s"] - sample["model_s"] - command_s
        sample["overhead_share"] = sample["overhead_s"] / sample["model_s"]
        sample["goal_from_model_s"] = sample["overhead_s"] / GOAL_SHARE
    medians = {label: {key: statistics.median(sample[key] for sample in taken) for key in taken[0]}
               for label, taken in samples.items()}
    result: dict[str, Any] = {
        "workspace": name,
        "files": files,
        "runs": runs,
        "median": {key: round(value, 4) for key, value in medians["current"].items()},
        "bash_check_bare_s": round(command_s, 4),
        "goal_overhead_share": GOAL_SHARE,
        "goal_met": medians["current"]["overhead_share"] <= GOAL_SHARE,
    }
    if previous is not None:
        result["previous_median"] = {key: round(value, 4) for key, value in medians["previous"].items()}
        result["overhead_previous_over_current"] = round(
            medians["previous"]["overhead_s"] / max(medians["current"]["overhead_s"], 1e-6), 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="CLI runs per workspace (median reported)")
    parser.add_argument("--rate", type=float, default=50.0, help="tokens per second the model streams")
    parser.add_argument("--large-files", type=int, default=50_000, help="files in the large workspace")
    parser.add_argument("--compare-with", type=Path, help="a checkout of an earlier version to measure beside")
    parser.add_argument("--quick", action="store_true",
                        help="one run each at 400 tokens/s on a 2,000-file tree: checks the bench, not the goal")
    args = parser.parse_args()
    runs, rate, large = (1, 400.0, 2_000) if args.quick else (args.runs, args.rate, args.large_files)
    previous = args.compare_with.resolve() if args.compare_with is not None else None
    with tempfile.TemporaryDirectory(prefix="lc-bench-overhead-") as tmp:
        small = Path(tmp) / "small"
        small_tree(small)
        for source in (ROOT, previous):
            if source is not None:  # warm-up, not counted: writes the bytecode and tokenizer caches
                one_run(source, small, 2_000.0)
        results = [measure("small", small, runs, rate, previous),
                   measure("large", large_tree(large), runs, rate, previous)]
    emit({
        "benchmark": "agent_overhead",
        "rate_tok_s": rate,
        "quick": args.quick,
        "session": "Read, Edit, Bash (sandboxed quick check), final answer: 4 model turns, one CLI process",
        "workspaces": results,
        "goal": f"(CLI wall - model time - the check's own time) / model time <= {GOAL_SHARE:.0%} at 50 tok/s, "
                "per workspace",
        "goal_met": all(result["goal_met"] for result in results) and rate == 50.0,
    })


if __name__ == "__main__":
    main()
