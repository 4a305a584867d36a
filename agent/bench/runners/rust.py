"""Rust: `cargo test --offline`, every test including the ignored ones, a fresh target folder outside the
copy."""

from __future__ import annotations

import shutil
from pathlib import Path

from agent.bench.dependencies import cargo
from agent.bench.exercises import Exercise
from agent.bench.runners.base import Dependencies, Runner


class RustRunner(Runner):
    language = "rust"
    default_timeout = 180.0
    programs = ("cargo",)

    def extra_env(self) -> dict[str, str]:
        return {"CARGO_TERM_COLOR": "never", "CARGO_NET_OFFLINE": "true"}

    def version_commands(self) -> list[list[str]]:
        return [["rustc", "--version"], ["cargo", "--version"]]

    def intruder(self, rel: str) -> bool:
        return rel.startswith("tests/")

    def agent_command(self, exercise: Exercise) -> str:
        return "cargo test --offline -- --include-ignored"

    def steps(self, exercise: Exercise, root: Path, scratch: Path,
              deps: Dependencies) -> list[tuple[str, list[str]]]:
        # A fresh target folder each time: the exercise's code ran in the last grading with this folder
        # writable, and cargo would reuse what it left there (a test binary, a dependency's rlib).
        target = scratch / "target"
        shutil.rmtree(target, ignore_errors=True)
        return [("test", ["cargo", "test", "--offline", "--target-dir", str(target), "--", "--include-ignored"])]

    def verify(self, exercise: Exercise, output: str) -> str | None:
        # An edited Cargo.toml (autotests = false) can make `cargo test` pass without running the tests.
        for rel in exercise.test:
            if rel.endswith(".rs") and f"Running {rel}" not in output:
                return f"cargo never ran {rel}"
        return None

    async def dependencies(self, exercise: Exercise) -> Dependencies:
        # The reference solution's .meta/Cargo-example.toml may declare more crates than the stub's.
        manifests = cargo.manifests(exercise.path)
        if not manifests:
            return Dependencies()
        env = cargo.cargo_env(self.toolchains.cache_dir / "cargo", self.env)
        missing = await cargo.fetch(manifests, {**self.env, **env})
        return Dependencies(missing=missing, env=env, declared=tuple(cargo.declared(manifests)))
