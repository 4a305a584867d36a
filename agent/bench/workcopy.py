"""One exercise's working copy, made and graded the same way by the benchmark run and by `bench
verify`: `<folder>/<exercise>` holds the copy (the C++ CMakeLists names its target after this
folder), `<folder>/scratch` the build output; the tests are snapshotted before anyone edits the copy,
restored before each grading, and the graders' own files are accepted after it.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field

from agent.bench.exercises import LANGUAGES, Exercise, Language
from agent.bench.guard import EditedTest, TamperGuard
from agent.bench.prepare import prepare
from agent.bench.runners import Dependencies, Grade, Limits, Runner


class GradingRun(BaseModel):
    """What a run over a tree grades and where its copies go: shared by `bench` and `bench verify`."""

    tree: Path
    languages: list[Language] = Field(default_factory=lambda: list(LANGUAGES))
    exercises: list[str] = Field(default_factory=list, description="names or language/name keys; empty: all")
    limit: int | None = Field(default=None, ge=1, description="first N exercises of each language")
    workers: int = Field(default=1, ge=1, le=64)
    limits: Limits = Field(default_factory=Limits)
    work_dir: Path | None = Field(default=None, description="where exercise copies are made (default: a temp dir)")
    keep_workdirs: bool = False


class WorkCopy:
    def __init__(self, exercise: Exercise, runner: Runner, folder: Path, guard: TamperGuard) -> None:
        self.exercise = exercise
        self.runner = runner
        self.folder = folder
        self.root = folder / exercise.name
        self.scratch = folder / "scratch"
        self.guard = guard

    @classmethod
    async def make(cls, exercise: Exercise, runner: Runner, work_root: Path) -> WorkCopy:
        work_root.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f"{exercise.language}-{exercise.name}-", dir=work_root))
        root = folder / exercise.name

        def build() -> TamperGuard:
            prepare(exercise, root)
            runner.setup(root)
            return TamperGuard(root, [*exercise.test, *runner.support_files(root)], runner.intruder)

        try:
            guard = await asyncio.to_thread(build)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, folder, True)
            raise
        return cls(exercise, runner, folder, guard)

    async def grade(self, attempt: int, limits: Limits, deps: Dependencies) -> tuple[Grade, list[EditedTest]]:
        """Restore the tests (reporting what the agent changed), grade, accept the graders' files."""
        edits = await asyncio.to_thread(self.guard.restore, attempt)
        grade = await self.runner.grade(self.exercise, self.root, self.scratch, limits, deps)
        await asyncio.to_thread(self.guard.settle)
        return grade, edits

    async def remove(self) -> None:
        await asyncio.to_thread(shutil.rmtree, self.folder, True)


class Readiness:
    """Whether an exercise can be graded here: its language's toolchain (looked up once per run), then
    what its own build files declare (fetched before anyone edits the copy)."""

    def __init__(self, runners: dict[str, Runner]) -> None:
        self.runners = runners
        self._missing: dict[str, str | None] = {}

    async def check(self, exercise: Exercise) -> tuple[str | None, Dependencies]:
        """(why it cannot be graded, or None; its dependencies)."""
        runner = self.runners[exercise.language]
        if exercise.language not in self._missing:
            self._missing[exercise.language] = await asyncio.to_thread(runner.missing)
        reason = self._missing[exercise.language] or await asyncio.to_thread(runner.ungradable, exercise)
        if reason is not None:
            return reason, Dependencies()
        deps = await runner.dependencies(exercise)
        return deps.missing, deps
