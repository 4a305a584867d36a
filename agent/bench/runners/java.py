"""Java: javac and the JUnit console launcher on the libraries build.gradle declares, resolved from Maven
Central (Gradle cannot download itself here); like `gradle test`, every test class runs."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

from agent.bench.dependencies.maven import GradleDependencies, read_gradle, recorded, resolve
from agent.bench.exercises import Exercise
from agent.bench.runners.base import DEPS_HINT, Dependencies, Runner

JUNIT_CONSOLE = "junit-platform-console-standalone.jar"
LAUNCHER = "org.junit.platform.console.ConsoleLauncher"
# Debian's jars for an exercise whose build.gradle declares nothing: JUnit 5 and 4, AssertJ, Hamcrest.
JAVA_LIBS = (
    "junit-jupiter-api.jar",
    "junit-jupiter-params.jar",
    "apiguardian-api.jar",
    "opentest4j.jar",
    "assertj-core.jar",
    "junit4.jar",
    "hamcrest.jar",
)
# Gradle runs every class with tests; the launcher's default pattern would skip `Tree` or `TreeSpec`.
EVERY_CLASS = ".*"
_CONSOLE_VERSION = re.compile(r"junit-platform-console(?:-standalone)?-(\d+)\.(\d+)")
_TEST_ANNOTATION = re.compile(r"@(?:Test|ParameterizedTest|RepeatedTest|TestFactory|TestTemplate)\b")
_SUCCESSFUL = re.compile(r"\[\s*(\d+) tests successful\s*\]")
# Aider's benchmark image grades Java on JDK 21: one installed beside the default is preferred.
AIDER_JDK = 21
JVM_DIR = Path("/usr/lib/jvm")
_JAVA_VERSION = re.compile(r'^JAVA_VERSION="(\d+)', re.MULTILINE)


class JavaRunner(Runner):
    language = "java"
    default_timeout = 180.0
    programs = ("javac", "java", "mvn")

    def extra_env(self) -> dict[str, str]:
        jdk = jdk_home(JVM_DIR, AIDER_JDK)
        if jdk is None:
            return {}
        return {"JAVA_HOME": str(jdk), "PATH": os.pathsep.join([str(jdk / "bin"), self.base_env.get("PATH", "")])}

    def version_commands(self) -> list[list[str]]:
        return [["javac", "-version"], ["java", "-version"]]

    @property
    def repository(self) -> Path:
        """The local Maven repository the declared libraries are resolved into."""
        return self.toolchains.cache_dir / "maven" / "repository"

    @staticmethod
    def declarations(exercise: Exercise) -> GradleDependencies:
        gradle = exercise.path / "build.gradle"
        return read_gradle(gradle.read_text(encoding="utf-8")) if gradle.is_file() else GradleDependencies()

    def debian_jars(self) -> tuple[Path, ...]:
        libs = self.toolchains.java_libs
        return tuple(libs / n for n in (*JAVA_LIBS, JUNIT_CONSOLE) if (libs / n).is_file())

    def classpath_of(self, exercise: Exercise) -> tuple[Path, ...]:
        """The jars `dependencies()` gave this exercise (none before it ran)."""
        declared = self.declarations(exercise)
        if not declared.declared():
            return self.debian_jars()
        return recorded(declared, self.repository) or ()

    async def dependencies(self, exercise: Exercise) -> Dependencies:
        declared = self.declarations(exercise)
        if not declared.declared():
            console = self.toolchains.java_libs / JUNIT_CONSOLE
            if not console.is_file():
                return Dependencies(missing=f"build.gradle declares nothing and the JUnit console launcher "
                                            f"{console} is missing ({DEPS_HINT})")
            return Dependencies(classpath=self.debian_jars())
        resolution = await resolve(declared, self.repository, self.env)
        return Dependencies(missing=resolution.missing, classpath=resolution.jars, declared=declared.declared())

    def intruder(self, rel: str) -> bool:
        # Every class under src/test runs, so a new one could decide the verdict (and the ones the config
        # does not name are protected like tests).
        return rel.startswith("src/test/")

    @staticmethod
    def launcher(jars: tuple[Path, ...], classes: str) -> list[str]:
        """The console launcher, scanning `classes` for tests; with the `execute` subcommand where the
        release has one (1.10 on), which otherwise warns that it is implied."""
        versions = [(int(m[1]), int(m[2])) for j in jars if (m := _CONSOLE_VERSION.match(j.name))]
        subcommand = ["execute"] if versions and versions[0] >= (1, 10) else []
        return [LAUNCHER, *subcommand, "--disable-banner", "--scan-classpath", classes,
                "--include-classname", EVERY_CLASS]

    def agent_command(self, exercise: Exercise) -> str:
        jars = self.classpath_of(exercise)
        tests = sorted(p.relative_to(exercise.path).as_posix()
                       for p in (exercise.path / "src/test/java").rglob("*.java"))
        libs = os.pathsep.join(map(str, jars))
        run = shlex.join(["java", "-cp", os.pathsep.join([libs, "build/classes"]),
                          *self.launcher(jars, "build/classes")])
        return (f"javac -encoding UTF-8 -d build/classes -cp {shlex.quote(libs)} "
                f"-sourcepath src/main/java:src/test/java {' '.join(map(shlex.quote, tests))} && {run}")

    def steps(self, exercise: Exercise, root: Path, scratch: Path,
              deps: Dependencies) -> list[tuple[str, list[str]]]:
        out = scratch / "java"
        shutil.rmtree(out, ignore_errors=True)  # no class from an earlier attempt survives
        main = sorted(p.relative_to(root).as_posix() for p in (root / "src/main/java").rglob("*.java"))
        tests = sorted(p.relative_to(root).as_posix() for p in (root / "src/test/java").rglob("*.java"))
        # Libraries first, so a class in the copy cannot stand in for JUnit's own.
        libs = [str(j) for j in deps.classpath]
        javac = ["javac", "-encoding", "UTF-8", "-nowarn"]
        steps: list[tuple[str, list[str]]] = []
        if main:
            steps.append(("compile", [*javac, "-d", str(out / "classes"), "-cp", os.pathsep.join(libs), *main]))
        steps.append(("compile tests", [*javac, "-d", str(out / "test-classes"),
                                        "-cp", os.pathsep.join([*libs, str(out / "classes")]), *tests]))
        resources = [str(r) for r in (root / "src/main/resources", root / "src/test/resources") if r.is_dir()]
        run_cp = os.pathsep.join([*libs, str(out / "classes"), str(out / "test-classes"), *resources])
        steps.append(("test", ["java", "-cp", run_cp,
                               *self.launcher(deps.classpath, str(out / "test-classes")),
                               "--disable-ansi-colors", "--details=tree", "--details-theme=ascii",
                               "--fail-if-no-tests"]))
        return steps

    def verify(self, exercise: Exercise, output: str) -> str | None:
        successful = [int(n) for n in _SUCCESSFUL.findall(output)]
        if not successful or successful[-1] == 0:
            return "no Java test ran"
        for path in sorted((exercise.path / "src/test/java").rglob("*.java")):
            text = path.read_text(encoding="utf-8", errors="replace")
            if not _TEST_ANNOTATION.search(text):
                continue  # a helper, not a test class
            names = {path.stem, *_display_names(text, path.stem)}
            if not any(f"-- {name} [" in output for name in names):
                return f"the test class {path.stem} never ran"
        return None


def _display_names(text: str, class_name: str) -> list[str]:
    """A class's `@DisplayName`, which the launcher's tree shows instead of its name."""
    annotated = re.search(r'@DisplayName\(\s*"((?:[^"\\]|\\.)*)"\s*\)[^;{]*?\bclass\s+' + re.escape(class_name)
                          + r"\b", text)
    return [annotated[1]] if annotated else []


def jdk_home(jvm_dir: Path, major: int) -> Path | None:
    """A JDK of release `major` under `jvm_dir` (Debian's /usr/lib/jvm: one folder per JDK, each with
    a `release` file naming its version), or None."""
    for home in sorted(jvm_dir.glob("*")):
        try:
            release = (home / "release").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found = _JAVA_VERSION.search(release)
        if found and int(found[1]) == major and (home / "bin" / "javac").is_file():
            return home
    return None
