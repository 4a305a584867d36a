"""C++: the exercise's own CMakeLists with every test switched on; building runs the tests."""

from __future__ import annotations

import os
import re
import shutil
from functools import cached_property
from pathlib import Path

from agent.bench.dependencies.cmake import PackageProbe, required_packages
from agent.bench.exercises import Exercise
from agent.bench.runners.base import Dependencies, Runner

# The grader's build folder, inside the copy for the compiler cache's sake (see grading_env), made
# fresh before each grading and removed after it.
GRADING_BUILD = ".grading-build"
_SUMMARY = re.compile(r"All tests passed \(\d+ assertions? in (\d+) test cases?\)")


class CppRunner(Runner):
    language = "cpp"
    default_timeout = 240.0
    programs = ("cmake", "make", "c++")

    def extra_env(self) -> dict[str, str]:
        # Each build compiles Catch2's main and the test file (seconds each); ccache keeps them.
        return {"CCACHE_DIR": str(self.toolchains.cache_dir / "ccache"), "CCACHE_NOHASHDIR": "true"}

    def grading_env(self, root: Path, scratch: Path) -> dict[str, str]:
        # Paths below the base dir are hashed relative to the compiler's folder, the build folder inside
        # the copy: Catch2's main is then ../test/tests-main.cpp in every exercise and compiles once
        # per machine (per Catch2 version), and the next copy of an exercise hits on all its files.
        return {**self.extra_env(), "CCACHE_BASEDIR": str(root)}

    def caches(self) -> list[Path]:
        return [self.toolchains.cache_dir / "ccache"]

    def writes_caches(self, label: str) -> bool:
        return label != "run"

    def support_files(self, root: Path) -> list[str]:
        found = ["CMakeLists.txt"] if (root / "CMakeLists.txt").is_file() else []
        test_dir = root / "test"
        if test_dir.is_dir():
            found += sorted(p.relative_to(root).as_posix() for p in test_dir.rglob("*") if p.is_file())
        return found

    def intruder(self, rel: str) -> bool:
        return rel.startswith("test/") or rel.rsplit("/", 1)[-1] == "CMakeLists.txt"

    def agent_command(self, exercise: Exercise) -> str:
        return "cmake -S . -B build -DEXERCISM_RUN_ALL_TESTS=ON && cmake --build build"

    def steps(self, exercise: Exercise, root: Path, scratch: Path,
              deps: Dependencies) -> list[tuple[str, list[str]]]:
        # A fresh build folder each time (ccache makes it cheap), so nothing the agent left there counts.
        # The executable is built alone, without the CMakeLists' target that runs it, and then run in a
        # step of its own, where the compiler cache is read-only.
        build = root / GRADING_BUILD
        shutil.rmtree(build, ignore_errors=True)
        if os.path.lexists(build):
            os.unlink(build)
        configure = ["cmake", "-S", str(root), "-B", str(build), "-DEXERCISM_RUN_ALL_TESTS=ON",
                     "-DCMAKE_BUILD_TYPE=Debug"]
        if self.which("ccache"):
            configure.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
        return [("configure", configure),
                ("build", ["cmake", "--build", str(build), "--target", root.name, "--parallel", "2"]),
                ("run", [str(build / root.name)])]

    def after(self, root: Path) -> None:
        shutil.rmtree(root / GRADING_BUILD, ignore_errors=True)

    def verify(self, exercise: Exercise, output: str) -> str | None:
        # Catch2 ends with "All tests passed (N assertions in M test cases)"; zero cases also exit 0.
        match = _SUMMARY.search(output)
        if match is None:
            return "Catch2 printed no summary of passed tests"
        if int(match[1]) == 0:
            return "no Catch2 test case ran"
        return None

    @cached_property
    def packages(self) -> PackageProbe:
        """Each find_package call probed once for this runner's life."""
        return PackageProbe(self.env)

    async def dependencies(self, exercise: Exercise) -> Dependencies:
        cmakelists = exercise.path / "CMakeLists.txt"
        packages = required_packages(cmakelists.read_text(encoding="utf-8")) if cmakelists.is_file() else []
        return Dependencies(missing=await self.packages.missing(packages), declared=tuple(packages))
