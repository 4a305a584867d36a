"""Grading itself, with real toolchains on small exercises written here: the graders run contained (no
network, nothing writable but the copy, caches read-only while the exercise's own code runs), files the
graders create are not the agent's test edits, a test file without tests is not a pass, and the output
the model sees carries no absolute path or timing.
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from agent.bench.exercises import Exercise, load_exercise
from agent.bench.output_clean import OutputCleaner
from agent.bench.runners import Dependencies, GoRunner, Limits, Toolchains, make_runners
from agent.bench.workcopy import Readiness, WorkCopy
from agent.sandbox import support

contained = pytest.mark.skipif(not support().available, reason="graders are contained only where a sandbox starts")


def _exercise(tree: Path, language: str, name: str, files: dict[str, str], solution: list[str],
              test: list[str]) -> Exercise:
    root = tree / language / "exercises" / "practice" / name
    for rel, text in {**files, ".docs/instructions.md": "Make the tests pass.\n"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / ".meta").mkdir(exist_ok=True)
    (root / ".meta/config.json").write_text(json.dumps({"files": {"solution": solution, "test": test}}))
    return load_exercise(language, root)  # type: ignore[arg-type]


async def _copy(exercise: Exercise, tmp_path: Path) -> WorkCopy:
    """The exercise's working copy with its language's real runner; skipped where that toolchain is missing."""
    runner = make_runners(Toolchains.default())[exercise.language]
    if runner.missing():
        pytest.skip(str(runner.missing()))
    return await WorkCopy.make(exercise, runner, tmp_path / "work")


def test_output_loses_machine_paths_and_timings(tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = tmp_path / "work" / "python-leap-x1" / "leap"
    clean = OutputCleaner(root=root, scratch=root.parent / "scratch", cache=home / ".cache" / "little-coder",
                          home=home)
    raw = "\n".join([
        f"{root}/leap.py:3: error: expected ';'",
        f"cd {root.parent / 'scratch'}/build && make",
        f"{home}/.cache/little-coder/go/build/ab/cd",
        f"{root}-2/other.py stays a path of another folder",
        f"{home}/.bashrc",
        "==== 1 failed, 3 passed in 0.12s ====",
        "--- FAIL: TestLeap (0.00s)",
        "FAIL\tleap\t0.004s",
        "test result: FAILED. 2 passed; 1 failed; finished in 0.03s",
        "Time:        1.234 s, estimated 2 s",
        "  ✓ adds (3 ms)",
        "Test run finished after 123 ms",
        "assert sleep(5) == '5 s'",
    ])
    assert clean(raw).splitlines() == [
        "leap.py:3: error: expected ';'",
        "cd <build>/build && make",
        "<cache>/go/build/ab/cd",
        f"{root}-2/other.py stays a path of another folder",
        "~/.bashrc",
        "==== 1 failed, 3 passed ====",
        "--- FAIL: TestLeap",
        "FAIL\tleap",
        "test result: FAILED. 2 passed; 1 failed; finished",
        "  ✓ adds",
        "Test run finished",
        "assert sleep(5) == '5 s'",
    ]


class _Listener:
    """A TCP server on the host's loopback that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@contained
async def test_python_grading_has_no_network_and_writes_only_its_copy(tmp_path: Path) -> None:
    listener = _Listener()
    # Beside this file, not in /tmp: the sandbox gives each command a /tmp of its own.
    outside = Path(__file__).with_name(f"escaped-{tmp_path.name}.txt")
    tests = f'''
import socket, pathlib
from probe import value

def test_value():
    assert value() == 1

def test_no_network():
    try:
        socket.create_connection(("127.0.0.1", {listener.port}), timeout=2).close()
    except OSError:
        return
    raise AssertionError("reached the host's network")

def test_no_write_outside():
    try:
        pathlib.Path({str(outside)!r}).write_text("escaped")
    except OSError:
        return
    raise AssertionError("wrote outside the copy")

def test_copy_is_writable():
    pathlib.Path("made-by-test.txt").write_text("ok")
'''
    exercise = _exercise(tmp_path / "tree", "python", "probe", {"probe.py": "def value():\n    return 1\n",
                                                                 "probe_test.py": tests},
                         ["probe.py"], ["probe_test.py"])
    runner = make_runners(Toolchains.default())["python"]
    copy = await WorkCopy.make(exercise, runner, tmp_path / "work")
    try:
        grade, edits = await copy.grade(1, Limits(), Dependencies())
    finally:
        listener.close()
        escaped = outside.exists()
        outside.unlink(missing_ok=True)
    assert grade.passed, grade.output
    assert not escaped
    assert listener.accepted == 0 and not outside.exists() and edits == []
    assert (copy.root / "made-by-test.txt").read_text() == "ok"


GO_MOD = "module probe\n\ngo 1.18\n"


@contained
async def test_go_tests_run_without_write_access_to_the_build_cache(tmp_path: Path) -> None:
    """The exercise's compiled tests run in a step of their own where the shared Go cache is read-only:
    an exercise cannot plant entries that another exercise's grading would read."""
    tests = '''package probe

import (
	"os"
	"path/filepath"
	"testing"
)

func TestValue(t *testing.T) {
	if Value() != 1 {
		t.Fatal("wrong value")
	}
}

func TestCacheIsReadOnly(t *testing.T) {
	err := os.WriteFile(filepath.Join(os.Getenv("GOCACHE"), "planted"), []byte("x"), 0o644)
	if err == nil {
		t.Fatal("wrote into the shared build cache")
	}
}
'''
    exercise = _exercise(tmp_path / "tree", "go", "probe", {"go.mod": GO_MOD, "probe.go": "package probe\n\n"
                                                             "func Value() int { return 1 }\n",
                                                             "probe_test.go": tests},
                         ["probe.go"], ["probe_test.go"])
    copy = await _copy(exercise, tmp_path)
    grade, _ = await copy.grade(1, Limits(), Dependencies())
    assert grade.passed, grade.output
    assert "--- PASS: TestCacheIsReadOnly" in grade.output
    assert not (Toolchains.default().cache_dir / "go" / "planted").exists()


async def test_a_go_test_file_with_no_test_is_not_a_pass(tmp_path: Path) -> None:
    files = {"go.mod": GO_MOD.replace("probe", "empty"), "empty.go": "package empty\n",
             "empty_test.go": "package empty\n\n// Define your tests here\n"}
    exercise = _exercise(tmp_path / "tree", "go", "empty", files, ["empty.go"], ["empty_test.go"])
    # Graded anyway, exit code 0 is not taken for a pass ...
    copy = await _copy(exercise, tmp_path)
    grade, _ = await copy.grade(1, Limits(), Dependencies())
    assert not grade.passed and grade.exit_code == 0 and grade.failed_step == "verify"
    assert "[not counted as a pass: no Go test ran]" in grade.output
    # ... and the harness never runs such an exercise: it can give no verdict.
    reason, _ = await Readiness({"go": copy.runner}).check(exercise)
    assert reason is not None and "define no Go test" in reason


CARGO = '[package]\nname = "locks"\nversion = "0.1.0"\nedition = "2021"\n'
RUST_TEST = '''
#[test]
fn builds_its_own_crate() {
    // As rust/macros' tests do: building a crate under tests/ leaves a Cargo.lock there.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/invalid");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(format!("{dir}/Cargo.lock"), "# made while grading\\n").unwrap();
    assert_eq!(locks::value(), 1);
}
'''


async def test_files_the_graders_create_under_tests_are_not_test_edits(tmp_path: Path) -> None:
    exercise = _exercise(tmp_path / "tree", "rust", "locks", {"Cargo.toml": CARGO,
                                                              "src/lib.rs": "pub fn value() -> i32 { 1 }\n",
                                                              "tests/locks.rs": RUST_TEST},
                         ["src/lib.rs"], ["tests/locks.rs"])
    copy = await _copy(exercise, tmp_path)
    first, edits_1 = await copy.grade(1, Limits(), Dependencies())
    assert first.passed, first.output  # the test wrote its Cargo.lock, or its unwrap would have failed
    assert not (copy.root / "tests/invalid/Cargo.lock").exists()  # what grading made is undone after it
    second, edits_2 = await copy.grade(2, Limits(), Dependencies())
    assert second.passed and edits_1 == edits_2 == []
    # What the agent adds there still is an edit, and is removed before grading.
    (copy.root / "tests/extra.rs").write_text("#[test]\nfn sneaky() {}\n")
    _, edits_3 = await copy.grade(3, Limits(), Dependencies())
    assert [(e.path, e.change) for e in edits_3] == [("tests/extra.rs", "added")]
    assert not (copy.root / "tests/extra.rs").exists()


def test_a_go_older_than_1_21_is_reported_not_used(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "go"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho go1.19.8\n")
    fake.chmod(0o755)
    runner = GoRunner(Toolchains.default(), {"PATH": f"{fake.parent}:/usr/bin:/bin"})
    reason = runner.missing()
    assert reason is not None and "go1.19.8 is older than Go 1.21" in reason


CATCH_MAIN = "#define CATCH_CONFIG_MAIN\n#include <catch2/catch.hpp>\n"
CMAKE = """cmake_minimum_required(VERSION 3.14)
get_filename_component(exercise ${CMAKE_CURRENT_SOURCE_DIR} NAME)
project(${exercise} CXX)
add_executable(${exercise} none_test.cpp test/tests-main.cpp)
add_custom_target(test_${exercise} ALL DEPENDS ${exercise} COMMAND ${exercise})
"""


async def test_a_catch2_binary_with_no_test_case_is_not_a_pass(tmp_path: Path) -> None:
    exercise = _exercise(tmp_path / "tree", "cpp", "none", {"CMakeLists.txt": CMAKE, "none.h": "#pragma once\n",
                                                            "test/tests-main.cpp": CATCH_MAIN,
                                                            "none_test.cpp": '#include "none.h"\n'},
                         ["none.h"], ["none_test.cpp"])
    runners = make_runners(Toolchains.default())
    if runners["cpp"].missing() or not Path("/usr/include/catch2/catch.hpp").is_file():
        pytest.skip("no C++ toolchain with Debian's Catch2 here")
    copy = await WorkCopy.make(exercise, runners["cpp"], tmp_path / "work")
    grade, _ = await copy.grade(1, Limits(), Dependencies())
    assert not grade.passed and grade.exit_code == 0 and grade.failed_step == "verify", grade.output
    assert "No tests ran" in grade.output
    assert not (copy.root / ".grading-build").exists()  # the grader's build folder does not outlive grading


PLANTED = '''package probe

import (
	"fmt"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	fmt.Println("--- PASS: TestValue (0.00s)")
	os.Exit(0)
}
'''


async def test_code_run_by_grading_cannot_plant_a_test_for_the_next_grading(tmp_path: Path) -> None:
    """The exercise's own code runs while it is graded, in a copy it may write to: a wrong solution that
    writes a `TestMain` faking passes must not see it compiled into the next grading."""
    solution = ("package probe\n\nimport \"os\"\n\nfunc Value() int {\n"
                f"\t_ = os.WriteFile(\"zz_planted_test.go\", []byte({json.dumps(PLANTED)}), 0o644)\n"
                "\treturn 2\n}\n")
    tests = "package probe\n\nimport \"testing\"\n\nfunc TestValue(t *testing.T) {\n\tif Value() != 1 {\n" \
            "\t\tt.Fatal(\"wrong value\")\n\t}\n}\n"
    exercise = _exercise(tmp_path / "tree", "go", "probe", {"go.mod": GO_MOD, "probe.go": solution,
                                                             "probe_test.go": tests}, ["probe.go"], ["probe_test.go"])
    copy = await _copy(exercise, tmp_path)
    first, _ = await copy.grade(1, Limits(), Dependencies())
    assert not first.passed and "wrong value" in first.output
    assert not (copy.root / "zz_planted_test.go").exists()
    second, edits = await copy.grade(2, Limits(), Dependencies())
    assert not second.passed and "wrong value" in second.output and edits == []
