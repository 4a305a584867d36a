"""Go: `go test` with the module proxy off and a shared build cache."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from agent.bench.exercises import Exercise
from agent.bench.runners.base import DEPS_HINT, Dependencies, Runner

MIN_GO = (1, 21)
_GO_VERSION = re.compile(r"go(\d+)\.(\d+)")
_TEST_FUNC = re.compile(r"^func (Test|Example|Fuzz)\w*\(", re.MULTILINE)
_PASSED = re.compile(r"^\s*--- PASS: \S+", re.MULTILINE)


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

    def missing(self) -> str | None:
        reason = super().missing()
        if reason is not None:
            return reason
        # Exercises use the standard library of Go 1.21 (go/dnd-character imports `slices`); Aider's
        # benchmark grades with 1.21.5.
        done = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, timeout=30,
                              env=self.env, check=False)
        found = _GO_VERSION.match(done.stdout.strip())
        if found is None:
            return f"cannot tell the Go version ({(done.stdout + done.stderr).strip()[:200]})"
        if (int(found[1]), int(found[2])) < MIN_GO:
            return (f"{done.stdout.strip()} is older than Go {MIN_GO[0]}.{MIN_GO[1]}, which the exercises need "
                    f"({DEPS_HINT})")
        return None

    def version_commands(self) -> list[list[str]]:
        return [["go", "version"]]

    def ungradable(self, exercise: Exercise) -> str | None:
        # go/counter asks for a test suite in its test file, which grading restores to its empty self:
        # `go test` passes any solution there (a free point in Aider's harness), with no test run.
        tests = [exercise.path / t for t in exercise.test if t.endswith("_test.go")]
        if any(_TEST_FUNC.search(p.read_text(encoding="utf-8", errors="replace")) for p in tests if p.is_file()):
            return None
        return "its test files define no Go test, so no solution can be graded (any would pass untested)"

    def caches(self) -> list[Path]:
        return [self.toolchains.cache_dir / "go"]

    def writes_caches(self, label: str) -> bool:
        return label == "compile"

    def agent_command(self, exercise: Exercise) -> str:
        return "go test ./..."

    def steps(self, exercise: Exercise, root: Path, scratch: Path,
              deps: Dependencies) -> list[tuple[str, list[str]]]:
        # Compiled with the shared build cache writable (vet runs here too, as in `go test`), then run
        # without it: the exercise's code never gets to write into a cache other exercises read.
        binary = scratch / "exercise.test"
        binary.unlink(missing_ok=True)
        return [("compile", ["go", "test", "-c", "-o", str(binary), "."]),
                ("run", [str(binary), "-test.v", "-test.count=1"])]

    def verify(self, exercise: Exercise, output: str) -> str | None:
        # A test file without tests (or tests all skipped) exits 0 too.
        if not _PASSED.search(output):
            return "no Go test ran"
        if "no tests to run" in output:
            return "go reported no tests to run"
        return None
