"""`little-coder bench verify`: the harness checks itself by grading each exercise's reference solution.

No model is involved. Each exercise gets the clean copy an agent would get (tests un-skipped, `.meta/`
left out, the same folders and dependencies), its reference solution is laid over the stubs
(agent/bench/reference.py), and the same grader grades it under the same limits. A reference that
fails means the harness, not a model, would fail that exercise: every such case is listed with its
cause. What cannot be had on this machine is `unavailable`, with the missing piece named.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, TextIO

from pydantic import BaseModel, Field

from agent.bench.exercises import LANGUAGES, TITLES, Exercise, Language, discover
from agent.bench.grading_env import GradingEnvironment, finish_grading_environment, grading_environment
from agent.bench.output_clean import failure_head
from agent.bench.reference import reference_files
from agent.bench.runners import Toolchains, make_runners
from agent.bench.workcopy import GradingRun, Readiness, WorkCopy

log = logging.getLogger(__name__)

Outcome = Literal["gradable", "unavailable", "failed"]
CAUSE_CHARS = 2000  # of the failing output, from its first error-looking line


class VerifyConfig(GradingRun):
    workers: int = Field(default=2, ge=1, le=64)


class VerifiedExercise(BaseModel):
    language: Language
    name: str
    outcome: Outcome
    reason: str = ""  # unavailable: what is missing; failed: why the reference failed
    failed_step: str | None = None
    duration_s: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.language}/{self.name}"


class Count(BaseModel):
    total: int = 0
    gradable: int = 0
    unavailable: int = 0
    failed: int = 0

    def add(self, outcome: Outcome) -> None:
        self.total += 1
        setattr(self, outcome, getattr(self, outcome) + 1)


class VerifyReport(BaseModel):
    tree: str
    environment: GradingEnvironment = Field(default_factory=GradingEnvironment)
    languages: dict[str, Count] = Field(default_factory=dict)
    overall: Count = Field(default_factory=Count)
    exercises: list[VerifiedExercise] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)  # exercises that could not even be read

    def tally(self) -> None:
        order = {lang: i for i, lang in enumerate(LANGUAGES)}
        self.exercises.sort(key=lambda e: (order[e.language], e.name))
        self.languages, self.overall = {}, Count()
        for entry in self.exercises:
            self.languages.setdefault(entry.language, Count()).add(entry.outcome)
            self.overall.add(entry.outcome)


class VerifyError(Exception):
    """The check cannot start (no such tree, nothing selected); message for the user."""


async def verify(config: VerifyConfig, *, toolchains: Toolchains | None = None,
                 environ: Mapping[str, str] | None = None, progress: TextIO | None = None) -> VerifyReport:
    try:
        found = discover(config.tree, config.languages, config.exercises, config.limit)
    except ValueError as exc:
        raise VerifyError(str(exc)) from exc
    if not found.exercises:
        raise VerifyError("no exercise selected in " + str(config.tree) + "".join(f"\n  {p}" for p in found.problems))
    runners = make_runners(toolchains or Toolchains.default(environ), environ)
    readiness = Readiness(runners)
    languages = sorted({e.language for e in found.exercises}, key=LANGUAGES.index)
    report = VerifyReport(tree=str(config.tree), problems=list(found.problems))
    report.environment = await grading_environment(runners, languages)
    if config.work_dir is not None:
        config.work_dir.mkdir(parents=True, exist_ok=True)
    work_root = Path(tempfile.mkdtemp(prefix="little-coder-verify-", dir=config.work_dir))
    slots = asyncio.Semaphore(config.workers)

    async def one(exercise: Exercise) -> None:
        async with slots:
            try:
                entry = await _verify_one(exercise, readiness, config, work_root)
            except Exception as exc:  # one exercise the harness cannot handle must not end the check
                log.exception("verifying %s failed inside the harness", exercise.key)
                entry = VerifiedExercise(language=exercise.language, name=exercise.name, outcome="failed",
                                         reason=f"harness error {type(exc).__name__}: {exc}", failed_step="harness")
        report.exercises.append(entry)
        if progress is not None:
            detail = f": {entry.reason.splitlines()[0]}" if entry.reason else ""
            progress.write(f"[{len(report.exercises)}/{len(found.exercises)}] {entry.key} {entry.outcome}{detail}\n")
            progress.flush()

    try:
        async with asyncio.TaskGroup() as group:
            for exercise in found.exercises:
                group.create_task(one(exercise))
    finally:
        if not config.keep_workdirs:
            await asyncio.to_thread(shutil.rmtree, work_root, True)
    await finish_grading_environment(report.environment, runners)
    report.tally()
    return report


async def _verify_one(exercise: Exercise, readiness: Readiness, config: VerifyConfig,
                      work_root: Path) -> VerifiedExercise:
    started = time.monotonic()

    def entry(outcome: Outcome, reason: str = "", step: str | None = None) -> VerifiedExercise:
        return VerifiedExercise(language=exercise.language, name=exercise.name, outcome=outcome, reason=reason,
                                failed_step=step, duration_s=round(time.monotonic() - started, 3))

    reason, deps = await readiness.check(exercise)
    if reason is not None:
        return entry("unavailable", reason)
    try:
        placed = reference_files(exercise)
    except ValueError as exc:
        return entry("failed", str(exc), "reference")
    copy = await WorkCopy.make(exercise, readiness.runners[exercise.language], work_root)
    try:
        def lay_over() -> None:
            for rel, source in placed.items():
                target = copy.root / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)

        await asyncio.to_thread(lay_over)
        grade, edits = await copy.grade(1, config.limits, deps)
    finally:
        if not config.keep_workdirs:
            await copy.remove()
    if edits:  # the reference solution overlapping a test file is a fault of the tree, said as such
        changed = ", ".join(f"{e.path} ({e.change})" for e in edits)
        return entry("failed", f"the reference solution touches protected files: {changed}", "reference")
    if grade.passed:
        return entry("gradable")
    cause = failure_head(grade.output, CAUSE_CHARS)
    if grade.timed_out:
        cause = f"timed out ({grade.failed_step})\n" + cause
    return entry("failed", cause, grade.failed_step)


def render(report: VerifyReport) -> str:
    """Per language: how many references grade as passing; then every failure and every unavailable
    exercise with its cause."""
    lines = [f"Reference solutions graded from {report.tree}", ""]
    lines.append(f"{'language':<12}{'total':>7}{'gradable':>10}{'unavailable':>13}{'failed':>8}")
    for language, count in report.languages.items():
        lines.append(f"{TITLES[language]:<12}{count.total:>7}{count.gradable:>10}{count.unavailable:>13}"
                     f"{count.failed:>8}")
    o = report.overall
    lines.append(f"{'all':<12}{o.total:>7}{o.gradable:>10}{o.unavailable:>13}{o.failed:>8}")
    for title, outcome in (("Failed", "failed"), ("Unavailable", "unavailable")):
        chosen = [e for e in report.exercises if e.outcome == outcome]
        if chosen:
            lines += ["", f"{title}:"]
            for e in chosen:
                step = f" [{e.failed_step}]" if e.failed_step else ""
                body = e.reason.strip().splitlines() or [""]
                lines.append(f"  {e.key}{step}: {body[0]}")
                lines += [f"      {line}" for line in body[1:12]]
    if report.problems:
        lines += ["", "Not read:"] + [f"  {p}" for p in report.problems]
    lines += ["", *report.environment.lines()]
    return "\n".join(lines) + "\n"
