"""C++ libraries: the packages CMakeLists.txt requires unconditionally (`find_package(Boost REQUIRED
COMPONENTS date_time)`), each probed once with a configure of that call alone."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from agent.bench.dependencies.command import run_tool

PROBE_TIMEOUT = 120.0
_COMMENTS = re.compile(r"#[^\n]*")
_COMMAND = re.compile(r"\b(if|elseif|else|endif|find_package)\s*\(([^)]*)\)", re.IGNORECASE)
# CMake's keywords of find_package; what follows COMPONENTS (up to the next keyword) are components.
_KEYWORDS = frozenset({"EXACT", "QUIET", "MODULE", "CONFIG", "NO_MODULE", "REQUIRED", "COMPONENTS",
                       "OPTIONAL_COMPONENTS", "GLOBAL", "NO_POLICY_SCOPE", "BYPASS_PROVIDER", "NAMES", "HINTS",
                       "PATHS", "PATH_SUFFIXES", "CONFIGS", "REGISTRY_VIEW"})
# The Debian packages that provide the packages exercises ask for.
DEBIAN = {"Threads": "libc6-dev", "TBB": "libtbb-dev", "Catch2": "catch2", "GTest": "libgtest-dev",
          "Boost": "libboost-dev"}


def required_packages(text: str) -> list[str]:
    """The arguments of each `find_package(... REQUIRED ...)` outside any if() block: a call inside one
    depends on a configuration grading does not choose (Catch2 under EXERCISM_TEST_SUITE)."""
    depth = 0
    found: list[str] = []
    for command, args in _COMMAND.findall(_COMMENTS.sub("", text)):
        command = command.lower()
        if command == "if":
            depth += 1
        elif command == "endif":
            depth = max(depth - 1, 0)
        elif command == "find_package" and depth == 0 and "REQUIRED" in args.split():
            found.append(" ".join(args.split()))
    return list(dict.fromkeys(found))


def describe(args: str) -> str:
    """`Boost 1.58 REQUIRED COMPONENTS date_time` -> "Boost date_time (Debian: libboost-date-time-dev)"."""
    words = args.split()
    package = words[0]
    components: list[str] = []
    if "COMPONENTS" in words:
        for word in words[words.index("COMPONENTS") + 1:]:
            if word in _KEYWORDS:
                break
            components.append(word)
    if package == "Boost" and components:
        debian = ", ".join(f"libboost-{c.replace('_', '-')}-dev" for c in components)
    else:
        debian = DEBIAN.get(package, "")
    name = " ".join([package, *components])
    return f"{name} (Debian: {debian})" if debian else name


class PackageProbe:
    """Whether each find_package call resolves here, probed once per call for the runner's life."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self._found: dict[str, bool] = {}

    async def missing(self, packages: list[str]) -> str | None:
        """The `required_packages` that cannot be found here, named, or None."""
        absent = [describe(args) for args in packages if not await self.found(args)]
        return f"CMake cannot find {'; '.join(absent)}" if absent else None

    async def found(self, args: str) -> bool:
        if args not in self._found:
            with tempfile.TemporaryDirectory(prefix="little-coder-cmake-") as tmp:
                source = Path(tmp)
                (source / "CMakeLists.txt").write_text(
                    f"cmake_minimum_required(VERSION 3.14)\nproject(probe CXX)\nfind_package({args})\n",
                    encoding="utf-8")
                result = await run_tool(["cmake", "-S", str(source), "-B", str(source / "build")], source,
                                        self.environ, PROBE_TIMEOUT)
            self._found[args] = result.exit_code == 0
        return self._found[args]
