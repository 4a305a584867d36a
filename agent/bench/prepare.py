"""A clean working copy of one exercise: everything but `.meta/` (which holds the reference solution),
with the tests the track ships disabled switched back on.

Exercism tracks disable all but the first test so students can un-skip as they go; graded as shipped,
an exercise would be scored on one test. JavaScript's `xtest`/`xit`/`xdescribe` (and `.skip`) and
Java's `@Disabled`/`@Ignore` are rewritten here; Rust (`--include-ignored`) and C++
(`EXERCISM_RUN_ALL_TESTS`) are switched on by the runner's command instead.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

from agent.bench.exercises import Exercise

# Not copied: the reference solution, and dependency or build folders a user's checkout may hold.
_LEAVE_OUT = frozenset({".meta", "node_modules", "target", "build", ".gradle", "__pycache__", ".pytest_cache"})

_JS_SKIPPED = re.compile(r"\bx(it|test|describe)(\s*\()")
_JS_DOT_SKIP = re.compile(r"\b(it|test|describe)\.skip(\s*\()")
# `@Disabled`, `@Ignore`, with an optional argument list that may hold a quoted reason with parentheses.
_JAVA_ARGS = r'(?:\s*\((?:[^()"]|"(?:[^"\\]|\\.)*")*\))?'
_JAVA_SKIPPED_LINE = re.compile(r"^[ \t]*@(?:Disabled|Ignore)\b" + _JAVA_ARGS + r"[ \t]*\r?\n", re.MULTILINE)
_JAVA_SKIPPED = re.compile(r"@(?:Disabled|Ignore)\b" + _JAVA_ARGS)


def unskip_javascript(text: str) -> str:
    return _JS_DOT_SKIP.sub(r"\1\2", _JS_SKIPPED.sub(r"\1\2", text))


def unskip_java(text: str) -> str:
    # An annotation on a line of its own goes with its line; one beside `@Test` goes alone.
    return _JAVA_SKIPPED.sub("", _JAVA_SKIPPED_LINE.sub("", text))


UNSKIP: dict[str, Callable[[str], str]] = {"javascript": unskip_javascript, "java": unskip_java}


def prepare(exercise: Exercise, target: Path) -> list[str]:
    """Copy `exercise` into `target` (created; must not exist) and un-skip its tests. Returns the test
    files that were rewritten."""
    shutil.copytree(exercise.path, target, ignore=_leave_out(exercise.path), symlinks=True)
    transform = UNSKIP.get(exercise.language)
    changed: list[str] = []
    if transform is None:
        return changed
    for rel in exercise.test:
        path = target / rel
        text = path.read_text(encoding="utf-8")
        new = transform(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(rel)
    return changed


def _leave_out(top: Path) -> Callable[[str, list[str]], set[str]]:
    top_name = str(top)

    def ignore(directory: str, names: list[str]) -> set[str]:
        # Only at the exercise's top level: a `build` folder inside the sources is the exercise's own.
        return {n for n in names if n in _LEAVE_OUT} if directory == top_name else set()

    return ignore
