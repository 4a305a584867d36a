"""What a run was graded with, recorded beside its results: each language's toolchain versions, whether
graders ran in the sandbox, and how often the C++ compiler cache hit (Aider's image uses Go 1.21.5 and
JDK 21; a result is only comparable with the versions next to it).
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from agent.bench.exercises import TITLES

from agent.process import run_command
from agent.sandbox import support

if TYPE_CHECKING:  # results.py reads these models without loading the graders
    from agent.bench.runners import Runner

_VERSION_TIMEOUT_S = 20.0


class CompilerCache(BaseModel):
    """ccache's hits and misses over one run (the difference of its counters at the end and the start)."""

    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float | None:
        total = self.hits + self.misses
        return round(self.hits / total, 3) if total else None

    def minus(self, before: CompilerCache) -> CompilerCache:
        return CompilerCache(hits=self.hits - before.hits, misses=self.misses - before.misses)

    def describe(self) -> str:
        rate = self.hit_rate
        if rate is None:
            return "compiler cache: no C++ compilation"
        return f"compiler cache: {self.hits} hits, {self.misses} misses ({rate:.0%} hit rate)"


class GradingEnvironment(BaseModel):
    toolchains: dict[str, str] = Field(default_factory=dict)  # language -> versions, one line
    sandbox: str = ""  # how graders were contained
    compiler_cache: CompilerCache | None = None

    def lines(self) -> list[str]:
        """The record as the reports print it: the sandbox, each language's versions, the cache."""
        out = [self.sandbox, *(f"{TITLES[lang]}: {versions}" for lang, versions in self.toolchains.items())]
        return out + ([self.compiler_cache.describe()] if self.compiler_cache is not None else [])


async def toolchain_versions(runners: Mapping[str, Runner], languages: Sequence[str]) -> dict[str, str]:
    """The first line each of a language's version commands prints, joined; languages that cannot be
    graded here say so."""

    async def one(runner: Runner) -> str:
        reason = await asyncio.to_thread(runner.missing)
        if reason is not None:
            return f"unavailable: {reason}"
        lines = []
        for argv in runner.version_commands():
            result = await run_command(shlex.join(argv), Path.cwd(), _VERSION_TIMEOUT_S, env=runner.env)
            text = (result.stdout.strip() or result.stderr.strip()).splitlines()
            lines.append(text[0].strip() if text else f"{argv[0]}: no version printed")
        return "; ".join(lines)

    found = await asyncio.gather(*(one(runners[lang]) for lang in languages))
    return dict(zip(languages, found, strict=True))


async def sandbox_description() -> str:
    found = await asyncio.to_thread(support)
    if found.available:
        return "graders run in the sandbox with no network (" + found.reason + ")"
    return "graders run on this machine, NOT sandboxed: " + found.reason


async def compiler_cache_counters(runners: Mapping[str, Runner]) -> CompilerCache | None:
    """ccache's cumulative counters for the cache the C++ grader uses, or None without ccache."""
    cpp = runners["cpp"]
    if "CCACHE_DIR" not in cpp.env or cpp.which("ccache") is None:
        return None
    result = await run_command("ccache --print-stats", Path.cwd(), _VERSION_TIMEOUT_S, env=cpp.env)
    if result.exit_code != 0:
        return None
    counters: dict[str, int] = {}
    for line in result.stdout.splitlines():
        name, _, value = line.partition("\t")
        if value.strip().isdigit():
            counters[name] = int(value)
    hits = counters.get("direct_cache_hit", 0) + counters.get("preprocessed_cache_hit", 0)
    return CompilerCache(hits=hits, misses=counters.get("cache_miss", 0))


async def grading_environment(runners: Mapping[str, Runner], languages: Sequence[str]) -> GradingEnvironment:
    """The record at the start of a run; its compiler cache holds the counters so far, which
    `finish_grading_environment` turns into this run's own."""
    return GradingEnvironment(toolchains=await toolchain_versions(runners, languages),
                              sandbox=await sandbox_description(),
                              compiler_cache=await compiler_cache_counters(runners))


async def finish_grading_environment(record: GradingEnvironment, runners: Mapping[str, Runner]) -> None:
    before, after = record.compiler_cache, await compiler_cache_counters(runners)
    record.compiler_cache = after.minus(before) if after is not None and before is not None else None
