"""What containment costs: per command, and for the first command in a large workspace.

1. Per-command overhead: the same commands (`true`, and a Python one-liner) run N times on the host
   (agent.process.run_command, the unsandboxed path) and in the sandbox (the editor's overlay room
   and the CLI's writable room), alternating so load drifts hit both alike. Reported: median and
   p90 wall time, CPU time of the child processes, and the sandbox's overhead (median difference).
   Goal: < 50 ms.
2. The first command in a generated workspace of `--files` files (default 100,000 files, ~1 GB of
   text in realistic sizes): through the real EditorWorkspace.run with a sandbox policy, against the
   old way (the shadow copy of lc_lsp/shadow.py, still the fallback without a sandbox) on the same
   tree in the same run. Reported: wall time, CPU time, and the extra disk each leaves behind.
   Goal: < 1 s and ~0 extra disk for the sandbox.

    python bench/sandbox.py [--runs 30] [--files 100000] [--quick]

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.process import run_command  # noqa: E402
from agent.run_result import RunResult  # noqa: E402
from agent.sandbox import Room, SandboxPolicy, run_in_room, support  # noqa: E402
from bench.support import children_cpu_seconds, own_cpu_seconds  # noqa: E402
from lc_lsp.editor_workspace import EditorWorkspace  # noqa: E402
from lc_lsp.shadow import ShadowTree  # noqa: E402

POLICY = SandboxPolicy()
COMMANDS = {"true": "true", "python": "python3 -c 'import sys; print(sys.version_info[0])'"}
# Source-file sizes, bytes: most small, a few large (a typical repository's spread).
SIZES = (600, 1_500, 4_000, 9_000, 12_000, 25_000, 60_000)


async def _timed(run: Callable[[], Awaitable[RunResult]]) -> tuple[float, float]:
    cpu = children_cpu_seconds()
    started = time.perf_counter()
    result = await run()
    wall = time.perf_counter() - started
    if result.exit_code != 0:
        raise SystemExit(f"bench command failed: {result.stderr}")
    return wall, children_cpu_seconds() - cpu


def _summary(walls: list[float], cpus: list[float]) -> dict[str, float]:
    walls = sorted(walls)
    return {
        "median_ms": round(statistics.median(walls) * 1000, 1),
        "p90_ms": round(walls[int(len(walls) * 0.9) - 1] * 1000, 1),
        "child_cpu_median_ms": round(statistics.median(cpus) * 1000, 1),
    }


async def per_command(runs: int, folder: Path) -> dict[str, object]:
    workspace = folder / "small"
    workspace.mkdir()
    (workspace / "main.py").write_text("print('hi')\n")
    editor = Room(workspace, layer=True, parent=folder / "rooms")
    cli = Room(workspace, layer=False, parent=folder / "rooms")
    kinds: dict[str, Callable[[str], Awaitable[RunResult]]] = {
        "host": lambda command: run_command(command, workspace, 60),
        "sandbox_editor": lambda command: run_in_room(editor, command, 60, POLICY),
        "sandbox_cli": lambda command: run_in_room(cli, command, 60, POLICY),
    }
    out: dict[str, object] = {}
    for label, command in COMMANDS.items():
        samples: dict[str, tuple[list[float], list[float]]] = {kind: ([], []) for kind in kinds}
        for kind, run in kinds.items():  # one warm-up each
            await run(command)
        for _ in range(runs):
            for kind, run in kinds.items():
                wall, cpu = await _timed(lambda run=run: run(command))  # type: ignore[misc]
                samples[kind][0].append(wall)
                samples[kind][1].append(cpu)
        figures = {kind: _summary(*pair) for kind, pair in samples.items()}
        host = statistics.median(samples["host"][0])
        for kind in ("sandbox_editor", "sandbox_cli"):
            figures[kind]["overhead_ms"] = round((statistics.median(samples[kind][0]) - host) * 1000, 1)
        out[label] = figures
    editor.close_now()
    cli.close_now()
    return out


def make_tree(root: Path, files: int) -> int:
    """`files` files in folders of 200, sizes cycling through SIZES; returns the bytes written."""
    written = 0
    line = "value = compute(alpha, beta, gamma)  # a line of ordinary source text\n"
    for index in range(files):
        folder = root / f"pkg{index // 2000}" / f"mod{(index // 200) % 10}"
        if index % 200 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        size = SIZES[index % len(SIZES)]
        (folder / f"file{index}.py").write_text(line * (size // len(line) + 1))
        written += size
    return written


def _disk_bytes(path: Path) -> int:
    """Blocks in use under `path` (what `du` counts), not apparent sizes."""
    total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
            except OSError:
                continue
    return total


class _NoBuffers:
    def buffer(self, path: Path) -> tuple[str, int | None] | None:
        return None

    def open_paths(self) -> list[Path]:
        return []


async def first_command(files: int, folder: Path) -> dict[str, object]:
    root = folder / "big"
    made = time.perf_counter()
    size = make_tree(root, files)
    os.sync()  # the tree's writeback is the generator's cost, not the first command's
    generated_s = time.perf_counter() - made

    state = folder / "editor-state"
    workspace = EditorWorkspace(root, _NoBuffers(), sandbox_parent=state)
    await workspace.create("new_module.py", "print('new')\n")
    cpu = own_cpu_seconds() + children_cpu_seconds()
    started = time.perf_counter()
    result = await workspace.run("python3 new_module.py && cat pkg0/mod0/file0.py > /dev/null", 120, POLICY)
    sandbox_wall = time.perf_counter() - started
    sandbox_cpu = own_cpu_seconds() + children_cpu_seconds() - cpu
    if result.exit_code != 0:
        raise SystemExit(f"sandboxed command failed: {result.stderr}")
    sandbox_disk = _disk_bytes(state)
    await workspace.aclose()

    # The old way, on the same tree: the copy every first command used to make.
    shadow = ShadowTree(root, folder / "shadow-state", max_files=files + 10)
    cpu = own_cpu_seconds() + children_cpu_seconds()
    started = time.perf_counter()
    shadow_root = await shadow.sync(lambda _: {"new_module.py": "print('new')\n"})
    copied = await run_command("python3 new_module.py", shadow_root, 120)
    shadow_wall = time.perf_counter() - started
    shadow_cpu = own_cpu_seconds() + children_cpu_seconds() - cpu
    shadow_disk = _disk_bytes(folder / "shadow-state")
    await shadow.aclose()
    if copied.exit_code != 0:
        raise SystemExit(f"command in the copy failed: {copied.stderr}")
    return {
        "files": files,
        "tree_bytes": size,
        "generate_s": round(generated_s, 1),
        "sandbox": {"wall_s": round(sandbox_wall, 3), "cpu_s": round(sandbox_cpu, 3), "extra_disk_bytes": sandbox_disk},
        "copy_before": {"wall_s": round(shadow_wall, 3), "cpu_s": round(shadow_cpu, 3), "extra_disk_bytes": shadow_disk},
        "speedup": round(shadow_wall / sandbox_wall, 1) if sandbox_wall else None,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10 runs and 20,000 files")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.files = 10, 20_000
    found = support()
    if not found.available:
        print(json.dumps({"error": found.reason}))
        raise SystemExit(1)
    with tempfile.TemporaryDirectory(prefix="lc-bench-sandbox-", dir=Path.home() / ".cache") as folder:
        overhead = await per_command(args.runs, Path(folder))
        first = await first_command(args.files, Path(folder))
        shutil.rmtree(Path(folder) / "big", ignore_errors=True)
    worst = max(figures[kind]["overhead_ms"]  # type: ignore[index]
                for figures in overhead.values() for kind in ("sandbox_editor", "sandbox_cli"))
    sandbox = first["sandbox"]
    report = {
        "per_command": overhead,
        "first_command": first,
        "goals": {
            "overhead_ms_below": 50,
            "overhead_met": worst < 50,
            "first_command_s_below": 1.0,
            "first_command_met": sandbox["wall_s"] < 1.0,  # type: ignore[index]
            "extra_disk_bytes_below": 1_000_000,
            "extra_disk_met": sandbox["extra_disk_bytes"] < 1_000_000,  # type: ignore[index]
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
