"""Java libraries: what build.gradle declares, resolved with its transitive dependencies from Maven
Central by Maven (Gradle cannot download itself here), plus the JUnit console launcher of the same JUnit
release. The jar list is recorded per declared set, so the next exercise declaring the same costs a
file read and needs no network."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import escape

from pydantic import BaseModel, ConfigDict

from agent.bench.dependencies.command import failure_reason, run_tool

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
# The JUnit release whose launcher runs the tests when build.gradle names no JUnit 5 version
# (the polyglot exercises' own).
DEFAULT_JUNIT = "5.10.0"
RESOLVE_TIMEOUT = 300.0
CONFIGURATIONS = ("implementation", "testImplementation", "api", "compileOnly", "testCompileOnly", "runtimeOnly",
                  "testRuntimeOnly")
_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)
# `testImplementation "g:a:v"`, `implementation('g:a')`, `testImplementation platform("g:a:v")`.
_DECLARATION = re.compile(
    r"^\s*(?:" + "|".join(CONFIGURATIONS) + r")\b\s*\(?\s*(?P<platform>(?:enforcedP|p)latform\s*\()?\s*"
    r"""["'](?P<coords>[^"':\s]+:[^"':\s]+(?::[^"'\s]+)?)["']""",
    re.MULTILINE,
)


class Artifact(BaseModel):
    model_config = ConfigDict(frozen=True)

    group: str
    name: str
    version: str | None = None  # None: managed by a declared BOM

    @classmethod
    def parse(cls, coords: str) -> Artifact:
        group, name, *version = coords.split(":")
        return cls(group=group, name=name, version=version[0] if version else None)

    def __str__(self) -> str:
        return ":".join(p for p in (self.group, self.name, self.version) if p)

    def xml(self, extra: str = "") -> str:
        version = f"<version>{escape(self.version)}</version>" if self.version else ""
        return (f"<dependency><groupId>{escape(self.group)}</groupId><artifactId>{escape(self.name)}</artifactId>"
                f"{version}{extra}</dependency>")


class GradleDependencies(BaseModel):
    """The dependency declarations of one build.gradle: BOMs (`platform(...)`) and artifacts."""

    model_config = ConfigDict(frozen=True)

    boms: tuple[Artifact, ...] = ()
    artifacts: tuple[Artifact, ...] = ()

    def declared(self) -> tuple[str, ...]:
        return (*(f"platform({b})" for b in self.boms), *map(str, self.artifacts))

    def launcher_boms(self) -> tuple[Artifact, ...]:
        """The BOMs the resolution imports: the declared ones, and a JUnit BOM when none is declared, at
        the release of a declared Jupiter artifact, so the launcher matches the tests' JUnit."""
        if any(b.group == "org.junit" and b.name == "junit-bom" for b in self.boms):
            return self.boms
        jupiter = next((a.version for a in self.artifacts if a.group == "org.junit.jupiter" and a.version), None)
        return (*self.boms, Artifact(group="org.junit", name="junit-bom", version=jupiter or DEFAULT_JUNIT))

    def pom(self) -> str:
        managed = "".join(b.xml("<type>pom</type><scope>import</scope>") for b in self.launcher_boms())
        launcher = [Artifact(group="org.junit.platform", name="junit-platform-console"),
                    Artifact(group="org.junit.jupiter", name="junit-jupiter-engine")]
        if any(a.group == "junit" and a.name == "junit" for a in self.artifacts):
            # JUnit 4 tests, which Gradle's own runner would run: on the platform they need this engine.
            launcher.append(Artifact(group="org.junit.vintage", name="junit-vintage-engine"))
        declared = {(a.group, a.name) for a in self.artifacts}
        added = [a for a in launcher if (a.group, a.name) not in declared]  # each artifact once
        wanted = "".join(a.xml() for a in (*self.artifacts, *added))
        return ('<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
                "<groupId>little-coder.bench</groupId><artifactId>exercise-dependencies</artifactId>"
                "<version>1</version><packaging>pom</packaging>"
                f"<dependencyManagement><dependencies>{managed}</dependencies></dependencyManagement>"
                f"<dependencies>{wanted}</dependencies></project>\n")

    def key(self) -> str:
        """Names the resolution: the declarations and how they are resolved."""
        return hashlib.sha256(f"{DEPENDENCY_PLUGIN}\n{self.pom()}".encode()).hexdigest()[:16]


def read_gradle(text: str) -> GradleDependencies:
    boms: list[Artifact] = []
    artifacts: list[Artifact] = []
    for match in _DECLARATION.finditer(_COMMENTS.sub("", text)):
        (boms if match["platform"] else artifacts).append(Artifact.parse(match["coords"]))
    return GradleDependencies(boms=tuple(dict.fromkeys(boms)), artifacts=tuple(dict.fromkeys(artifacts)))


class Resolution(BaseModel):
    jars: tuple[Path, ...] = ()
    missing: str | None = None


def recorded(declared: GradleDependencies, repository: Path) -> tuple[Path, ...] | None:
    """The jars an earlier resolution of the same declarations found, when all are still there."""
    record = _record(declared, repository)
    try:
        jars = tuple(Path(line) for line in record.read_text(encoding="utf-8").splitlines() if line)
    except OSError:
        return None
    return jars if jars and all(j.is_file() for j in jars) else None


async def resolve(declared: GradleDependencies, repository: Path, environ: Mapping[str, str]) -> Resolution:
    """The declared artifacts and the JUnit launcher, with everything they need, as jars in the local
    Maven `repository`; fetched from Maven Central the first time."""
    jars = recorded(declared, repository)
    if jars is not None:
        return Resolution(jars=jars)
    repository.mkdir(parents=True, exist_ok=True)
    # Maven 3.8 does not lock its local repository: one resolution at a time, across processes too.
    with (repository.parent / "resolve.lock").open("w") as lock:
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        jars = recorded(declared, repository)  # resolved meanwhile by whoever held the lock
        return Resolution(jars=jars) if jars is not None else await _resolve(declared, repository, environ)


async def _resolve(declared: GradleDependencies, repository: Path, environ: Mapping[str, str]) -> Resolution:
    with tempfile.TemporaryDirectory(prefix="little-coder-maven-") as tmp:
        project = Path(tmp)
        (project / "pom.xml").write_text(declared.pom(), encoding="utf-8")
        listing = project / "classpath.txt"
        result = await run_tool(["mvn", "--batch-mode", "--quiet", "--update-snapshots", "-Dstyle.color=never",
                                 f"-Dmaven.repo.local={repository}", f"{DEPENDENCY_PLUGIN}:build-classpath",
                                 f"-Dmdep.outputFile={listing}"], project, environ, RESOLVE_TIMEOUT)
        if result.exit_code != 0 or not listing.is_file():
            return Resolution(missing=f"Maven artifacts {', '.join(declared.declared())} could not be resolved "
                                      f"from Maven Central ({failure_reason(result, 'mvn')})")
        jars = tuple(Path(p) for p in listing.read_text(encoding="utf-8").strip().split(os.pathsep) if p)
    record = _record(declared, repository)
    record.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed, so an exercise resolving the same set at once never reads half a list.
    with tempfile.NamedTemporaryFile("w", dir=record.parent, delete=False, encoding="utf-8") as part:
        part.write("".join(f"{j}\n" for j in jars))
    os.chmod(part.name, 0o644)  # readable like the jars it lists
    os.replace(part.name, record)
    return Resolution(jars=jars)


def _record(declared: GradleDependencies, repository: Path) -> Path:
    return repository.parent / "classpaths" / f"{declared.key()}.txt"
