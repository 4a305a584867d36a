"""Throughput of agent.repair.find_text_calls over generated model replies.

Four kinds of reply, as a small local model writes them: a clean fenced ```tool call, a call whose
JSON needs repairs (single quotes, Python literals, raw newlines, trailing commas, a missing closing
brace), long prose with no call (code blocks and braces included), and Qwen-Coder XML calls.
Each kind is timed alone and all together; the figure is the median of several runs.

    python bench/repair_throughput.py [--replies N] [--runs N] [--quick]

Prints one JSON object: per kind and overall, calls/s, replies/s and MB/s (UTF-8 bytes of reply
text), plus how many calls were found against how many were written (a correctness check).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable

from agent.repair import find_text_calls

TOOLS = ["Read", "Write", "Edit", "Glob", "Grep", "Bash"]
_VOCABULARY = """the function returns a value when input is valid and otherwise raises an error so we
check each branch carefully before editing file tests pass now leap year rules say every
fourth year except centuries unless divisible by four hundred"""
WORDS = _VOCABULARY.split()


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
    return " ".join(words).capitalize() + "."


def _prose(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences))


def _code(rng: random.Random) -> str:
    name = rng.choice(["leap_year", "is_valid", "parse", "score"])
    return (f"def {name}(year):\n    if year % 4 != 0:\n        return False\n"
            f"    data = {{'year': year, \"note\": \"it's {{fine}}\"}}\n    return data['year'] % 400 == 0\n")


def clean_fenced(rng: random.Random) -> tuple[str, int]:
    args = {"file_path": f"src/{rng.choice(['leap', 'bob', 'acronym'])}.py",
            "old_string": "    pass\n", "new_string": _code(rng)}
    call = json.dumps({"name": "Edit", "arguments": args})
    return f"{_prose(rng, 3)}\n\n```tool\n{call}\n```\n", 1


def broken_json(rng: random.Random) -> tuple[str, int]:
    code = _code(rng).replace("'", "").replace('"', "")
    variants = [
        # single quotes, Python literal, trailing comma
        ("```tool\n{'name': 'Edit', 'arguments': {'file_path': 'a.py', 'old_string': 'pass', "
         f"'new_string': '{code.splitlines()[0]}', 'replace_all': False,}}}}\n```"),
        # raw newlines inside a string, cut off before the closing braces
        '<tool_call>\n{"name": "Write", "arguments": {"file_path": "b.py", "content": "' + code + '"',
        # unquoted keys and a comment
        '```json\n{name: "Bash", arguments: {command: "pytest -q", // run the tests\n timeout: 60}}\n```',
        # a brace too few before the closing fence
        '```tool\n{"name": "Read", "arguments": {"file_path": "src/leap.py"}\n```',
    ]
    return f"{_prose(rng, 2)}\n{rng.choice(variants)}\n", 1


def long_prose(rng: random.Random) -> tuple[str, int]:
    parts = []
    for _ in range(6):
        parts.append(_prose(rng, 5))
        if rng.random() < 0.5:
            parts.append(f"```python\n{_code(rng)}```")
        if rng.random() < 0.5:
            parts.append("A set like {a, b} or a dict {'k': 1} is fine; see f\"{value}\" too.")
    return "\n\n".join(parts), 0


def qwen_xml(rng: random.Random) -> tuple[str, int]:
    code = _code(rng)
    call = (f"<tool_call>\n<function=Edit>\n<parameter=file_path>\nsrc/leap.py\n</parameter>\n"
            f"<parameter=old_string>\n    pass\n</parameter>\n<parameter=new_string>\n{code}</parameter>\n"
            f"</function>\n</tool_call>")
    return f"{_prose(rng, 2)}\n{call}\n", 1


KINDS: dict[str, Callable[[random.Random], tuple[str, int]]] = {
    "clean_fenced": clean_fenced,
    "broken_json": broken_json,
    "long_prose": long_prose,
    "qwen_xml": qwen_xml,
}


def measure(replies: list[str], runs: int) -> tuple[float, int]:
    """Median seconds to scan all replies once, and the calls found."""
    found = sum(len(find_text_calls(r, TOOLS)) for r in replies)  # warm-up and correctness count
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        for reply in replies:
            find_text_calls(reply, TOOLS)
        times.append(time.perf_counter() - started)
    return statistics.median(times), found


def figures(replies: list[str], expected: int, runs: int) -> dict[str, float | int]:
    seconds, found = measure(replies, runs)
    size = sum(len(r.encode("utf-8")) for r in replies)
    return {
        "replies": len(replies),
        "bytes": size,
        "calls_expected": expected,
        "calls_found": found,
        "median_s": round(seconds, 6),
        "calls_per_s": round(found / seconds, 1),
        "replies_per_s": round(len(replies) / seconds, 1),
        "mb_per_s": round(size / seconds / 1e6, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=300, help="replies per kind")
    parser.add_argument("--runs", type=int, default=7, help="timed runs; the median is reported")
    parser.add_argument("--quick", action="store_true", help="a few replies and runs (CI smoke test)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.quick:
        args.replies, args.runs = 20, 3
    rng = random.Random(args.seed)
    corpus = {kind: [make(rng) for _ in range(args.replies)] for kind, make in KINDS.items()}
    result: dict[str, object] = {"benchmark": "repair_throughput", "python": sys.version.split()[0],
                                 "runs": args.runs, "kinds": {}}
    kinds: dict[str, object] = {}
    for kind, items in corpus.items():
        kinds[kind] = figures([text for text, _ in items], sum(n for _, n in items), args.runs)
    result["kinds"] = kinds
    everything = [item for items in corpus.values() for item in items]
    result["overall"] = figures([text for text, _ in everything], sum(n for _, n in everything), args.runs)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
