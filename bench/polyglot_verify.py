"""Grading parity: every Polyglot exercise's reference solution graded by the harness, no model involved.

    python bench/polyglot_verify.py --tree ~/polyglot-benchmark      # all 225 exercises (tens of minutes)
    python bench/polyglot_verify.py --quick                          # our own sample of every language

The goal is the issue's: 225/225 gradable on a machine where the deps stage ran, since a reference
solution that fails is an exercise no model could pass. Prints one JSON object: per-language counts,
every unavailable exercise with the missing dependency and every failure with its cause, the
toolchain versions, the compiler cache's hit rate across exercises, and wall and CPU time (the graders
run as child processes, so their CPU is the children's).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from support import ROOT, children_cpu_seconds, emit, own_cpu_seconds

from agent.bench.verify import VerifyConfig, verify

SAMPLE = ROOT / "tests" / "bench" / "exercises"
PUBLIC_TOTAL = 225


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, help="an exercise tree laid out like the public polyglot-benchmark")
    parser.add_argument("--quick", action="store_true", help="our own sample exercises (seconds)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    tree = args.tree or SAMPLE
    if args.tree is None and not args.quick:
        parser.error("--tree is required (or --quick for the bundled sample)")
    wall, cpu, children = time.monotonic(), own_cpu_seconds(), children_cpu_seconds()
    report = asyncio.run(verify(VerifyConfig(tree=tree, workers=args.workers)))
    wall = time.monotonic() - wall
    overall = report.overall
    cache = report.environment.compiler_cache
    expected = PUBLIC_TOTAL if overall.total >= PUBLIC_TOTAL else overall.total
    emit({
        "bench": "polyglot_verify",
        "tree": str(tree),
        "goal": f"every reference solution gradable ({expected}/{expected}), none failed or unavailable",
        "goal_met": overall.gradable == overall.total == expected,
        "overall": overall.model_dump(),
        "languages": {lang: count.model_dump() for lang, count in report.languages.items()},
        "unavailable": [{"exercise": e.key, "missing": e.reason} for e in report.exercises
                        if e.outcome == "unavailable"],
        "failed": [{"exercise": e.key, "step": e.failed_step, "cause": e.reason[:600]} for e in report.exercises
                   if e.outcome == "failed"],
        "not_read": report.problems,
        "toolchains": report.environment.toolchains,
        "sandbox": report.environment.sandbox,
        "compiler_cache": None if cache is None else {**cache.model_dump(), "hit_rate": cache.hit_rate},
        "slowest_s": {e.key: e.duration_s for e in sorted(report.exercises, key=lambda e: -e.duration_s)[:5]},
        "wall_s": round(wall, 1),
        "cpu_s": {"harness": round(own_cpu_seconds() - cpu, 2),
                  "graders": round(children_cpu_seconds() - children, 2)},
    })


if __name__ == "__main__":
    main()
