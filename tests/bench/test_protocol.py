"""The protocol's pieces: discovery and filters, clean copies with tests un-skipped, the test-file audit
(and the tampering run end to end on Python exercises)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agent.bench.exercises import discover, load_exercise, parse_languages
from agent.bench.guard import EditedTest, TamperGuard
from agent.bench.harness import BenchConfig, Harness
from agent.bench.prepare import prepare, unskip_java, unskip_javascript
from agent.bench.prompts import RETRY_LEAD, first_prompt, retry_prompt, tail
from agent.bench.runners import GoRunner, Toolchains
from tests.bench.conftest import EXERCISES
from tests.bench.script import TAMPERED_TEXT, ExerciseScript
from tests.conftest import settings_for
from tests.fakes.model_server import ScriptedModelServer

PYTHON = EXERCISES / "python" / "exercises" / "practice"


# --- discovery -------------------------------------------------------------------------------------


def test_discovery_reads_the_public_layout_in_the_papers_order() -> None:
    found = discover(EXERCISES)
    assert not found.problems
    assert [e.key for e in found.exercises][:4] == ["python/digit-sum", "python/initials", "go/clamp",
                                                   "go/reverse-words"]
    assert [e.language for e in found.exercises][-2:] == ["java", "java"]
    clamp = next(e for e in found.exercises if e.name == "clamp")
    assert clamp.solution == ("clamp.go",) and clamp.test == ("clamp_test.go", "cases_test.go")
    assert clamp.example == (".meta/example.go",) and clamp.docs == (".docs/instructions.md",)


def test_filters_by_language_name_key_and_limit() -> None:
    assert [e.key for e in discover(EXERCISES, ["rust"]).exercises] == ["rust/gcd", "rust/vowel-count",
                                                                       "rust/zero-pad"]
    picked = discover(EXERCISES, names=["initials", "go/clamp", "nope"])
    assert [e.key for e in picked.exercises] == ["python/initials", "go/clamp"]
    assert picked.problems == [f"nope: no such exercise in {EXERCISES}"]
    assert [e.key for e in discover(EXERCISES, limit=1).exercises] == [
        "python/digit-sum", "go/clamp", "rust/gcd", "javascript/fizz-word", "cpp/caesar-shift", "java/max-span"]
    assert parse_languages("JS, c++ ,python") == ["python", "javascript", "cpp"]
    with pytest.raises(ValueError, match="unknown language"):
        parse_languages("python,cobol")


def test_broken_exercises_are_reported_not_run(tmp_path: Path) -> None:
    practice = tmp_path / "python" / "exercises" / "practice"
    shutil.copytree(PYTHON / "digit-sum", practice / "good")
    shutil.copytree(PYTHON / "digit-sum", practice / "no-config")
    (practice / "no-config" / ".meta" / "config.json").unlink()
    shutil.copytree(PYTHON / "digit-sum", practice / "missing-test")
    (practice / "missing-test" / "digit_sum_test.py").unlink()
    shutil.copytree(PYTHON / "digit-sum", practice / "bad-json")
    (practice / "bad-json" / ".meta" / "config.json").write_text("{not json")
    found = discover(tmp_path)
    assert [e.name for e in found.exercises] == ["good"]
    assert found.problems == [
        "python/bad-json: .meta/config.json is unreadable: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)",
        "python/missing-test: digit_sum_test.py is named in .meta/config.json but does not exist",
        "python/no-config: no .meta/config.json",
    ]


# --- clean copies ----------------------------------------------------------------------------------


def test_the_copy_leaves_out_meta_and_unskips_the_tests(tmp_path: Path) -> None:
    fizz = load_exercise("javascript", EXERCISES / "javascript" / "exercises" / "practice" / "fizz-word")
    (tmp_path / "src").mkdir()
    source = tmp_path / "src" / "fizz-word"
    shutil.copytree(fizz.path, source)
    (source / "node_modules" / "x").mkdir(parents=True)  # a user's own install is not copied
    changed = prepare(fizz.model_copy(update={"path": source}), tmp_path / "copy")
    copy = tmp_path / "copy"
    assert changed == ["fizz-word.spec.js"]
    assert not (copy / ".meta").exists() and not (copy / "node_modules").exists()
    assert (copy / ".docs" / "instructions.md").is_file() and (copy / "babel.config.js").is_file()
    spec = (copy / "fizz-word.spec.js").read_text()
    assert "xtest" not in spec and spec.count("  test(") == 4


def test_unskip_javascript_and_java() -> None:
    js = "xtest('a', f);\nxit ('b', f);\nxdescribe('c', f);\ntest.skip('d', f);\nconst maxtest = xitem(1);\n"
    assert unskip_javascript(js) == "test('a', f);\nit ('b', f);\ndescribe('c', f);\ntest('d', f);\n" \
                                    "const maxtest = xitem(1);\n"
    java = (
        "import org.junit.jupiter.api.Disabled;\n"
        "class T {\n"
        "    @Disabled(\"Remove to run test (really)\")\n"
        "    @Test\n"
        "    void a() {}\n"
        "    @Ignore @Test void b() {}\n"
        "    @DisabledOnOs(OS.WINDOWS) @Test void c() {}\n"
        "}\n"
    )
    assert unskip_java(java) == (
        "import org.junit.jupiter.api.Disabled;\n"
        "class T {\n"
        "    @Test\n"
        "    void a() {}\n"
        "     @Test void b() {}\n"
        "    @DisabledOnOs(OS.WINDOWS) @Test void c() {}\n"
        "}\n"
    )


def test_prompts_name_the_exercise_and_carry_the_output_tail() -> None:
    clamp = load_exercise("go", EXERCISES / "go" / "exercises" / "practice" / "clamp")
    first = first_prompt(clamp, "go test ./...")
    assert first.startswith("Benchmark exercise go/clamp (Go)")
    assert ".docs/instructions.md" in first and "clamp.go" in first and "go test ./..." in first
    output = "compiling...\n" * 500 + "--- FAIL: TestClamp\nFAIL\n"
    retry = retry_prompt(clamp, output, 300)
    assert retry.startswith(RETRY_LEAD) and "--- FAIL: TestClamp" in retry
    assert "of 6525 characters" in retry and len(retry) < 800
    assert tail("x" * 50 + "\n" + "y" * 30, 40) == "y" * 30 and tail("short\n", 100) == "short"


# --- the audit -------------------------------------------------------------------------------------


def test_guard_restores_modified_deleted_and_replaced_tests_and_removes_intruders(tmp_path: Path) -> None:
    root = tmp_path / "copy"
    (root / "test").mkdir(parents=True)
    (root / "a_test.go").write_text("package a // the tests\n")
    (root / "cases_test.go").write_text("package a // cases\n")
    (root / "test" / "helper.txt").write_text("support\n")
    (root / "a.go").write_text("package a\n")
    guard = TamperGuard(root, ["a_test.go", "test/helper.txt"], GoRunner(Toolchains.default()).intruder)
    assert guard.restore(1) == []

    (root / "a_test.go").write_text("package a // weakened\n")
    (root / "cases_test.go").unlink()  # not listed, but an existing _test.go is protected all the same
    shutil.rmtree(root / "test")
    (root / "test").write_text("a file where the folder was\n")
    (root / "main_test.go").write_text("package a\nfunc TestMain(m *testing.M) { os.Exit(0) }\n")
    (root / "a.go").write_text("package a // the solution may change\n")
    edits = guard.restore(2)
    assert sorted(edits, key=lambda e: e.path) == [
        EditedTest(attempt=2, path="a_test.go", change="modified"),
        EditedTest(attempt=2, path="cases_test.go", change="deleted"),
        EditedTest(attempt=2, path="main_test.go", change="added"),
        EditedTest(attempt=2, path="test/helper.txt", change="deleted"),
    ]
    assert (root / "a_test.go").read_text() == "package a // the tests\n"
    assert (root / "cases_test.go").read_text() == "package a // cases\n"
    assert (root / "test" / "helper.txt").read_text() == "support\n"
    assert not (root / "main_test.go").exists()
    assert (root / "a.go").read_text() == "package a // the solution may change\n"
    assert guard.restore(3) == []


async def test_tampered_tests_are_recorded_and_undone_before_grading(tmp_path: Path) -> None:
    script = ExerciseScript(EXERCISES, tamper={"python/digit-sum": "modify", "python/initials": "delete"})
    config = BenchConfig(tree=EXERCISES, languages=["python"], workers=2, work_dir=tmp_path, keep_workdirs=True)
    out = tmp_path / "results.json"
    with ScriptedModelServer("openai", script) as server:
        results = await Harness(config, settings_for(server, bash="always"), out).run()

    digit, initials = results.exercises
    # The tampered tests would have let the wrong solution pass; restored, they fail it.
    assert digit.status == initials.status == "pass_2"
    assert digit.test_file_edits == [EditedTest(attempt=1, path="digit_sum_test.py", change="modified")]
    assert initials.test_file_edits == [EditedTest(attempt=1, path="initials_test.py", change="deleted")]
    assert digit.observed()["test_edits"] and results.overall.observed["test_edits"] == 2
    for key, test in (("python/digit-sum", "test_all_nines"), ("python/initials", "test_hyphens_separate_words")):
        retry = next(m["content"] for b in script.requests[key] for m in b["messages"]
                     if m["role"] == "user" and m["content"].startswith(RETRY_LEAD))
        assert test in retry  # graded against the real tests
    kept = {p.name: p for p in tmp_path.glob("little-coder-bench-*/python-*/*") if p.name != "scratch"}
    restored = (kept["digit-sum"] / "digit_sum_test.py").read_text()
    assert restored == (PYTHON / "digit-sum" / "digit_sum_test.py").read_text() and TAMPERED_TEXT not in restored
    assert (kept["initials"] / "initials_test.py").is_file()
    saved = json.loads(out.read_text())
    assert saved["exercises"][0]["test_file_edits"] == [{"attempt": 1, "path": "digit_sum_test.py",
                                                         "change": "modified"}]
