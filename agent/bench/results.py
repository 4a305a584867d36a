"""`results.json`: what a benchmark run measured, per exercise and in totals, written atomically.

Per exercise: its status (`pass_1`, `pass_2`, `fail`, or `unavailable` when its language's toolchain
is missing), each attempt's session record (outcome, turns, tool counts, every counter of the final
`SessionFinished`, token usage) and grade, the test-file edits the audit found, and the head of the
error that failed it. Totals per language and overall are recomputed from the exercises on every
save; pass rates are over graded exercises, and pass@2 counts passes on either attempt.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.bench.exercises import LANGUAGES, Language
from agent.bench.grading_env import GradingEnvironment
from agent.bench.guard import EditedTest
from agent.events import Counters, Usage

SCHEMA_VERSION = 1
Status = Literal["pass_1", "pass_2", "fail", "unavailable"]
GRADED: frozenset[str] = frozenset({"pass_1", "pass_2", "fail"})

# Observables reported as "% of exercises where it happened at least once", in report order.
OBSERVABLES: dict[str, str] = {
    "write_guard": "write guard",
    "thinking_budget": "thinking budget",
    "repairs": "repairs",
    "corrections": "corrections",
    "cap_warnings": "cap warning",
    "cap_hits": "turn cap",
    "compactions": "compaction",
    "test_edits": "test edits",
    "test_timeouts": "test timeout",
}


class GradeRecord(BaseModel):
    passed: bool
    exit_code: int | None = None
    timed_out: bool = False
    memory_exceeded: bool = False
    failed_step: str | None = None
    duration_s: float = 0.0
    output_tail: str = ""


class AttemptRecord(BaseModel):
    attempt: int
    outcome: str  # the session's outcome, or "time_limit" when the exercise ran out of wall clock
    message: str = ""
    turns: int = 0
    duration_s: float = 0.0
    tool_counts: dict[str, int] = Field(default_factory=dict)
    counters: Counters = Field(default_factory=Counters)
    usage: Usage = Field(default_factory=Usage)
    grade: GradeRecord


class ExerciseResult(BaseModel):
    language: Language
    name: str
    status: Status
    attempts: list[AttemptRecord] = Field(default_factory=list)
    turns: int = 0
    duration_s: float = 0.0  # wall clock of the whole exercise: both attempts and their grading
    tool_counts: dict[str, int] = Field(default_factory=dict)
    counters: Counters = Field(default_factory=Counters)
    usage: Usage = Field(default_factory=Usage)
    test_file_edits: list[EditedTest] = Field(default_factory=list)
    error: str = ""
    unavailable_reason: str | None = None
    # Guidance (cards + knowledge) tokens per model call, from the sessions' GuidanceSelected events.
    guidance_calls: int = 0
    guidance_tokens_mean: float = 0.0
    guidance_tokens_max: int = 0

    @property
    def key(self) -> str:
        return f"{self.language}/{self.name}"

    @property
    def graded(self) -> bool:
        return self.status in GRADED

    @property
    def passed(self) -> bool:
        return self.status in ("pass_1", "pass_2")

    def observed(self) -> dict[str, bool]:
        c = self.counters
        return {
            "write_guard": c.write_guard_fires > 0,
            "thinking_budget": c.thinking_budget_fires > 0,
            "repairs": c.repairs > 0,
            "corrections": c.corrections > 0,
            "cap_warnings": c.cap_warnings > 0,
            "cap_hits": c.cap_hits > 0,
            "compactions": c.compactions > 0,
            "test_edits": bool(self.test_file_edits),
            "test_timeouts": any(a.grade.timed_out for a in self.attempts),
        }


class Totals(BaseModel):
    total: int = 0
    graded: int = 0
    unavailable: int = 0
    pass_1: int = 0
    pass_2: int = 0  # passed on the second attempt only
    fail: int = 0
    pass_rate_1: float = 0.0  # % of graded
    pass_rate_2: float = 0.0  # % of graded, passes on either attempt
    mean_time_pass: float | None = None
    mean_time_fail: float | None = None
    mean_turns_pass: float | None = None
    mean_turns_fail: float | None = None
    observed: dict[str, int] = Field(default_factory=dict)  # graded exercises where each observable fired


class RunResults(BaseModel):
    schema_version: int = SCHEMA_VERSION
    model: str = ""
    backend: str = ""
    base_url: str = ""
    started_at: str = Field(default_factory=lambda: now())
    updated_at: str = Field(default_factory=lambda: now())
    finished: bool = False
    config: dict[str, Any] = Field(default_factory=dict)
    # Which benchmark protocol (agent/bench/protocols.py) and system prompt (agent.prompt.PROMPT_VERSION)
    # made the run; "" in files written before they were recorded.
    protocol: str = ""
    prompt_version: str = ""
    prompt_layout: str = ""  # where the harness notes went (settings.prompt_layout); "" before it was recorded
    problems: list[str] = Field(default_factory=list)
    # Toolchain versions, the graders' sandbox and the compiler cache's hits (of the latest session of
    # the run); None in files written before they were recorded.
    grading: GradingEnvironment | None = None
    exercises: list[ExerciseResult] = Field(default_factory=list)
    languages: dict[str, Totals] = Field(default_factory=dict)
    overall: Totals = Field(default_factory=Totals)

    def get(self, key: str) -> ExerciseResult | None:
        return next((e for e in self.exercises if e.key == key), None)

    def record(self, result: ExerciseResult) -> None:
        """Add or replace one exercise's result and refresh the totals."""
        self.exercises = [e for e in self.exercises if e.key != result.key] + [result]
        order = {lang: i for i, lang in enumerate(LANGUAGES)}
        self.exercises.sort(key=lambda e: (order[e.language], e.name))
        self.refresh()

    def refresh(self) -> None:
        self.languages = {
            lang: totals(e for e in self.exercises if e.language == lang)
            for lang in LANGUAGES
            if any(e.language == lang for e in self.exercises)
        }
        self.overall = totals(self.exercises)
        self.updated_at = now()

    def save(self, path: Path) -> None:
        """Write to a temporary file beside `path`, flush it to disk, then rename over `path`: a reader
        (or a crash) sees the old file or the new one, never half of one."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(temp, "w", encoding="utf-8") as handle:
                handle.write(self.model_dump_json(indent=2))
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> RunResults:
        """Raises ValueError when the file is not a results file of this schema."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read {path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"{path} is not a little-coder bench results file (schema {SCHEMA_VERSION})")
        return cls.model_validate(data)


def totals(exercises: Iterable[ExerciseResult]) -> Totals:
    items = list(exercises)
    graded = [e for e in items if e.graded]
    passes = [e for e in graded if e.passed]
    fails = [e for e in graded if not e.passed]
    out = Totals(
        total=len(items),
        graded=len(graded),
        unavailable=sum(e.status == "unavailable" for e in items),
        pass_1=sum(e.status == "pass_1" for e in graded),
        pass_2=sum(e.status == "pass_2" for e in graded),
        fail=len(fails),
        mean_time_pass=_mean(e.duration_s for e in passes),
        mean_time_fail=_mean(e.duration_s for e in fails),
        mean_turns_pass=_mean(e.turns for e in passes),
        mean_turns_fail=_mean(e.turns for e in fails),
        observed={key: sum(e.observed()[key] for e in graded) for key in OBSERVABLES},
    )
    if graded:
        out.pass_rate_1 = round(100 * out.pass_1 / len(graded), 2)
        out.pass_rate_2 = round(100 * (out.pass_1 + out.pass_2) / len(graded), 2)
    return out


def add_counters(total: Counters, more: Counters) -> Counters:
    """The sum of two sessions' counters (flags: either)."""
    merged: dict[str, Any] = {}
    for name in Counters.model_fields:
        a, b = getattr(total, name), getattr(more, name)
        if isinstance(a, bool):
            merged[name] = a or b
        elif isinstance(a, dict):
            merged[name] = {k: a.get(k, 0) + b.get(k, 0) for k in {*a, *b}}
        else:
            merged[name] = a + b
    return Counters.model_validate(merged)


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return round(sum(items) / len(items), 2) if items else None


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
