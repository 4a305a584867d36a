"""Go: `go test` with the module proxy off and a shared build cache."""

from __future__ import annotations

from pathlib import Path

from agent.bench.exercises import Exercise
from agent.bench.runners.base import Dependencies, Runner


class GoRunner(Runner):
    language = "go"
    default_timeout = 120.0
    programs = ("go",)

    def extra_env(self) -> dict[str, str]:
        cache = self.toolchains.cache_dir / "go"
        return {"GOPROXY": "off", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "GOWORK": "off",
                "GO111MODULE": "on", "CGO_ENABLED": "0", "GOTELEMETRY": "off",
                "GOCACHE": str(cache / "build"), "GOMODCACHE": str(cache / "mod")}

    def intruder(self, rel: str) -> bool:
        return rel.endswith("_test.go")  # a new one could hold a TestMain that exits 0

    def agent_command(self, exercise: Exercise) -> str:
        return "go test ./..."

    def steps(self, exercise: Exercise, root: Path, scratch: Path,
              deps: Dependencies) -> list[tuple[str, list[str]]]:
        return [("test", ["go", "test", "-count=1", "./..."])]
