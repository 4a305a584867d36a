"""How long guidance selection takes per model call, and how long the library takes to load.

    python bench/guidance_selection.py [--calls 2000]

Prints one JSON object: median and p99 microseconds per `select()` call over histories of 0, 5 and
20 turns (a realistic mix of Read / Edit / Bash calls with results, some of them errors), and the
library load time cold (tiktoken encoding included) and warm (parsing and counting only).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from importlib import resources

from agent.guidance import GuidanceLibrary, select
from agent.messages import AssistantMessage, Message, ToolCall, ToolMessage, UserMessage

TOOLS = ["Read", "Write", "Edit", "Glob", "Grep", "Bash"]
BUDGET = 500
TASK = (
    "Implement the exercise `two-bucket` in two_bucket.py. The instructions are in .docs/instructions.md; "
    "find the shortest sequence of moves (a BFS over bucket states). Run the tests with "
    "`python -m pytest two_bucket_test.py -q` and fix what fails."
)
FILE_TEXT = "".join(f"{n:6}\tdef helper_{n}(state):\n" for n in range(1, 60))
TEST_OUTPUT = "F..F.\nFAILED two_bucket_test.py::test_measure - AssertionError: (4, 'one', 5) != (5, 'two', 2)\n"

ARGUMENTS: dict[str, dict[str, object]] = {
    "Read": {"file_path": "two_bucket.py"},
    "Edit": {"file_path": "two_bucket.py", "old_string": "    pass", "new_string": "    return solve(state)"},
    "Bash": {"command": "python -m pytest two_bucket_test.py -q"},
    "Grep": {"pattern": "def measure", "output_mode": "content"},
}


def history_of(turns: int) -> list[Message]:
    history: list[Message] = [UserMessage(content=TASK)]
    for n in range(turns):
        kind = ("Read", "Edit", "Bash", "Edit", "Grep")[n % 5]
        arguments = ARGUMENTS[kind]
        failed = kind == "Bash" or (kind == "Edit" and n % 3 == 0)
        output = {"Read": FILE_TEXT, "Edit": "Error: old_string not found" if failed else "Edited two_bucket.py",
                  "Bash": TEST_OUTPUT + "[exit code 1]", "Grep": "two_bucket.py:3:def measure("}[kind]
        call_id = f"call_{n}"
        history.append(AssistantMessage(content="Next step.", tool_calls=(
            ToolCall(id=call_id, name=kind, arguments=arguments),)))
        history.append(ToolMessage(tool_call_id=call_id, name=kind, content=output, is_error=failed))
    return history


def time_select(library: GuidanceLibrary, history: list[Message], calls: int) -> dict[str, float]:
    select(library, task=TASK, history=history, tool_names=TOOLS, budget=BUDGET)
    samples = []
    for _ in range(calls):
        started = time.perf_counter_ns()
        select(library, task=TASK, history=history, tool_names=TOOLS, budget=BUDGET)
        samples.append((time.perf_counter_ns() - started) / 1000)
    samples.sort()
    return {
        "median_us": round(statistics.median(samples), 1),
        "p99_us": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="select() calls per history length")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    library = GuidanceLibrary.bundled()  # first use in this process: loads the tiktoken encoding too
    cold_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    GuidanceLibrary.load(resources.files("agent.guidance"))  # bypasses the cache: parse + count only
    warm_ms = (time.perf_counter() - started) * 1000

    per_history: dict[str, object] = {}
    for turns in (0, 5, 20):
        history = history_of(turns)
        chosen = select(library, task=TASK, history=history, tool_names=TOOLS, budget=BUDGET)
        per_history[f"{turns}_turns"] = {
            **time_select(library, history, args.calls),
            "history_messages": len(history),
            "selected": [c.name for c in chosen.cards] + [e.name for e in chosen.knowledge],
            "tokens": chosen.tokens,
        }
    result = {
        "library": {"cards": len(library.cards), "knowledge": len(library.knowledge),
                    "load_cold_ms": round(cold_ms, 1), "load_warm_ms": round(warm_ms, 2)},
        "budget": BUDGET,
        "calls": args.calls,
        "select": per_history,
    }
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
