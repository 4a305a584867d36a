"""Scaffold overhead of a whole `little-coder run`, process start included, beside the model's own time.

The model is the scripted server in a process of its own (bench/support.FakeModelProcess), paced at a
real 50 tokens/s, serving a short realistic session: read the module, edit it, run a quick check with
Bash (in the sandbox, as a user's run does), then a final answer. The real CLI runs it as a subprocess,
`little-coder run --workspace W --backend ollama --base-url URL --model M TASK`, on a 12-file project and on
a 50,000-file one (generated once, cached under ~/.cache/little-coder/bench/). Then

    model time = Σ over chat requests of (finished_at − started_at), from the fake server's log
    overhead   = (CLI wall time − model time) / model time

so overhead is everything the user waits for that is not the model: interpreter start and imports,
settings, probing the server, building requests, parsing streams, tools, the sandboxed Bash call (the
command's own run time is reported beside it), and exit. The CLI's CPU (RUSAGE_CHILDREN) is reported
beside its wall time. Goal: overhead ≤ 2 % on each workspace size.

    python bench/agent_overhead.py [--runs 3] [--rate 50] [--quick]

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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import ROOT, FakeModelProcess, children_cpu_seconds, emit
from tests.fakes.script import Call, Reply

GOAL_SHARE = 0.02
CLI = ROOT / ".venv" / "bin" / "little-coder"
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
    """A cached tree of `files` files (the small project plus generated packages); app/calc.py is reset."""
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
    (root / "app" / "calc.py").write_text(CALC)
    return root


def bare_command_s(root: Path) -> float:
    """The check's own run time without the scaffold or the sandbox (it is part of the CLI's wall time)."""
    started = time.monotonic()
    subprocess.run(["/bin/sh", "-c", CHECK], cwd=root, capture_output=True, check=True)
    return time.monotonic() - started


def cli_environment() -> dict[str, str]:
    """Ours, with bytecode caching on (an installed little-coder has its .pyc files; compiling every
    module at each start is not its cost), cached outside the checkout."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(CACHE / "pycache")
    return env


def one_run(root: Path, rate: float) -> dict[str, float]:
    script = replies()
    with FakeModelProcess(script, tokens_per_second=rate, chunk_tokens=1) as server:
        command = [str(CLI), "run", "--workspace", str(root), "--backend", "ollama", "--base-url", server.base_url,
                   "--model", "qwen3.5:9b", "--bash", "always", "--json", TASK]
        cpu_before = children_cpu_seconds()
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=cli_environment())
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
            "tokens_over_rate_s": tokens / rate, "overhead_s": wall - model, "overhead_share": (wall - model) / model,
            "before_first_request_s": log[0]["started_at"] - started, "between_requests_s": between,
            "after_last_request_s": started + wall - log[-1]["finished_at"]}


def measure(name: str, root: Path, runs: int, rate: float) -> dict[str, Any]:
    files = sum(len(names) for _, _, names in os.walk(root)) - (1 if (root / ".complete").exists() else 0)
    samples = [one_run(root, rate) for _ in range(runs)]
    median = {key: statistics.median(sample[key] for sample in samples) for key in samples[0]}
    return {
        "workspace": name,
        "files": files,
        "runs": runs,
        "median": {key: round(value, 4) for key, value in median.items()},
        "bash_check_bare_s": round(bare_command_s(root), 4),
        "goal_overhead_share": GOAL_SHARE,
        "goal_met": median["overhead_share"] <= GOAL_SHARE,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="CLI runs per workspace (median reported)")
    parser.add_argument("--rate", type=float, default=50.0, help="tokens per second the model streams")
    parser.add_argument("--large-files", type=int, default=50_000, help="files in the large workspace")
    parser.add_argument("--quick", action="store_true",
                        help="one run each at 400 tokens/s on a 2,000-file tree: checks the bench, not the goal")
    args = parser.parse_args()
    runs, rate, large = (1, 400.0, 2_000) if args.quick else (args.runs, args.rate, args.large_files)
    with tempfile.TemporaryDirectory(prefix="lc-bench-overhead-") as tmp:
        small = Path(tmp) / "small"
        small_tree(small)
        one_run(small, 2_000.0)  # warm-up, not counted: writes the bytecode cache, fills the page cache
        results = [measure("small", small, runs, rate), measure("large", large_tree(large), runs, rate)]
    emit({
        "benchmark": "agent_overhead",
        "rate_tok_s": rate,
        "quick": args.quick,
        "session": "Read, Edit, Bash (sandboxed quick check), final answer: 4 model turns, one CLI process",
        "workspaces": results,
        "goal": f"(CLI wall - model time) / model time <= {GOAL_SHARE:.0%} at 50 tok/s, per workspace",
        "goal_met": all(result["goal_met"] for result in results) and rate == 50.0,
    })


if __name__ == "__main__":
    main()
