"""The grader's common part: where toolchains live, the limits of one grading, its verdict, and the
`Runner` every language implements (its commands, what it protects, how a passing run is checked).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, Field

from agent.bench.exercises import Exercise, Language
from agent.bench.limits import run_limited
from agent.bench.output_clean import OutputCleaner
from agent.sandbox import Room, support

DEFAULT_CACHE = Path("~/.cache/little-coder")
DEPS_HINT = "run scripts/deps/toolchains.sh"


class Toolchains(BaseModel):
    """Where the graders' shared pieces live."""

    cache_dir: Path
    python: str = Field(default_factory=lambda: sys.executable)
    jest_modules: Path
    java_libs: Path = Path("/usr/share/java")

    @classmethod
    def default(cls, environ: Mapping[str, str] | None = None) -> Toolchains:
        env = os.environ if environ is None else environ
        cache = Path(env.get("LITTLE_CODER_CACHE") or DEFAULT_CACHE).expanduser()
        return cls(cache_dir=cache, jest_modules=cache / "jest" / "node_modules")


class Limits(BaseModel):
    test_timeout: float | None = Field(default=None, gt=0, description="seconds for one grading; None: per language")
    memory_mb: int | None = Field(default=4096, ge=16, description="resident memory of the test's processes")
    max_output: int = Field(default=200_000, ge=1000, description="bytes kept per stream")


class Dependencies(BaseModel):
    """What an exercise's own build files declare, made available before the agent starts: fetched
    once into the cache (with the network), then graded offline."""

    missing: str | None = None  # a dependency that cannot be had here, named: the exercise is `unavailable`
    env: dict[str, str] = Field(default_factory=dict)  # for the grading commands (CARGO_HOME, say)
    classpath: tuple[Path, ...] = ()  # Java: the resolved jars, test libraries included
    declared: tuple[str, ...] = ()  # what the build files named, for the results


class Grade(BaseModel):
    passed: bool
    exit_code: int | None = None
    timed_out: bool = False
    memory_exceeded: bool = False
    duration_s: float = 0.0
    failed_step: str | None = None
    output: str = ""


class Runner(ABC):
    language: ClassVar[Language]
    default_timeout: ClassVar[float]
    programs: ClassVar[tuple[str, ...]]

    def __init__(self, toolchains: Toolchains, environ: Mapping[str, str] | None = None) -> None:
        self.toolchains = toolchains
        self.base_env = dict(os.environ if environ is None else environ)
        self.env = {**self.base_env, **self.extra_env()}

    # --- what the runner needs and protects ------------------------------------------------------

    def extra_env(self) -> dict[str, str]:
        return {}

    def which(self, program: str) -> str | None:
        return shutil.which(program, path=self.env.get("PATH", ""))

    def missing(self) -> str | None:
        """Why this language cannot be graded here, or None."""
        for program in self.programs:
            if self.which(program) is None:
                return f"{program} not found on PATH ({DEPS_HINT})"
        return None

    def version_commands(self) -> list[list[str]]:
        """Commands whose first line of output names the toolchain's version (for the results)."""
        return [[program, "--version"] for program in self.programs]

    def ungradable(self, exercise: Exercise) -> str | None:
        """Why the exercise as shipped can give no verdict at all (its tests define no test), or None."""
        return None

    def support_files(self, root: Path) -> list[str]:
        """Files besides the tests that grading trusts; restored like tests."""
        return []

    def intruder(self, rel: str) -> bool:
        """True for a file that must not appear in the copy, because it could change the verdict."""
        return False

    def shared_folders(self) -> dict[str, Path]:
        """Folders the copy links to instead of holding (name in the copy -> shared folder)."""
        return {}

    def setup(self, root: Path) -> None:
        """Link the shared folders into the copy; runs again before each grading in case the agent
        removed a link."""
        for name, target in self.shared_folders().items():
            link = root / name
            if not os.path.lexists(link):
                link.symlink_to(target, target_is_directory=True)

    def grading_env(self, root: Path, scratch: Path) -> dict[str, str]:
        """Variables this copy's grading commands get on top of the environment (inside the sandbox, on
        top of its allow-list)."""
        return self.extra_env()

    def caches(self) -> list[Path]:
        """Shared folders grading writes to (build and compiler caches): writable in the sandbox."""
        return []

    def writes_caches(self, label: str) -> bool:
        """Whether the step `label` gets the caches writable; a step that runs the exercise's own code
        alone (a compiled test binary) does not, so that code cannot plant entries other exercises read."""
        return True

    def after(self, root: Path) -> None:
        """Clean up what grading made inside the copy (nothing, unless a runner builds there)."""
        return None

    @abstractmethod
    def agent_command(self, exercise: Exercise) -> str:
        """A command the agent can run in its copy to see the tests' verdict."""

    async def dependencies(self, exercise: Exercise) -> Dependencies:
        """Read the exercise's build files (in `exercise.path`, so the agent cannot add to them) and make
        what they declare available offline; the default: nothing to fetch."""
        return Dependencies()

    @abstractmethod
    def steps(self, exercise: Exercise, root: Path, scratch: Path,
              deps: Dependencies) -> list[tuple[str, list[str]]]:
        """(label, argv) to run in order in `root`; the first failure fails the grade."""

    def verify(self, exercise: Exercise, output: str) -> str | None:
        """A reason not to trust a passing run, or None."""
        return None

    # --- grading ----------------------------------------------------------------------------------

    async def grade(self, exercise: Exercise, root: Path, scratch: Path, limits: Limits,
                    deps: Dependencies | None = None) -> Grade:
        """Run the tests of the copy at `root`; `scratch` holds build output outside the copy. Where this
        machine has the sandbox every step runs in it with no network: only the copy, `scratch` and, for
        steps that compile, the runner's caches are writable (sandbox_description() records which)."""
        self.setup(root)
        scratch.mkdir(parents=True, exist_ok=True)
        budget = limits.test_timeout or self.default_timeout
        started = time.monotonic()
        parts: list[str] = []
        deps = deps or Dependencies()
        extra = {**self.grading_env(root, scratch), **deps.env}
        rooms: dict[bool, Room] = {}
        if (await asyncio.to_thread(support)).available:
            for cache in self.caches():
                cache.mkdir(parents=True, exist_ok=True)
            folder = Path(os.path.commonpath([root, scratch]))
            rooms = {writes: Room(folder, layer=False, environ=self.base_env, writable=self.caches() if writes else ())
                     for writes in (True, False)}
        env = extra if rooms else {**self.base_env, **extra}
        clean = OutputCleaner(root=root, scratch=scratch, cache=self.toolchains.cache_dir,
                              home=Path(self.base_env.get("HOME") or Path.home()))
        try:
            for label, argv in self.steps(exercise, root, scratch, deps):
                remaining = budget - (time.monotonic() - started)
                parts.append("$ " + shlex.join(argv))
                if remaining <= 0:
                    parts.append(f"[not run: the tests' {budget:g} s were used up]")
                    return self._grade(False, parts, started, clean, timed_out=True, step=label)
                # One stream, in the order it was written.
                run = await run_limited(shlex.join(argv) + " 2>&1", root, timeout=remaining, env=env,
                                        max_output=limits.max_output, memory_mb=limits.memory_mb,
                                        room=rooms.get(self.writes_caches(label)))
                result = run.result
                parts += [t.rstrip("\n") for t in (result.stdout, result.stderr) if t.strip()]
                if run.memory_exceeded:
                    parts.append(f"[killed: the tests used more than {limits.memory_mb} MB of memory]")
                    return self._grade(False, parts, started, clean, exit_code=result.exit_code, memory=True,
                                       step=label)
                if result.timed_out:
                    parts.append(f"[killed: the tests ran longer than {budget:g} s]")
                    return self._grade(False, parts, started, clean, timed_out=True, step=label)
                if result.exit_code != 0:
                    return self._grade(False, parts, started, clean, exit_code=result.exit_code, step=label)
        finally:
            for room in rooms.values():
                await room.aclose()
            await asyncio.to_thread(self.after, root)
        output = "\n".join(parts)
        distrust = self.verify(exercise, output)
        if distrust:
            parts.append(f"[not counted as a pass: {distrust}]")
            return self._grade(False, parts, started, clean, exit_code=0, step="verify")
        return self._grade(True, parts, started, clean, exit_code=0)

    @staticmethod
    def _grade(passed: bool, parts: list[str], started: float, clean: OutputCleaner, *,
               exit_code: int | None = None, timed_out: bool = False, memory: bool = False,
               step: str | None = None) -> Grade:
        # What the model and the results see: no absolute paths of this machine, no timings.
        return Grade(passed=passed, exit_code=exit_code, timed_out=timed_out, memory_exceeded=memory,
                     duration_s=round(time.monotonic() - started, 3), failed_step=None if passed else step,
                     output=clean("\n".join(parts)))
