"""Test output as the model and the results see it: no absolute paths of this machine, no timings.

Attempt 2's prompt carries the failing output of attempt 1. Left raw it names the harness's scratch
folders (javac, cmake and cargo print absolute paths), the user's home and cache, and how long each
test took: noise that costs tokens, differs between two runs of the same exercise (no prompt cache
hit, no reproducible prompt) and tells the model where things live outside its copy. Paths inside the
copy become relative to it, as the agent sees them in its own commands; other known folders get a
short name in angle brackets. Only the timing formats of the six graders' tools are removed, so a
number in an assertion message is never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

# (pattern, replacement) for the durations the graders' tools print; each keeps the rest of its line.
_TIMINGS: tuple[tuple[re.Pattern[str], str], ...] = (
    # pytest "3 passed in 0.12s", cargo "finished in 0.00s", "Finished `test` profile ... in 3.21s",
    # JUnit's launcher "Test run finished after 123 ms"
    (re.compile(r" (?:in|after) \d+(?:\.\d+)?\s?(?:ms|s|sec|seconds)\b"), ""),
    # go "--- FAIL: TestX (0.00s)", jest "✓ adds (3 ms)", cmake "-- Configuring done (0.3s)"
    (re.compile(r" \(\d+(?:\.\d+)?\s?(?:ms|s)\)"), ""),
    # go "ok  \tpkg\t0.004s", "FAIL\tpkg\t0.005s"
    (re.compile(r"^((?:ok|FAIL|---)\s+\S+)\t\d+(?:\.\d+)?s\b", re.MULTILINE), r"\1"),
    # jest's summary "Time:        1.234 s, estimated 2 s"
    (re.compile(r"^Time:\s+\d+(?:\.\d+)?\s?m?s\b.*\n?", re.MULTILINE), ""),
)


@dataclass
class OutputCleaner:
    """Callable: `clean(text)`; built per grading from the folders that grading used."""

    root: Path  # the exercise's copy: its paths become relative
    scratch: Path | None = None  # build output outside the copy
    cache: Path | None = None  # the toolchains' shared cache
    home: Path | None = None
    _names: list[tuple[re.Pattern[str], str]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        names: dict[str, str] = {}
        for folder, name in ((self.home, "~"), (self.cache, "<cache>"), (self.scratch, "<build>"),
                             (self.root, ".")):
            if folder is None:
                continue
            for form in {str(folder), str(folder.resolve())}:
                if len(form) > 1:  # never "/"
                    names[form] = name
        # Longest first: the copy usually lies inside the home, the scratch beside the copy. A folder
        # matches whole: /tmp/x/leap is not the start of /tmp/x/leap-2.
        for form, name in sorted(names.items(), key=lambda item: len(item[0]), reverse=True):
            if name == ".":  # "src/lib.rs", as the agent writes it
                self._names.append((re.compile(re.escape(form) + "/"), ""))
            self._names.append((re.compile(re.escape(form) + r"(?![\w.-])"), name))

    def __call__(self, text: str) -> str:
        for pattern, name in self._names:
            text = pattern.sub(name, text)
        for pattern, replacement in _TIMINGS:
            text = pattern.sub(replacement, text)
        return text


ERROR_HEAD_CHARS = 600
_ERROR_LINE = re.compile(r"error|fail|panic|assert|expected|exception|traceback|killed", re.IGNORECASE)


def failure_head(output: str, limit: int = ERROR_HEAD_CHARS) -> str:
    """Why a grading failed, briefly: its output from the first line that looks like an error."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if not line.startswith("$ ") and _ERROR_LINE.search(line)), 0)
    return "\n".join(lines[start:])[:limit]
