"""Grading with each language's own test runner, offline, under limits.

| language   | grading                                                                  | default limit |
|------------|--------------------------------------------------------------------------|---------------|
| python     | `python -P -m pytest` on the test files, no conftest, our own empty ini  | 60 s          |
| go         | `go test -count=1 ./...` with GOPROXY=off, GOFLAGS=-mod=mod, shared cache | 120 s         |
| rust       | `cargo test --offline -- --include-ignored`, target dir outside the copy | 180 s         |
| javascript | jest from one shared node_modules (symlinked into the copy), by path     | 120 s         |
| cpp        | cmake with EXERCISM_RUN_ALL_TESTS, then a build that runs the tests      | 240 s         |
| java       | javac + the JUnit 5 console launcher (Gradle cannot fetch itself offline) | 180 s         |

A runner whose programs are missing reports why (`missing()`), and the harness records its exercises
as `unavailable`. Programs are looked up on the PATH of the environment the runner was given, so a
test can hide a toolchain by changing PATH.
"""

from __future__ import annotations

from collections.abc import Mapping

from agent.bench.runners.base import DEFAULT_CACHE, DEPS_HINT, Dependencies, Grade, Limits, Runner, Toolchains
from agent.bench.runners.cpp import CppRunner
from agent.bench.runners.go import GoRunner
from agent.bench.runners.java import JavaRunner
from agent.bench.runners.javascript import JavaScriptRunner
from agent.bench.runners.python import PythonRunner
from agent.bench.runners.rust import RustRunner

__all__ = ["DEFAULT_CACHE", "DEPS_HINT", "RUNNERS", "CppRunner", "Dependencies", "GoRunner", "Grade", "JavaRunner",
           "JavaScriptRunner", "Limits", "PythonRunner", "Runner", "RustRunner", "Toolchains", "make_runners"]

RUNNERS: dict[str, type[Runner]] = {
    cls.language: cls for cls in (PythonRunner, GoRunner, RustRunner, JavaScriptRunner, CppRunner, JavaRunner)
}


def make_runners(toolchains: Toolchains, environ: Mapping[str, str] | None = None) -> dict[str, Runner]:
    return {language: cls(toolchains, environ) for language, cls in RUNNERS.items()}
