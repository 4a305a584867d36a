"""Glob and Grep at scale: their cost should follow the result, not the size of the tree.

Workspaces of 12, 10k and 100k small Python files (plus a .gitignore'd heavy folder, as a build or
vendored tree would be) are searched through the real tools, in a DiskWorkspace and in the editor's
EditorWorkspace with a few unsaved buffers and a file the agent proposed. Side by side in the same
run: the previous implementation, kept here as a reference only — Glob as a full listing of the
tree filtered in Python, Grep as the Python search over every listed file.

Per operation: wall time (p50 of a few runs), CPU (own + ripgrep's and the workers', by
RUSAGE_CHILDREN), the number of results, and the longest stall of a 10 ms ticker on the event loop.
The 100k tree is cached under ~/.cache/little-coder/bench/. `--quick`: 12 and 1,000 files only.

    python bench/workspace_scale.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import children_cpu_seconds, emit, own_cpu_seconds
from agent.settings import Settings
from agent.tools.base import Tool, ToolContext, ToolResult
from agent.tools.glob import Glob, PathMatcher
from agent.tools.grep import Grep
from agent.workspace import DiskWorkspace, Workspace
from lc_lsp.editor_workspace import EditorWorkspace
from tests.fakes.buffers import Buffers

RARE = "needle_rare_token"
RARE_EVERY = 1000  # one file in this many holds RARE (100 at 100k files)
CACHE = Path.home() / ".cache" / "little-coder" / "bench"
REPEATS = 3
GOAL_NARROW_GLOB_MS = 50.0
GOAL_GREP_MS = 500.0
GOAL_RSS_MB = 300.0


def source(index: int) -> str:
    token = f"    # {RARE}\n" if index % RARE_EVERY == 7 else ""
    return (
        f'"""Module {index}."""\n\nimport os\n\n\n'
        f"def handler_{index}(value: int) -> int:\n{token}    total = value + {index}\n    return total\n\n\n"
        f"class Model{index}:\n    name = 'm{index}'\n\n    def run(self) -> str:\n        return os.sep\n"
    )


def build_tree(root: Path, files: int) -> None:
    """`files` modules in pkgN/subM/ folders of 100, and an ignored heavy/ folder of a tenth as many,
    which holds RARE too (a search that ignored .gitignore would report it)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".gitignore").write_text("heavy/\n*.log\n")
    for index in range(files):
        folder = root / f"pkg{index // 1000}" / f"sub{index // 100 % 10}"
        if index % 100 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{index}.py").write_text(source(index))
    heavy = root / "heavy"
    heavy.mkdir(exist_ok=True)
    for index in range(max(1, files // 10)):
        (heavy / f"gen{index}.py").write_text(f"# {RARE}\n")


def tree(files: int, scratch: Path) -> Path:
    """A tree of `files` modules; the large one is cached across runs."""
    if files < 50_000:
        root = scratch / f"tree-{files}"
        build_tree(root, files)
        return root
    root = CACHE / f"tree-{files}"
    done = root / ".complete"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        build_tree(root, files)
        done.write_text("")
    return root


async def naive_glob(workspace: Workspace, pattern: str) -> int:
    """The previous Glob: the whole tree listed, then filtered on the event loop."""
    matcher = PathMatcher(pattern)
    return sum(1 for path in await workspace.list_files(".") if matcher.matches(path))


async def ticker(ticks: list[float]) -> None:
    """Every 10 ms, how long since the last tick: a stall of the event loop shows as a long one."""
    last = time.monotonic()
    while True:
        await asyncio.sleep(0.01)
        now = time.monotonic()
        ticks.append(now - last)
        last = now


async def measure(operation: Callable[[], Awaitable[int]]) -> dict[str, Any]:
    walls: list[float] = []
    cpus: list[float] = []
    gaps: list[float] = []
    count = 0
    for _ in range(REPEATS):
        ticks: list[float] = []
        ticking = asyncio.create_task(ticker(ticks))
        await asyncio.sleep(0)
        cpu = own_cpu_seconds() + children_cpu_seconds()
        started = time.perf_counter()
        count = await operation()
        walls.append(time.perf_counter() - started)
        cpus.append(own_cpu_seconds() + children_cpu_seconds() - cpu)
        ticking.cancel()
        gaps.append(max(ticks, default=walls[-1]))
    walls.sort()
    cpus.sort()
    return {
        "wall_ms": round(walls[len(walls) // 2] * 1000, 1),
        "cpu_ms": round(cpus[len(cpus) // 2] * 1000, 1),
        "results": count,
        "loop_stall_max_ms": round(max(gaps) * 1000, 1),
    }


def results(result: ToolResult) -> int:
    """How many files the tool found, as its summary says ('Glob p → 12 files')."""
    count = result.summary.rpartition("→ ")[2].split()[0]
    return int(count) if count.isdigit() else 0


async def tool(workspace: Workspace, instance: Tool, **arguments: object) -> int:
    context = ToolContext(workspace=workspace, settings=Settings())
    return results(await instance.run(instance.parse(arguments), context))


async def one_size(files: int, scratch: Path, naive_grep: bool) -> dict[str, Any]:
    root = tree(files, scratch)
    expected_rare = len([i for i in range(files) if i % RARE_EVERY == 7])
    buffers = Buffers()
    editor = EditorWorkspace(root, buffers, sandbox_parent=scratch / "sandboxes")
    # Unsaved buffers: one gains RARE, one loses it (its disk text is stale), one is only reformatted.
    buffers.open[root / "pkg0/sub0/mod1.py"] = (source(1) + f"# {RARE}\n", 4)
    buffers.open[root / "pkg0/sub0/mod7.py"] = (source(8), 2)
    buffers.open[root / "pkg0/sub0/mod2.py"] = (source(2).replace("    ", "  "), 3)
    await editor.create("pkg0/sub0/proposed.py", f"# {RARE}\n")
    kinds: dict[str, tuple[Workspace, int]] = {
        "disk": (DiskWorkspace(root), expected_rare),
        "editor": (editor, expected_rare + 1),  # +mod1, -mod7, +proposed
    }
    out: dict[str, Any] = {"files": files, "bare_ripgrep_rare_ms": bare_ripgrep_ms(root)}
    try:
        for kind, (workspace, rare) in kinds.items():
            out[kind] = await measure_workspace(workspace, rare, naive_grep)
    finally:
        await editor.aclose()
    return out


async def measure_workspace(workspace: Workspace, rare: int, naive_grep: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"expected_rare_files": rare}
    for name, pattern in (("narrow", "pkg0/sub0/*.py"), ("broad", "**/*.py")):
        row[f"glob_{name}"] = await measure(partial(tool, workspace, Glob(), pattern=pattern))
        row[f"glob_{name}_previous"] = await measure(partial(naive_glob, workspace, pattern))
    row["grep_rare"] = await measure(lambda: tool(workspace, Grep(), pattern=RARE))
    row["grep_common"] = await measure(lambda: tool(workspace, Grep(), pattern=r"return \w+", output_mode="content"))
    if naive_grep:  # the Python search, which also ignores .gitignore: the ignored heavy/ folder counts
        row["grep_rare_previous"] = await measure(lambda: tool(workspace, Grep(use_ripgrep=False), pattern=RARE))
    row["grep_rare_complete"] = row["grep_rare"]["results"] == rare
    return row


def bare_ripgrep_ms(root: Path) -> float:
    """The floor: ripgrep alone listing the files with RARE, started from a shell's point of view."""
    walls = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        subprocess.run(["rg", "--no-config", "--hidden", "--no-require-git", "-l", RARE, "."], cwd=root,
                       stdout=subprocess.DEVNULL, check=False)
        walls.append(time.perf_counter() - started)
    return round(sorted(walls)[len(walls) // 2] * 1000, 1)


def peak_rss_mb(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


async def main_async(quick: bool) -> dict[str, Any]:
    sizes = [12, 1_000] if quick else [12, 10_000, 100_000]
    with tempfile.TemporaryDirectory(prefix="lc-scale-") as folder:
        scratch = Path(folder)
        rows = [await one_size(files, scratch, naive_grep=files <= 10_000) for files in sizes]
    small, large = rows[0], rows[-1]
    narrow = {kind: large[kind]["glob_narrow"]["wall_ms"] for kind in ("disk", "editor")}
    grep_ms = {kind: large[kind]["grep_rare"]["wall_ms"] for kind in ("disk", "editor")}
    complete = all(row[kind]["grep_rare_complete"] for row in rows for kind in ("disk", "editor"))
    rss = peak_rss_mb(resource.RUSAGE_SELF)
    met = {
        "narrow_glob": all(ms < GOAL_NARROW_GLOB_MS for ms in narrow.values()),
        "grep": complete and all(ms < GOAL_GREP_MS for ms in grep_ms.values()),
        "memory": rss < GOAL_RSS_MB,
    }
    return {
        "bench": "workspace_scale",
        "quick": quick,
        "sizes": rows,
        "narrow_glob_ms_largest_vs_smallest": {
            kind: [narrow[kind], small[kind]["glob_narrow"]["wall_ms"]] for kind in ("disk", "editor")
        },
        "grep_rare_over_bare_ripgrep_largest": {
            kind: round(grep_ms[kind] / max(large["bare_ripgrep_rare_ms"], 0.1), 2) for kind in ("disk", "editor")
        },
        "narrow_glob_previous_over_new_largest": {
            kind: round(large[kind]["glob_narrow_previous"]["wall_ms"] / max(narrow[kind], 0.1), 1)
            for kind in ("disk", "editor")
        },
        "peak_rss_mb": rss,
        "peak_rss_children_mb": peak_rss_mb(resource.RUSAGE_CHILDREN),
        "goals": {
            "narrow_glob_ms": f"< {GOAL_NARROW_GLOB_MS} at {sizes[-1]} files",
            "grep_rare_ms": f"< {GOAL_GREP_MS} at {sizes[-1]} files, all matches found",
            "peak_rss_mb": f"< {GOAL_RSS_MB}",
        },
        "goals_met": met,
        "goal_met": all(met.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 and 1,000 files only (a few seconds)")
    emit(asyncio.run(main_async(parser.parse_args().quick)))


if __name__ == "__main__":
    main()
