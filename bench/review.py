"""The review's cost: building the hunks of a session's changes, and what the editor feels meanwhile.

Corpora of realistic edits to generated modules (lines changed, inserted, deleted, a block moved),
20 files each: 200–400 lines, 2,000 lines and 10,000 lines, 100 changed lines per file (10 for the
small ones). For each corpus, in one run:

- `propose()` (lc_lsp/review.py: the three-way merge and the hunks, as the server builds a review),
  wall and CPU;
- the line diff alone, new (lc_lsp/linediff.py) against difflib's SequenceMatcher (the previous
  implementation), and whether the hunks are the same: identical, or only placed differently among
  identical lines (same number of hunks, same lines added and removed);
- the event loop's worst stall while the review is built the way the server builds it (one worker
  thread hop per file, lc_lsp/review_flow.py), against building it on the loop.

Goal: 20 × 2,000 lines in < 200 ms, loop stall < 20 ms, hunks the same as difflib's.

    python bench/review.py [--quick]

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.workspace import FileChange  # noqa: E402
from bench.support import emit, module_with_stub, own_cpu_seconds  # noqa: E402
from lc_lsp import linediff  # noqa: E402
from lc_lsp.ranges import split_lines  # noqa: E402
from lc_lsp.review import Proposal, propose  # noqa: E402

GOAL_MS = 200.0
GOAL_STALL_MS = 20.0
FILES = 20


def edited(text: str, changes: int, rng: random.Random) -> str:
    """`text` with `changes` realistic line edits and one moved block."""
    lines = text.split("\n")
    for _ in range(changes):
        at = rng.randrange(len(lines))
        roll = rng.random()
        if roll < 0.4:
            lines[at] = lines[at].replace("count", "total") + "  # reviewed"
        elif roll < 0.7:
            lines.insert(at, f"    checked = validate(items, limit={at})")
        else:
            del lines[at]
    start = rng.randrange(len(lines) - 20)
    block = lines[start : start + 7]
    del lines[start : start + 7]
    lines[rng.randrange(len(lines)) : 0] = block
    return "\n".join(lines)


def corpus(lines: int, changes: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for index in range(FILES):
        size = lines if lines > 400 else rng.randint(200, 400)
        text, _ = module_with_stub(size)
        text = text.replace("total_", f"batch{index}_")
        pairs.append((text, edited(text, changes, rng)))
    return pairs


def hunks(ops: list[linediff.Opcode]) -> list[tuple[int, int, int, int]]:
    return [(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in ops if tag != "equal"]


def compare_diffs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    new_s = old_s = 0.0
    identical = equivalent = 0
    for base, changed in pairs:
        a, b = split_lines(base), split_lines(changed)
        started = time.perf_counter()
        new = hunks(linediff.opcodes(a, b))
        new_s += time.perf_counter() - started
        started = time.perf_counter()
        old = hunks(difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes())
        old_s += time.perf_counter() - started
        identical += new == old
        size = lambda hs: (len(hs), sum(i2 - i1 for i1, i2, _, _ in hs), sum(j2 - j1 for _, _, j1, j2 in hs))  # noqa: E731
        equivalent += new == old or size(new) == size(old)
    return {"new_ms": round(new_s * 1000, 1), "difflib_ms": round(old_s * 1000, 1),
            "speedup": round(old_s / new_s, 1), "files_identical_hunks": identical,
            "files_same_hunk_count_and_lines": equivalent, "files": len(pairs)}


def build_review(pairs: list[tuple[str, str]]) -> list[Proposal]:
    return [propose(FileChange(f"f{n}.py", base, changed), base, f"file:///f{n}.py", 1)
            for n, (base, changed) in enumerate(pairs)]


async def stall_while(work: Any) -> tuple[float, float]:
    """(seconds the work took, the loop's worst lateness meanwhile) with a 1 ms ticker on the loop."""
    worst = 0.0
    done = False

    async def ticker() -> None:
        nonlocal worst
        while not done:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            worst = max(worst, time.perf_counter() - before - 0.001)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    await work()
    took = time.perf_counter() - started
    done = True
    await task
    return took, worst


async def loop_stalls(pairs: list[tuple[str, str]]) -> dict[str, float]:
    async def off_loop() -> None:  # as lc_lsp/review_flow.py builds a review: one worker-thread hop per file
        for n, (base, changed) in enumerate(pairs):
            await asyncio.to_thread(propose, FileChange(f"f{n}.py", base, changed), base, f"file:///f{n}.py", 1)

    async def on_loop() -> None:
        build_review(pairs)

    off_s, off_stall = await stall_while(off_loop)
    on_s, on_stall = await stall_while(on_loop)
    return {"off_loop_ms": round(off_s * 1000, 1), "off_loop_worst_stall_ms": round(off_stall * 1000, 1),
            "on_loop_worst_stall_ms": round(on_stall * 1000, 1)}


def measure(lines: int, changes: int, seed: int) -> dict[str, Any]:
    pairs = corpus(lines, changes, seed)
    cpu = own_cpu_seconds()
    started = time.perf_counter()
    proposals = build_review(pairs)
    wall = time.perf_counter() - started
    cpu = own_cpu_seconds() - cpu
    return {"lines_per_file": lines if lines > 400 else "200-400", "changed_lines_per_file": changes,
            "review_ms": round(wall * 1000, 1), "review_cpu_ms": round(cpu * 1000, 1),
            "hunks": sum(len(p.hunks) for p in proposals), "diff": compare_diffs(pairs),
            **asyncio.run(loop_stalls(pairs))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the 200-400 and 2,000-line corpora only")
    args = parser.parse_args()
    cases = [(300, 10), (2000, 100)] + ([] if args.quick else [(10_000, 100)])
    results = [measure(lines, changes, seed) for seed, (lines, changes) in enumerate(cases)]
    main_case = results[1]
    met = {
        "review_20x2000_under_200ms": main_case["review_ms"] < GOAL_MS,
        "loop_stall_under_20ms": all(r["off_loop_worst_stall_ms"] < GOAL_STALL_MS for r in results),
        "hunks_same_as_difflib": all(r["diff"]["files_same_hunk_count_and_lines"] == r["diff"]["files"]
                                     for r in results),
    }
    emit({"bench": "review", "goal": {"review_ms": GOAL_MS, "loop_stall_ms": GOAL_STALL_MS},
          "corpora": results, "goals_met": met, "goal_met": all(met.values())})


if __name__ == "__main__":
    main()
