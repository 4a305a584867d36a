"""The task messages of a benchmark exercise, for each protocol (agent/bench/protocols.py).

`paper`: the first message names only the exercise, its folder and the stub; the second goes to a fresh
session with the first 2,000 characters of the failing output. `improved`: the first names the exercise,
where its specification is, which files to change and how to run the tests; the second (only after a
failing first attempt) continues the same conversation, so the model still has everything it read and
tried, and adds the end of the failing test output, where runners put the failures and their summary
(the first 2,000 characters are often only compiler progress). Each message starts with a fixed phrase
so a transcript (or a scripted model) can tell them apart.
"""

from __future__ import annotations

from agent.bench.exercises import TITLES, Exercise

FIRST_LEAD = "Benchmark exercise"
PAPER_FIRST_LEAD = "Implement exercise"
PAPER_RETRY_LEAD = "The tests still fail."
PAPER_HEAD_CHARS = 2000
RETRY_LEAD = "The tests of this exercise still fail."
DEFAULT_TAIL_CHARS = 2500


def first_prompt(exercise: Exercise, test_command: str) -> str:
    docs = ", ".join(exercise.docs) if exercise.docs else "the files of this directory"
    return (
        f"{FIRST_LEAD} {exercise.key} ({TITLES[exercise.language]}): implement it in this directory.\n"
        f"The specification is in {docs}. Write your solution in {_names(exercise.solution)}; "
        f"the tests are in {_names(exercise.test)} and must not be changed.\n"
        f"Run the tests with: {test_command}\n"
        "Once they all pass, reply with a short summary."
    )


def retry_prompt(exercise: Exercise, output: str, tail_chars: int = DEFAULT_TAIL_CHARS) -> str:
    shown = tail(output, tail_chars)
    cut = f"the last {len(shown)} of {len(output)} characters" if len(shown) < len(output) else "all of it"
    return (
        f"{RETRY_LEAD} Here is the end of the test output ({cut}):\n"
        f"```\n{shown}\n```\n"
        f"Find the cause and fix the solution in {_names(exercise.solution)} so that every test passes. "
        "The tests themselves must stay as they are: any change to them is undone before grading."
    )


def paper_first_prompt(exercise: Exercise, folder: str) -> str:
    """The `paper` protocol's first message: the exercise's name, its folder and the stub to fill in,
    plus the bare method (look around, implement, run the tests); no specification, no file roles, no
    test command, as the original harness did."""
    return (f"{PAPER_FIRST_LEAD} {exercise.name}.\n"
            f"Working directory: {folder}\n"
            f"Stub to implement: {exercise.solution[0]}\n"
            "Look through the directory for whatever context you need, write the solution, then run the "
            "tests to check it.")


def paper_retry_prompt(output: str, head_chars: int = PAPER_HEAD_CHARS) -> str:
    """The `paper` protocol's second attempt, sent to a fresh session: the first `head_chars`
    characters of the failing test output and a request to fix the code."""
    return (f"{PAPER_RETRY_LEAD} The test output begins:\n"
            f"```\n{output[:head_chars]}\n```\n"
            "Fix the implementation so that the tests pass.")


def tail(text: str, limit: int) -> str:
    """The last `limit` characters of `text`, starting at a line boundary when one is near."""
    text = text.rstrip()
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    newline = cut.find("\n")
    return cut[newline + 1 :] if 0 <= newline < limit // 4 else cut


def _names(files: tuple[str, ...]) -> str:
    return ", ".join(files)
