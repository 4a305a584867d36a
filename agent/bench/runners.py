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

import importlib.util
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

DEFAULT_CACHE = Path("~/.cache/little-coder")
JUNIT_CONSOLE = "junit-platform-console-standalone.jar"
# Compile- and run-time jars for JUnit 5 and JUnit 4 tests with AssertJ or Hamcrest (Debian names).
JAVA_LIBS = (
    "junit-jupiter-api.jar",
    "junit-jupiter-params.jar",
    "apiguardian-api.jar",
    "opentest4j.jar",
    "assertj-core.jar",
    "junit4.jar",
    "hamcrest.jar",
)
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
        base = dict(os.environ if environ is None else environ)
        self.env = {**base, **self.extra_env()}

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
        """Environment of this copy's grading commands."""
        return self.env

    @abstractmethod
    def agent_command(self, exercise: Exercise) -> str:
        """A command the agent can run in its copy to see the tests' verdict."""

    @abstractmethod
    def steps(self, exercise: Exercise, root: Path, scratch: Path) -> list[tuple[str, list[str]]]:
        """(label, argv) to run in order in `root`; the first failure fails the grade."""

    def verify(self, exercise: Exercise, output: str) -> str | None:
        """A reason not to trust a passing run, or None."""
        return None

    # --- grading ----------------------------------------------------------------------------------

    async def grade(self, exercise: Exercise, root: Path, scratch: Path, limits: Limits) -> Grade:
        """Run the tests of the copy at `root`; `scratch` holds build output outside the copy."""
        self.setup(root)
        scratch.mkdir(parents=True, exist_ok=True)
        budget = limits.test_timeout or self.default_timeout
        started = time.monotonic()
        parts: list[str] = []
        env = self.grading_env(root, scratch)
        for label, argv in self.steps(exercise, root, scratch):
            remaining = budget - (time.monotonic() - started)
            command = shlex.join(argv)
            parts.append("$ " + command.replace(f"{root}/", "").replace(str(root), "."))  # as the agent sees it
            if remaining <= 0:
                parts.append(f"[not run: the tests' {budget:g} s were used up]")
                return self._grade(False, parts, started, timed_out=True, step=label)
            # One stream, in the order it was written.
            run = await run_limited(command + " 2>&1", root, timeout=remaining, env=env,
                                    max_output=limits.max_output, memory_mb=limits.memory_mb)
            result = run.result
            parts += [t.rstrip("\n") for t in (result.stdout, result.stderr) if t.strip()]
            if run.memory_exceeded:
                parts.append(f"[killed: the tests used more than {limits.memory_mb} MB of memory]")
                return self._grade(False, parts, started, exit_code=result.exit_code, memory=True, step=label)
            if result.timed_out:
                parts.append(f"[killed: the tests ran longer than {budget:g} s]")
                return self._grade(False, parts, started, timed_out=True, step=label)
            if result.exit_code != 0:
                return self._grade(False, parts, started, exit_code=result.exit_code, step=label)
        output = "\n".join(parts)
        distrust = self.verify(exercise, output)
        if distrust:
            parts.append(f"[not counted as a pass: {distrust}]")
            return self._grade(False, parts, started, exit_code=0, step="verify")
        return self._grade(True, parts, started, exit_code=0)

    @staticmethod
    def _grade(passed: bool, parts: list[str], started: float, *, exit_code: int | None = None,
               timed_out: bool = False, memory: bool = False, step: str | None = None) -> Grade:
        return Grade(passed=passed, exit_code=exit_code, timed_out=timed_out, memory_exceeded=memory,
                     duration_s=round(time.monotonic() - started, 3), failed_step=None if passed else step,
                     output="\n".join(parts))


class PythonRunner(Runner):
    language = "python"
    default_timeout = 60.0
    programs = ()

    def extra_env(self) -> dict[str, str]:
        # Plugins installed beside the harness (asyncio, hypothesis...) have no business in an exercise.
        return {"PYTHONDONTWRITEBYTECODE": "1", "PY_COLORS": "0", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}

    def missing(self) -> str | None:
        python = self.toolchains.python
        if not Path(python).is_file():
            return f"python interpreter {python} not found"
        if python == sys.executable and importlib.util.find_spec("pytest") is None:
            return f"pytest is not installed for {python} (pip install pytest)"
        return None

    def agent_command(self, exercise: Exercise) -> str:
        return "python -m pytest -q " + " ".join(shlex.quote(t) for t in exercise.test)

    def steps(self, exercise: Exercise, root: Path, scratch: Path) -> list[tuple[str, list[str]]]:
        # -P keeps the copy off sys.path for pytest's own import (no shadowing pytest.py or
        # sitecustomize.py); --noconftest and our empty ini ignore any configuration the agent added.
        ini = scratch / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        return [("test", [self.toolchains.python, "-P", "-m", "pytest", "-q", "--tb=short", "-p", "no:cacheprovider",
                          "--noconftest", "-c", str(ini), "--rootdir", str(root), *exercise.test])]


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

    def steps(self, exercise: Exercise, root: Path, scratch: Path) -> list[tuple[str, list[str]]]:
        return [("test", ["go", "test", "-count=1", "./..."])]


class RustRunner(Runner):
    language = "rust"
    default_timeout = 180.0
    programs = ("cargo",)

    def extra_env(self) -> dict[str, str]:
        return {"CARGO_TERM_COLOR": "never", "CARGO_NET_OFFLINE": "true"}

    def intruder(self, rel: str) -> bool:
        return rel.startswith("tests/")

    def agent_command(self, exercise: Exercise) -> str:
        return "cargo test --offline -- --include-ignored"

    def steps(self, exercise: Exercise, root: Path, scratch: Path) -> list[tuple[str, list[str]]]:
        return [("test", ["cargo", "test", "--offline", "--target-dir", str(scratch / "target"), "--",
                          "--include-ignored"])]

    def verify(self, exercise: Exercise, output: str) -> str | None:
        # An edited Cargo.toml (autotests = false) can make `cargo test` pass without running the tests.
        for rel in exercise.test:
            if rel.endswith(".rs") and f"Running {rel}" not in output:
                return f"cargo never ran {rel}"
        return None


class JavaScriptRunner(Runner):
    language = "javascript"
    default_timeout = 120.0
    programs = ("node",)

    def extra_env(self) -> dict[str, str]:
        return {"CI": "true", "FORCE_COLOR": "0", "NO_COLOR": "1"}

    @property
    def jest(self) -> Path:
        return self.toolchains.jest_modules / "jest" / "bin" / "jest.js"

    def missing(self) -> str | None:
        reason = super().missing()
        if reason is None and not self.jest.is_file():
            reason = f"jest is not installed in {self.toolchains.jest_modules} ({DEPS_HINT})"
        return reason

    def support_files(self, root: Path) -> list[str]:
        return [n for n in ("package.json", "babel.config.js", ".babelrc") if (root / n).is_file()]

    def intruder(self, rel: str) -> bool:
        name = rel.rsplit("/", 1)[-1]
        return name.startswith(("jest.config.", "babel.config.", ".babelrc"))

    def shared_folders(self) -> dict[str, Path]:
        # Babel resolves the exercise's preset from the copy, so the shared modules must appear there.
        return {"node_modules": self.toolchains.jest_modules}

    def agent_command(self, exercise: Exercise) -> str:
        return "npx jest " + " ".join(shlex.quote(t) for t in exercise.test)

    def steps(self, exercise: Exercise, root: Path, scratch: Path) -> list[tuple[str, list[str]]]:
        cache = self.toolchains.cache_dir / "jest" / "cache"
        return [("test", ["node", str(self.jest), "--ci", "--runInBand", "--watchman=false", "--cacheDirectory",
                          str(cache), "--rootDir", str(root), "--runTestsByPath", *exercise.test])]


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

    def steps(self, exercise: Exercise, root: Path, scratch: Path) -> list[tuple[str, list[str]]]:
        # The Exercism CMakeLists runs the test binary as part of the build; the build folder lives
        # outside the copy and is kept between attempts so only changed sources recompile.
        build = scratch / "build"
        configure = ["cmake", "-S", str(root), "-B", str(build), "-DEXERCISM_RUN_ALL_TESTS=ON",
                     "-DCMAKE_BUILD_TYPE=Debug"]
        if self.which("ccache"):
            configure.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
        return [("configure", configure), ("build", ["cmake", "--build", str(build), "--parallel", "2"])]


class JavaRunner(Runner):
    language = "java"
    default_timeout = 180.0
    programs = ("javac", "java")

    @property
    def console(self) -> Path:
        return self.toolchains.java_libs / JUNIT_CONSOLE

    def missing(self) -> str | None:
        reason = super().missing()
        if reason is None and not self.console.is_file():
            reason = f"the JUnit console launcher {self.console} is missing ({DEPS_HINT})"
        return reason

    def classpath(self, *extra: Path | str) -> str:
        # Libraries first, so a class in the copy cannot stand in for JUnit's own.
        jars = [str(self.toolchains.java_libs / n) for n in JAVA_LIBS if (self.toolchains.java_libs / n).is_file()]
        return os.pathsep.join([*jars, *map(str, extra)])

    @staticmethod
    def test_classes(exercise: Exercise) -> list[str]:
        prefix = "src/test/java/"
        return [t[len(prefix):-len(".java")].replace("/", ".") for t in exercise.test
                if t.startswith(prefix) and t.endswith(".java")]

    def agent_command(self, exercise: Exercise) -> str:
        tests = " ".join(shlex.quote(t) for t in exercise.test if t.endswith(".java"))
        selects = " ".join(f"--select-class {c}" for c in self.test_classes(exercise))
        return (f"javac -d build/classes -cp {self.classpath()} -sourcepath src/main/java:src/test/java {tests} && "
                f"java -jar {self.console} --disable-banner -cp {self.classpath('build/classes')} {selects}")

    def steps(self, exercise: Exercise, root: Path, scratch: Path) -> list[tuple[str, list[str]]]:
        out = scratch / "java"
        shutil.rmtree(out, ignore_errors=True)  # no class from an earlier attempt survives
        main = sorted(p.relative_to(root).as_posix() for p in (root / "src/main/java").rglob("*.java"))
        tests = sorted(p.relative_to(root).as_posix() for p in (root / "src/test/java").rglob("*.java"))
        javac = ["javac", "-encoding", "UTF-8", "-nowarn"]
        steps: list[tuple[str, list[str]]] = []
        if main:
            steps.append(("compile", [*javac, "-d", str(out / "classes"), "-cp", self.classpath(), *main]))
        steps.append(("compile tests", [*javac, "-d", str(out / "test-classes"),
                                        "-cp", self.classpath(out / "classes"), *tests]))
        resources = [root / "src/main/resources", root / "src/test/resources"]
        run_cp = self.classpath(out / "classes", out / "test-classes", *(r for r in resources if r.is_dir()))
        selects = [arg for c in self.test_classes(exercise) for arg in ("--select-class", c)]
        steps.append(("test", ["java", "-jar", str(self.console), "--disable-banner", "--disable-ansi-colors",
                               "--details=tree", "--fail-if-no-tests", "-cp", run_cp, *selects]))
        return steps


RUNNERS: dict[str, type[Runner]] = {
    cls.language: cls for cls in (PythonRunner, GoRunner, RustRunner, JavaScriptRunner, CppRunner, JavaRunner)
}


def make_runners(toolchains: Toolchains, environ: Mapping[str, str] | None = None) -> dict[str, Runner]:
    return {language: cls(toolchains, environ) for language, cls in RUNNERS.items()}
