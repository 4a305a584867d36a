"""Reliability and security under faults, bad input and hostile content: every scenario, as JSON.

    python bench/reliability.py --quick         # one seed of each scenario (what `make test` runs, ~1 min)
    python bench/reliability.py                 # each scenario's own seed count (3 mostly), as the tests do
    python bench/reliability.py --soak          # 25 seeds of everything (by hand; ~15 minutes)
    python bench/reliability.py --group model_faults --scenario lsp/model_faults --seeds 10
    python bench/reliability.py --list

Scenarios are the `SCENARIOS` of tests/reliability/scenarios_*.py, run through
tests/reliability/harness.py (which counts faults, sessions, crashes, leaked tasks and processes,
bytes written outside the workspace and lost user edits). Prints the summary on stdout, one line
per trial on stderr; exit status 1 when any counter that must be zero is not (they are listed in
the summary's `failures`). `LC_RELIABILITY_SEEDS=N` has the effect of `--seeds N`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the tests package lives at the root

from tests.reliability.harness import Scenario, TrialResult, discover, run_all  # noqa: E402

SOAK_SEEDS = 25
QUICK_SEEDS = 1


def _select(scenarios: list[Scenario], groups: list[str], names: list[str]) -> list[Scenario]:
    chosen = [s for s in scenarios if (not groups or s.group in groups) and (not names or s.name in names)]
    unknown = set(names) - {s.name for s in scenarios}
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))} (see --list)")
    return chosen


def _progress(result: TrialResult) -> None:
    mark = "ok  " if result.clean else "FAIL"
    print(f"{mark} {result.scenario}[{result.seed}] {result.duration_s:.2f}s faults={result.faults} "
          f"sessions={result.sessions}", file=sys.stderr, flush=True)
    for problem in result.problems:
        print(f"     {problem}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, help="seeds per scenario (default: each scenario's own, 3 mostly)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SEEDS} seed per scenario")
    parser.add_argument("--soak", action="store_true", help=f"{SOAK_SEEDS} seeds per scenario")
    parser.add_argument("--group", action="append", default=[], help="only scenarios of this group (repeatable)")
    parser.add_argument("--scenario", action="append", default=[], help="only this scenario (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--out", type=Path, help="also write the summary JSON here")
    args = parser.parse_args(argv)

    scenarios = _select(discover(), args.group, args.scenario)
    if args.list:
        for scenario in scenarios:
            print(f"{scenario.group:16} {scenario.name:34} {scenario.description}")
        return 0
    seeds = SOAK_SEEDS if args.soak else QUICK_SEEDS if args.quick else args.seeds
    summary = asyncio.run(run_all(scenarios, seeds=seeds, on_result=_progress))
    report = {**summary.model_dump(), "failures": summary.failures(), "seeds": seeds or "per scenario"}
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 1 if summary.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
