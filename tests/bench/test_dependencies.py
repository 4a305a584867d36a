"""Each exercise's own build files decide what is fetched before the agent starts (crates.io, Maven
Central, Debian's Boost), and the reference solution is then graded with no network; what cannot be had
comes back as `missing`, naming it."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path
from typing import TypeVar

import pytest

from agent.bench.dependencies.cargo import declared, manifest_crates
from agent.bench.dependencies.cmake import describe, required_packages
from agent.bench.dependencies.maven import Artifact, read_gradle
from agent.bench.exercises import Exercise, load_exercise
from agent.bench.prepare import prepare
from agent.bench.runners import CppRunner, JavaRunner, Limits, Runner, RustRunner, Toolchains
from tests.bench.conftest import EXERCISES
from tests.bench.script import solution_files

# A registry that refuses at once: the fetch fails fast, as it would with no network.
DEAD = "http://127.0.0.1:9"
FAST = 30.0
R = TypeVar("R", bound=Runner)


def _exercise(language: str, name: str) -> Exercise:
    return load_exercise(language, EXERCISES / language / "exercises" / "practice" / name)  # type: ignore[arg-type]


def _runner(cls: type[R], toolchains: Toolchains | None = None, environ: dict[str, str] | None = None) -> R:
    runner = cls(toolchains or Toolchains.default(), environ)
    if (reason := runner.missing()) is not None:
        pytest.skip(reason)
    return runner


def _variant(exercise: Exercise, tmp: Path, name: str = "") -> Exercise:
    """A copy of `exercise` under another name, to change its build files."""
    target = tmp / exercise.language / "exercises" / "practice" / (name or exercise.name)
    shutil.copytree(exercise.path, target)
    return load_exercise(exercise.language, target)


async def _grade_reference(runner: Runner, exercise: Exercise, tmp: Path) -> str:
    deps = await runner.dependencies(exercise)
    assert deps.missing is None, deps.missing
    root = tmp / "copy" / exercise.name
    prepare(exercise, root)
    for path, text in solution_files(exercise, "example").items():
        (root / path).write_text(text)
    grade = await runner.grade(exercise, root, tmp / "scratch", Limits(), deps)
    assert grade.passed, grade.output[-3000:]
    return grade.output


# --- the readers ------------------------------------------------------------------------------------


def test_build_gradle_declarations() -> None:
    text = """
    buildscript { dependencies { classpath "com.example:plugin:1.0" } }
    dependencies {
        implementation "io.reactivex.rxjava2:rxjava:2.2.12"
        implementation('org.json:json:20190722')  // a comment
        // testImplementation "commented:out:1"
        /* api "also:commented:2" */
        testImplementation platform("org.junit:junit-bom:5.10.0")
        testImplementation "org.junit.jupiter:junit-jupiter"
        testRuntimeOnly "org.junit.platform:junit-platform-launcher"
        compileOnly "org.projectlombok:lombok:1.18.30"
    }
    """
    found = read_gradle(text)
    assert found.declared() == ("platform(org.junit:junit-bom:5.10.0)", "io.reactivex.rxjava2:rxjava:2.2.12",
                                "org.json:json:20190722", "org.junit.jupiter:junit-jupiter",
                                "org.junit.platform:junit-platform-launcher", "org.projectlombok:lombok:1.18.30")
    assert found.launcher_boms() == found.boms  # the declared JUnit BOM manages the launcher
    assert "<scope>import</scope>" in found.pom() and "junit-platform-console" in found.pom()
    assert read_gradle("plugins { id 'java' }").declared() == ()
    # No BOM: the launcher follows a declared Jupiter version.
    bare = read_gradle('testImplementation "org.junit.jupiter:junit-jupiter:5.9.3"')
    assert bare.launcher_boms() == (Artifact(group="org.junit", name="junit-bom", version="5.9.3"),)
    assert bare.key() != found.key() and bare.key() == read_gradle(
        "testImplementation 'org.junit.jupiter:junit-jupiter:5.9.3'").key()
    assert "junit-vintage-engine" not in found.pom()
    assert "junit-vintage-engine" in read_gradle('testImplementation "junit:junit:4.13.2"').pom()


def test_cargo_manifest_crates() -> None:
    stub = '[package]\nname = "grep"\nversion = "1.3.0"\n[dependencies]\nanyhow = "1.0"\n'
    example = (stub + 'thiserror = { version = "1.0", default-features = false }\n'
               'rng = { package = "rand", version = "0.8" }\n[dev-dependencies]\nitoa = "1"\n'
               '[target.\'cfg(unix)\'.dependencies]\nlibc = "0.2"\n[lints.clippy]\nnew_without_default = "allow"\n')
    assert manifest_crates(stub) == {"anyhow": "1.0"}
    assert manifest_crates(example) == {"anyhow": "1.0", "thiserror": "1.0", "rand": "0.8", "itoa": "1",
                                        "libc": "0.2"}
    assert declared([stub, example]) == ["anyhow 1.0", "itoa 1", "libc 0.2", "rand 0.8", "thiserror 1.0"]
    assert manifest_crates('[package]\nname = "gcd"\n') == {}


def test_cmake_required_packages() -> None:
    text = """
    find_package(Boost 1.58 REQUIRED
                 COMPONENTS date_time)  # spans two lines
    find_package(TBB)
    if(EXERCISM_COMMON_CATCH)
        add_executable(x x.cpp)
    elseif(EXERCISM_TEST_SUITE)
        find_package(Catch2 REQUIRED)
    else()
        add_executable(x x.cpp test/tests-main.cpp)
    endif()
    if("${CMAKE_CXX_COMPILER_ID}" MATCHES "(GNU|Clang)")
        set(flags -Wall)
    endif()
    find_package(Threads REQUIRED)
    """
    assert required_packages(text) == ["Boost 1.58 REQUIRED COMPONENTS date_time", "Threads REQUIRED"]
    assert describe("Boost 1.58 REQUIRED COMPONENTS date_time") == "Boost date_time (Debian: libboost-date-time-dev)"
    assert describe("Threads REQUIRED") == "Threads (Debian: libc6-dev)"
    assert describe("Frobnicate REQUIRED") == "Frobnicate"


# --- fetched once, graded offline --------------------------------------------------------------------


@pytest.mark.slow
async def test_rust_crates_of_the_reference_manifest_are_fetched_and_graded_offline(tmp_path: Path) -> None:
    # A cache of its own: the crate really comes from crates.io here.
    toolchains = Toolchains(cache_dir=tmp_path / "cache", jest_modules=tmp_path / "jest")
    runner = _runner(RustRunner, toolchains)
    exercise = _exercise("rust", "zero-pad")
    # Two exercises fetching into the same empty CARGO_HOME at once: cargo's lock keeps it whole.
    deps, twin = await asyncio.gather(runner.dependencies(exercise), runner.dependencies(exercise))
    assert deps == twin and deps.missing is None and deps.declared == ("itoa 1",)
    assert deps.env["CARGO_HOME"] == str(tmp_path / "cache" / "cargo")
    assert list((tmp_path / "cache" / "cargo" / "registry" / "cache").rglob("itoa-*.crate"))
    started = time.monotonic()
    assert await runner.dependencies(exercise) == deps  # already there: no network, no time
    assert time.monotonic() - started < 5
    output = await _grade_reference(runner, exercise, tmp_path)
    assert "zeros_in_front ... ok" in output
    # An exercise whose manifests declare no crate needs nothing.
    assert (await runner.dependencies(_exercise("rust", "gcd"))).env == {}


@pytest.mark.slow
async def test_a_crate_that_cannot_be_fetched_is_missing(tmp_path: Path) -> None:
    exercise = _variant(_exercise("rust", "zero-pad"), tmp_path)
    example = exercise.path / ".meta" / "Cargo-example.toml"
    example.write_text(example.read_text().replace('itoa = "1"', 'itoa = "=999.0.0"'))
    deps = await _runner(RustRunner).dependencies(exercise)
    assert deps.missing and deps.missing.startswith("crate itoa is not in the offline cache"), deps.missing
    assert "999" in deps.missing

    started = time.monotonic()
    offline = _runner(RustRunner, Toolchains(cache_dir=tmp_path / "empty", jest_modules=tmp_path / "jest"),
                      {**os.environ, "HTTPS_PROXY": DEAD, "https_proxy": DEAD, "CARGO_NET_RETRY": "0"})
    deps = await offline.dependencies(_exercise("rust", "zero-pad"))
    assert deps.missing and "crate itoa is not in the offline cache" in deps.missing, deps.missing
    assert time.monotonic() - started < FAST


@pytest.mark.slow
async def test_java_libraries_of_build_gradle_are_resolved_and_graded_offline(tmp_path: Path) -> None:
    runner = _runner(JavaRunner)
    exercise = _exercise("java", "shopping-list")
    deps = await runner.dependencies(exercise)
    assert deps.missing is None and "org.json:json:20231013" in deps.declared
    names = {jar.name for jar in deps.classpath}
    assert {"json-20231013.jar", "assertj-core-3.25.1.jar", "junit-platform-console-1.10.0.jar",
            "junit-jupiter-engine-5.10.0.jar"} <= names
    assert all(jar.is_relative_to(runner.repository) for jar in deps.classpath)
    started = time.monotonic()
    assert await runner.dependencies(exercise) == deps  # recorded: a file read, no Maven
    assert time.monotonic() - started < 1
    await _grade_reference(runner, exercise, tmp_path)


@pytest.mark.slow
async def test_an_artifact_that_cannot_be_resolved_is_missing(tmp_path: Path) -> None:
    exercise = _variant(_exercise("java", "shopping-list"), tmp_path)
    gradle = exercise.path / "build.gradle"
    gradle.write_text(gradle.read_text().replace("org.json:json:20231013", "org.json:json:1.0.404"))
    deps = await _runner(JavaRunner).dependencies(exercise)
    assert deps.missing and "org.json:json:1.0.404" in deps.missing and "could not be resolved" in deps.missing

    # No Maven Central: a user settings file whose mirror refuses every connection.
    home = tmp_path / "home"
    (home / ".m2").mkdir(parents=True)
    (home / ".m2" / "settings.xml").write_text(
        f"<settings><mirrors><mirror><id>dead</id><mirrorOf>*</mirrorOf><url>{DEAD}/</url></mirror></mirrors>"
        "</settings>\n")
    started = time.monotonic()
    offline = _runner(JavaRunner, Toolchains(cache_dir=tmp_path / "empty", jest_modules=tmp_path / "jest"),
                      {**os.environ, "MAVEN_OPTS": f"-Duser.home={home}"})
    deps = await offline.dependencies(_exercise("java", "shopping-list"))
    assert deps.missing and "org.json:json:20231013" in deps.missing and "could not be resolved" in deps.missing
    assert time.monotonic() - started < FAST


@pytest.mark.slow
async def test_boost_from_debian_is_found_and_graded(tmp_path: Path) -> None:
    runner = _runner(CppRunner)
    exercise = _exercise("cpp", "days-between")
    deps = await runner.dependencies(exercise)
    assert deps.declared == ("Boost REQUIRED COMPONENTS date_time",)
    if deps.missing is not None:
        pytest.skip(deps.missing)  # Boost is installed by scripts/deps/toolchains.sh
    output = await _grade_reference(runner, exercise, tmp_path)
    assert "All tests passed" in output


@pytest.mark.slow
async def test_a_package_cmake_cannot_find_is_missing(tmp_path: Path) -> None:
    runner = _runner(CppRunner)
    exercise = _variant(_exercise("cpp", "days-between"), tmp_path)
    cmakelists = exercise.path / "CMakeLists.txt"
    cmakelists.write_text(cmakelists.read_text().replace("COMPONENTS date_time", "COMPONENTS no_such_part")
                          + "find_package(NoSuchLibrary REQUIRED)\n")
    deps = await runner.dependencies(exercise)
    assert deps.missing == ("CMake cannot find Boost no_such_part (Debian: libboost-no-such-part-dev); "
                            "NoSuchLibrary"), deps.missing
    started = time.monotonic()
    assert (await runner.dependencies(exercise)).missing == deps.missing  # probed once per runner
    assert time.monotonic() - started < 0.5
