"""A scripted model that works through our exercise set the way a fallible agent would.

It answers from the request alone (so any number of exercises may run in parallel): the task message
names the exercise, a retry message marks attempt 2, and the assistant messages since the latest of
those say which step comes next.

    attempt 1: Read the first solution file -> Edit every file of `.meta/wrong/` in -> "done"
    attempt 2: Edit the reference solution (`.meta/example*`) over the wrong one -> "fixed"

Every wrong solution passes the exercise's first test and fails a test the track ships skipped, so a
pass on attempt 1 would mean the un-skipping is broken. `tamper` adds, in attempt 1, an edit that
replaces a test file's content ("modify") or a Bash `rm` of it ("delete").
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

from agent.bench.exercises import Exercise, load_exercise
from agent.bench.prepare import UNSKIP
from agent.bench.prompts import FIRST_LEAD, RETRY_LEAD
from tests.fakes.script import Call, Reply

_TASK = re.compile(re.escape(FIRST_LEAD) + r" (\w+)/([\w-]+)")
TAMPERED_TEXT = "# the agent replaced these tests\n"


def solution_files(exercise: Exercise, variant: str) -> dict[str, str]:
    """Solution path -> content of the wrong or the reference solution."""
    if variant == "wrong":
        wrong = exercise.path / ".meta" / "wrong"
        return {p.relative_to(wrong).as_posix(): p.read_text() for p in sorted(wrong.rglob("*")) if p.is_file()}
    out: dict[str, str] = {}
    for example in exercise.example:
        suffix = Path(example).suffix
        target = next(s for s in exercise.solution if Path(s).suffix == suffix)
        out[target] = (exercise.path / example).read_text()
    return out


def _edits(before: dict[str, str], after: dict[str, str]) -> list[Call]:
    return [Call("Edit", {"file_path": path, "old_string": before[path], "new_string": text})
            for path, text in after.items() if before[path] != text]


class ExerciseScript:
    def __init__(self, tree: Path, *, tamper: dict[str, Literal["modify", "delete"]] | None = None) -> None:
        self.tree = tree
        self.tamper = tamper or {}
        self._lock = threading.Lock()
        self.requests: dict[str, list[dict[str, Any]]] = defaultdict(list)  # exercise key -> request bodies

    def exercise(self, key: str) -> Exercise:
        language, name = key.split("/")
        return load_exercise(language, self.tree / language / "exercises" / "practice" / name)  # type: ignore[arg-type]

    def __call__(self, body: dict[str, Any], index: int) -> Reply:
        messages = body["messages"]
        users = [(i, m["content"]) for i, m in enumerate(messages) if m["role"] == "user"]
        task = next(m for _, m in users if m.startswith(FIRST_LEAD))
        match = _TASK.match(task)
        assert match, task
        key = f"{match[1]}/{match[2]}"
        with self._lock:
            self.requests[key].append(body)
        retry = [i for i, m in users if m.startswith(RETRY_LEAD)]
        lead = retry[-1] if retry else next(i for i, m in users if m.startswith(FIRST_LEAD))
        step = sum(m["role"] == "assistant" for m in messages[lead + 1 :])
        exercise = self.exercise(key)
        stub = {path: (exercise.path / path).read_text() for path in exercise.solution}
        wrong = {**stub, **solution_files(exercise, "wrong")}
        if retry:
            if step == 0:
                return Reply("The hidden cases fail; I will use the proper algorithm.",
                             calls=_edits(wrong, {**wrong, **solution_files(exercise, "example")}))
            return Reply("Fixed: every test passes now.")
        if step == 0:
            return Reply(reasoning="Start with the stub.", calls=[Call("Read", {"file_path": exercise.solution[0]})])
        if step == 1:
            calls = _edits(stub, wrong)
            test = exercise.test[0]
            if self.tamper.get(key) == "modify":
                original = UNSKIP.get(exercise.language, str)((exercise.path / test).read_text())
                calls.append(Call("Edit", {"file_path": test, "old_string": original, "new_string": TAMPERED_TEXT}))
            elif self.tamper.get(key) == "delete":
                calls.append(Call("Bash", {"command": f"rm {test}"}))
            return Reply("Implementing it.", calls=calls)
        return Reply("Done: the solution is in place.")
