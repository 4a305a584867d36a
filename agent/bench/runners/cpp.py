"""C++: the exercise's own CMakeLists with every test switched on; building runs the tests."""

from __future__ import annotations

import os
from pathlib import Path

from agent.bench.exercises import Exercise
from agent.bench.runners.base import Dependencies, Runner


class CppRunner(Runner):
    language = "cpp"
    default_timeout = 240.0
    programs = ("cmake", "make", "c++")

    def extra_env(self) -> dict[str, str]:
        # Each build compiles Catch2's main and the test file (seconds each); ccache keeps them.
        return {"CCACHE_DIR": str(self.toolchains.cache_dir / "ccache"), "CCACHE_NOHASHDIR": "true"}

    def grading_env(self, root: Path, scratch: Path) -> dict[str, str]:
        # Paths below the base dir are hashed relative to the build folder, so the next copy of this
        # exercise, in another temporary folder, hits the cache.
        base = os.path.commonpath([root, scratch])
        return {**self.env, "CCACHE_BASEDIR": base}

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
        # The Exercism CMakeLists runs the test binary as part of the build; the build folder lives
        # outside the copy and is kept between attempts so only changed sources recompile.
        build = scratch / "build"
        configure = ["cmake", "-S", str(root), "-B", str(build), "-DEXERCISM_RUN_ALL_TESTS=ON",
                     "-DCMAKE_BUILD_TYPE=Debug"]
        if self.which("ccache"):
            configure.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
        return [("configure", configure), ("build", ["cmake", "--build", str(build), "--parallel", "2"])]
