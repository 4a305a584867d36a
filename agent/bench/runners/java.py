"""Java: javac and the JUnit console launcher (Gradle cannot download itself here)."""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

from agent.bench.exercises import Exercise
from agent.bench.runners.base import DEPS_HINT, Dependencies, Runner

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

    def steps(self, exercise: Exercise, root: Path, scratch: Path,
              deps: Dependencies) -> list[tuple[str, list[str]]]:
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
