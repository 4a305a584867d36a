"""Java runs every test class under src/test/java, as `gradle test` does, not only those the exercise's
config names, and a run in which no test (or not every test class) ran is no pass."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from agent.bash_policy import check
from agent.bench.exercises import Exercise, load_exercise
from agent.bench.prepare import prepare
from agent.bench.runners import Dependencies, JavaRunner, Limits, Toolchains
from agent.bench.runners.java import JUNIT_CONSOLE, jdk_home
from agent.process import run_command
from tests.bench.conftest import EXERCISES
from tests.bench.script import solution_files

PRACTICE = EXERCISES / "java" / "exercises" / "practice"


@pytest.fixture
async def java() -> tuple[JavaRunner, Exercise, Dependencies]:
    runner = JavaRunner(Toolchains.default())
    if (reason := runner.missing()) is not None:
        pytest.skip(reason)
    exercise = load_exercise("java", PRACTICE / "shopping-list")
    deps = await runner.dependencies(exercise)
    assert deps.missing is None, deps.missing
    return runner, exercise, deps


def _copy(exercise: Exercise, tmp: Path, variant: str = "example") -> Path:
    root = tmp / "copy" / exercise.name
    prepare(exercise, root)
    for path, text in solution_files(exercise, variant).items():
        (root / path).write_text(text)
    return root


@pytest.mark.slow
async def test_every_test_class_runs_not_only_the_configured_one(
        java: tuple[JavaRunner, Exercise, Dependencies], tmp_path: Path) -> None:
    runner, exercise, deps = java
    assert exercise.test == ("src/test/java/ShoppingListTest.java",)  # NewItemTest is not named
    grade = await runner.grade(exercise, _copy(exercise, tmp_path), tmp_path / "scratch", Limits(), deps)
    assert grade.passed, grade.output[-3000:]
    assert "-- ShoppingListTest [OK]" in grade.output and "-- NewItemTest [OK]" in grade.output
    assert re.search(r"\[\s+4 tests successful", grade.output)


@pytest.mark.slow
async def test_a_test_class_that_never_ran_is_no_pass(
        java: tuple[JavaRunner, Exercise, Dependencies], tmp_path: Path) -> None:
    runner, exercise, deps = java
    root = _copy(exercise, tmp_path)
    (root / "src/test/java/NewItemTest.java").unlink()  # as if the agent had removed it
    grade = await runner.grade(exercise, root, tmp_path / "scratch", Limits(), deps)
    assert not grade.passed and grade.failed_step == "verify"
    assert "[not counted as a pass: the test class NewItemTest never ran]" in grade.output


@pytest.mark.slow
async def test_a_test_tree_without_a_test_that_runs_is_no_pass(
        java: tuple[JavaRunner, Exercise, Dependencies], tmp_path: Path) -> None:
    runner, exercise, deps = java
    # Every test skipped: the launcher exits 0 having run nothing.
    skipped = tmp_path / "java" / "exercises" / "practice" / "all-skipped"
    shutil.copytree(exercise.path, skipped)
    (skipped / "src/test/java/NewItemTest.java").unlink()
    test = skipped / "src/test/java/ShoppingListTest.java"
    test.write_text("import org.junit.jupiter.api.*;\n\npublic class ShoppingListTest {\n"
                    '    @Disabled("skipped") @Test public void skipped() {}\n}\n')
    exercise = load_exercise("java", skipped)
    root = tmp_path / "copy" / "all-skipped"
    shutil.copytree(skipped, root, ignore=shutil.ignore_patterns(".meta"))
    grade = await runner.grade(exercise, root, tmp_path / "scratch", Limits(), deps)
    assert not grade.passed and grade.failed_step == "verify", grade.output[-2000:]
    assert "no Java test ran" in grade.output

    # No test at all: the launcher itself fails the run.
    test.write_text("public class ShoppingListTest {\n}\n")
    (root / "src/test/java/ShoppingListTest.java").write_text(test.read_text())
    grade = await runner.grade(exercise, root, tmp_path / "scratch", Limits(), deps)
    assert not grade.passed and grade.failed_step == "test"


@pytest.mark.slow
async def test_the_agents_command_uses_the_same_jars_and_classes(
        java: tuple[JavaRunner, Exercise, Dependencies], tmp_path: Path) -> None:
    runner, exercise, deps = java
    command = runner.agent_command(exercise)
    assert check(command, "allowlist", []).allowed
    assert all(str(jar) in command for jar in deps.classpath)
    root = _copy(exercise, tmp_path, "wrong")
    wrong = await run_command(command, root, timeout=120, env=runner.env)
    assert wrong.exit_code not in (0, None)
    for path, text in solution_files(exercise, "example").items():
        (root / path).write_text(text)
    right = await run_command(command, root, timeout=120, env=runner.env)
    assert right.exit_code == 0, right.stdout[-2000:] + right.stderr[-2000:]
    assert "NewItemTest" in right.stdout


@pytest.mark.slow
async def test_build_gradle_that_declares_nothing_gets_debians_jars(tmp_path: Path) -> None:
    runner = JavaRunner(Toolchains.default())
    if not (runner.toolchains.java_libs / JUNIT_CONSOLE).is_file():
        pytest.skip(f"Debian's {JUNIT_CONSOLE} is not installed")
    bare = tmp_path / "java" / "exercises" / "practice" / "max-span"
    shutil.copytree(PRACTICE / "max-span", bare)
    (bare / "build.gradle").write_text("plugins {\n    id 'java'\n}\n")
    exercise = load_exercise("java", bare)
    deps = await runner.dependencies(exercise)
    assert deps.missing is None and deps.declared == () and deps.classpath == runner.debian_jars()
    grade = await runner.grade(exercise, _copy(exercise, tmp_path), tmp_path / "scratch", Limits(), deps)
    assert grade.passed, grade.output[-3000:]


def test_a_jdk_21_beside_the_default_is_found(tmp_path: Path) -> None:
    for name, version, javac in (("java-17-openjdk", "17.0.15", True), ("jre-21", "21.0.2", False),
                                 ("temurin-21-jdk", "21.0.2", True), ("empty", "", False)):
        home = tmp_path / name
        (home / "bin").mkdir(parents=True)
        if version:
            (home / "release").write_text(f'IMPLEMENTOR="x"\nJAVA_VERSION="{version}"\n')
        if javac:
            (home / "bin" / "javac").write_text("")
    assert jdk_home(tmp_path, 21) == tmp_path / "temurin-21-jdk"
    assert jdk_home(tmp_path, 11) is None
