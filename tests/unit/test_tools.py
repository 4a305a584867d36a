"""The six tools on a real DiskWorkspace in a temporary folder."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
import os
import random
import re
import shutil
import time
from pathlib import Path

import pytest

import agent.tools.grep as grep_module
from agent.settings import Settings
from agent.tools.base import ToolContext, ToolResult
from agent.tools.bash import Bash, clean_output
from agent.tools.edit import Edit
from agent.tools.glob import Glob, PathMatcher
from agent.tools.grep import Grep
from agent.tools.read import Read
from agent.tools.registry import default_tools, tool_map
from agent.tools.write import Write
from agent.workspace import DiskWorkspace

has_rg = pytest.mark.skipif(shutil.which("rg") is None, reason="ripgrep not installed")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    (tmp_path / "outside.txt").write_text("canary\n")
    return path


@pytest.fixture
def ctx(root: Path) -> ToolContext:
    return ToolContext(workspace=DiskWorkspace(root), settings=Settings(bash="always", bash_timeout=20))


async def call(tool: object, ctx: ToolContext, **arguments: object) -> ToolResult:
    """Validate like the session does, then run."""
    args = tool.parse(arguments)  # type: ignore[attr-defined]
    return await tool.run(args, ctx)  # type: ignore[attr-defined]


def put(root: Path, rel: str, text: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode())
    return path


# --- registry ------------------------------------------------------------------------------------


def test_registry_order_and_specs() -> None:
    tools = default_tools()
    assert [t.name for t in tools] == ["Read", "Write", "Edit", "Glob", "Grep", "Bash"]
    assert set(tool_map(tools)) == {"Read", "Write", "Edit", "Glob", "Grep", "Bash"}
    for tool in tools:
        spec = tool.spec()
        assert spec.description
        for name, prop in spec.parameters["properties"].items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"


# --- Write ---------------------------------------------------------------------------------------


async def test_write_creates_file_and_parents(ctx: ToolContext, root: Path) -> None:
    result = await call(Write(), ctx, file_path="pkg/sub/mod.py", content="a = 1\nb = 2\n")
    assert not result.is_error
    assert result.content == "Created pkg/sub/mod.py (2 lines)"
    assert (root / "pkg/sub/mod.py").read_text() == "a = 1\nb = 2\n"
    assert "pkg/sub/mod.py" in ctx.read_paths


async def test_write_guard_refuses_existing_file_and_shows_the_edit_call(
    ctx: ToolContext, root: Path
) -> None:
    put(root, "src/leap.py", "def leap(year):\n    pass\n")
    result = await call(Write(), ctx, file_path="./src/leap.py", content="everything new")
    assert result.is_error and result.guard == "write_guard"
    assert (root / "src/leap.py").read_text() == "def leap(year):\n    pass\n"
    text = result.content
    assert "src/leap.py already exists" in text and "only creates new files" in text
    call_line = next(line for line in text.splitlines() if line.startswith("{"))
    edit_call = json.loads(call_line)
    assert edit_call["name"] == "Edit"
    assert edit_call["arguments"]["file_path"] == "./src/leap.py"  # the same path the model gave
    assert set(edit_call["arguments"]) == {"file_path", "old_string", "new_string"}
    assert "Read it first" in text
    assert "a few lines around the change" in text
    assert "again will be refused again" in text


async def test_write_failure_is_a_result_not_an_exception(ctx: ToolContext, root: Path) -> None:
    put(root, "a.py", "x\n")
    result = await call(Write(), ctx, file_path="a.py/b.py", content="y")
    assert result.is_error and result.guard is None and "cannot create" in result.content


async def test_write_guard_on_a_folder(ctx: ToolContext, root: Path) -> None:
    (root / "pkg").mkdir()
    result = await call(Write(), ctx, file_path="pkg", content="x")
    assert result.is_error and result.guard == "write_guard"
    assert "folder" in result.content and (root / "pkg").is_dir()


# --- Edit ----------------------------------------------------------------------------------------


async def test_edit_replaces_the_unique_match_with_a_diff(ctx: ToolContext, root: Path) -> None:
    put(root, "m.py", "a = 1\nb = 2\nc = 3\n")
    result = await call(Edit(), ctx, file_path="m.py", old_string="b = 2", new_string="b = 20\nb2 = 21")
    assert not result.is_error, result.content
    assert (root / "m.py").read_text() == "a = 1\nb = 20\nb2 = 21\nc = 3\n"
    assert result.summary == "Edit m.py (+2 −1)"
    assert "--- a/m.py" in result.content and "-b = 2" in result.content and "+b2 = 21" in result.content


async def test_edit_refuses_ambiguous_match_and_honours_replace_all(ctx: ToolContext, root: Path) -> None:
    put(root, "m.py", "x = 0\ny = 1\nx = 0\nz = 2\nx = 0\n")
    result = await call(Edit(), ctx, file_path="m.py", old_string="x = 0", new_string="x = 9")
    assert result.is_error
    assert (
        "3 times" in result.content and "lines 1, 3, 5" in result.content and "replace_all" in result.content
    )
    assert (root / "m.py").read_text() == "x = 0\ny = 1\nx = 0\nz = 2\nx = 0\n"
    result = await call(
        Edit(), ctx, file_path="m.py", old_string="x = 0", new_string="x = 9", replace_all=True
    )
    assert not result.is_error
    assert (root / "m.py").read_text() == "x = 9\ny = 1\nx = 9\nz = 2\nx = 9\n"


async def test_edit_refuses_empty_and_identical_strings(ctx: ToolContext, root: Path) -> None:
    put(root, "m.py", "abc\n")
    result = await call(Edit(), ctx, file_path="m.py", old_string="", new_string="zzz", replace_all=True)
    assert result.is_error and "old_string is empty" in result.content and "Write" in result.content
    result = await call(Edit(), ctx, file_path="m.py", old_string="abc", new_string="abc")
    assert result.is_error and "same" in result.content
    assert (root / "m.py").read_text() == "abc\n"


async def test_edit_fills_an_existing_empty_file(ctx: ToolContext, root: Path) -> None:
    put(root, "__init__.py", "")
    result = await call(Edit(), ctx, file_path="__init__.py", old_string="", new_string="X = 1\n")
    assert not result.is_error
    assert (root / "__init__.py").read_text() == "X = 1\n"


async def test_edit_not_found_names_the_closest_line(ctx: ToolContext, root: Path) -> None:
    lines = [f"value_{i} = {i}" for i in range(1, 30)]
    lines[11] = "def compute_total(items, tax_rate):"
    put(root, "calc.py", "\n".join(lines) + "\n")
    result = await call(
        Edit(),
        ctx,
        file_path="calc.py",
        old_string="def compute_totals(items, rate):\n    pass",
        new_string="x",
    )
    assert result.is_error
    assert "line 12: `def compute_total(items, tax_rate):`" in result.content
    assert "Read calc.py" in result.content and "exactly" in result.content
    assert "have not read this file" in result.content
    ctx.read_paths.add("calc.py")
    result = await call(Edit(), ctx, file_path="calc.py", old_string="zzzz qqqq", new_string="x")
    assert "have not read" not in result.content


async def test_edit_whitespace_fallback_replaces_only_the_region(ctx: ToolContext, root: Path) -> None:
    original = (
        "keep_me = 1   \n"  # trailing spaces elsewhere must survive byte for byte
        "def f():  \n"
        "    return 1\t\n"
        "\n"
        "other = 2 \t\n"
    )
    put(root, "w.py", original)
    result = await call(
        Edit(),
        ctx,
        file_path="w.py",
        old_string="def f():\n    return 1",
        new_string="def f():\n    return 2",
    )
    assert not result.is_error, result.content
    assert "ignoring trailing whitespace" in result.content
    assert (root / "w.py").read_bytes() == b"keep_me = 1   \ndef f():\n    return 2\n\nother = 2 \t\n"


async def test_edit_indentation_fallback_reindents_new_string(ctx: ToolContext, root: Path) -> None:
    original = "class A:\n    def f(self):\n        return 1\n\n    def g(self):  \n        return 2\n"
    put(root, "c.py", original)
    result = await call(
        Edit(),
        ctx,
        file_path="c.py",
        old_string="def f(self):\n    return 1\n",
        new_string="def f(self):\n    x = 1\n    return x\n",
    )
    assert not result.is_error, result.content
    assert "indentation" in result.content
    assert (root / "c.py").read_text() == (
        "class A:\n    def f(self):\n        x = 1\n        return x\n"
        "\n    def g(self):  \n        return 2\n"
    )


async def test_edit_fallback_refuses_several_loose_matches(ctx: ToolContext, root: Path) -> None:
    put(root, "d.py", "x = 1  \ny = 2\nx = 1 \n")
    result = await call(Edit(), ctx, file_path="d.py", old_string="x = 1\n", new_string="x = 3\n")
    assert result.is_error and "2 places" in result.content and "lines 1, 3" in result.content
    assert (root / "d.py").read_text() == "x = 1  \ny = 2\nx = 1 \n"


async def test_edit_keeps_crlf_files_crlf(ctx: ToolContext, root: Path) -> None:
    put(root, "win.txt", b"one\r\ntwo\r\nthree\r\n")
    # The model saw LF lines from Read and writes LF.
    result = await call(
        Edit(), ctx, file_path="win.txt", old_string="one\ntwo\n", new_string="ONE\nTWO\nTWO-B\n"
    )
    assert not result.is_error, result.content
    assert (root / "win.txt").read_bytes() == b"ONE\r\nTWO\r\nTWO-B\r\nthree\r\n"


async def test_edit_in_a_mixed_file_touches_only_the_match(ctx: ToolContext, root: Path) -> None:
    put(root, "mixed.txt", b"a\nb\r\nc\r\nd\n")
    result = await call(Edit(), ctx, file_path="mixed.txt", old_string="c", new_string="C")
    assert not result.is_error
    assert (root / "mixed.txt").read_bytes() == b"a\nb\r\nC\r\nd\n"


async def test_edit_missing_file_suggests_close_names(ctx: ToolContext, root: Path) -> None:
    put(root, "src/leap.py", "x\n")
    result = await call(Edit(), ctx, file_path="src/leaps.py", old_string="x", new_string="y")
    assert result.is_error and "src/leap.py" in result.content and "Write" in result.content


# --- Read ----------------------------------------------------------------------------------------


async def test_read_numbers_lines_like_cat_n(ctx: ToolContext, root: Path) -> None:
    put(root, "a.txt", "alpha\r\nbeta\r\n")
    result = await call(Read(), ctx, file_path="a.txt")
    assert result.content == "     1\talpha\n     2\tbeta"
    assert "a.txt" in ctx.read_paths


async def test_read_offset_limit_and_continuation_marker(ctx: ToolContext, root: Path) -> None:
    put(root, "long.txt", "".join(f"L{i}\n" for i in range(1, 3001)))
    result = await call(Read(), ctx, file_path="long.txt")
    shown = result.content.splitlines()
    assert len(shown) == 2001
    assert shown[0] == "     1\tL1" and shown[1999] == "  2000\tL2000"
    assert "offset=2001" in shown[-1] and "of 3000" in shown[-1]
    result = await call(Read(), ctx, file_path="long.txt", offset=10, limit=3)
    assert result.content.splitlines()[:3] == ["    10\tL10", "    11\tL11", "    12\tL12"]
    assert "offset=13" in result.content
    result = await call(Read(), ctx, file_path="long.txt", offset=2999)
    assert result.content == "  2999\tL2999\n  3000\tL3000"
    result = await call(Read(), ctx, file_path="long.txt", offset=5000)
    assert result.is_error and "3000 lines" in result.content


async def test_read_cuts_long_lines_and_stays_under_the_cap(ctx: ToolContext, root: Path) -> None:
    put(root, "wide.txt", ("x" * 5000 + "\n") * 100)
    result = await call(Read(), ctx, file_path="wide.txt")
    first = result.content.splitlines()[0]
    assert first.startswith("     1\t" + "x" * 2000) and "3000 more characters" in first
    assert len(result.content) <= 32_000
    match = re.search(r"offset=(\d+)", result.content)
    assert match is not None
    shown = int(match.group(1)) - 1
    assert result.content.splitlines()[shown - 1].startswith(f"{shown:>6}\t")


async def test_read_missing_file_and_folder(ctx: ToolContext, root: Path) -> None:
    put(root, "src/parser.py", "x\n")
    put(root, "tests/test_parser.py", "x\n")
    result = await call(Read(), ctx, file_path="src/parsr.py")
    assert result.is_error and "src/parser.py" in result.content
    result = await call(Read(), ctx, file_path="parser.py")
    assert result.is_error and "src/parser.py" in result.content
    result = await call(Read(), ctx, file_path="src")
    assert result.is_error and "Glob" in result.content


# --- path refusals through the tools --------------------------------------------------------------


async def test_tools_refuse_paths_outside_the_root(ctx: ToolContext, root: Path, tmp_path: Path) -> None:
    canary = tmp_path / "outside.txt"
    (root / "link").symlink_to(tmp_path, target_is_directory=True)
    attempts = [
        (Read(), {"file_path": "../outside.txt"}),
        (Read(), {"file_path": str(canary)}),
        (Write(), {"file_path": "link/new.txt", "content": "x"}),
        (Edit(), {"file_path": "link/outside.txt", "old_string": "canary", "new_string": "pwned"}),
        (Edit(), {"file_path": "~/outside.txt", "old_string": "canary", "new_string": "pwned"}),
        (Glob(), {"pattern": "*", "path": ".."}),
        (Grep(), {"pattern": "canary", "path": "link"}),
        (Grep(use_ripgrep=False), {"pattern": "canary", "path": "../"}),
    ]
    for tool, arguments in attempts:
        result = await call(tool, ctx, **arguments)
        assert result.is_error and result.guard == "path_refused", (tool.name, result)
        assert "outside the workspace" in result.content or "inside the workspace" in result.content
    assert canary.read_text() == "canary\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside.txt", "root"]


# --- Glob ----------------------------------------------------------------------------------------


async def test_glob_is_relative_to_the_root_not_the_cwd(
    ctx: ToolContext, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for rel in ["a.py", "src/b.py", "src/deep/c.py", "src/d.ts", "node_modules/x.py"]:
        put(root, rel, "x\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "decoy.py").write_text("x\n")
    monkeypatch.chdir(elsewhere)
    result = await call(Glob(), ctx, pattern="**/*.py")
    assert result.content.splitlines() == ["a.py", "src/b.py", "src/deep/c.py"]
    result = await call(Glob(), ctx, pattern="*.py", path="src")
    assert result.content.splitlines() == ["src/b.py", "src/deep/c.py"]
    result = await call(Glob(), ctx, pattern="src/*.{py,ts}")
    assert result.content.splitlines() == ["src/b.py", "src/d.ts"]
    result = await call(Glob(), ctx, pattern="*.rs")
    assert not result.is_error and "No files match" in result.content


async def test_glob_caps_results(ctx: ToolContext, root: Path) -> None:
    for i in range(520):
        put(root, f"many/f{i:04d}.txt", "")
    result = await call(Glob(), ctx, pattern="many/*.txt")
    lines = result.content.splitlines()
    assert len(lines) == 501 and lines[0] == "many/f0000.txt" and lines[-1].startswith("... 20 more")


def test_path_matcher_semantics() -> None:
    assert PathMatcher("**/*.py").matches("a.py") and PathMatcher("**/*.py").matches("x/y/a.py")
    assert PathMatcher("src/*.py").matches("src/a.py") and not PathMatcher("src/*.py").matches("src/x/a.py")
    assert PathMatcher("test_?.py").matches("deep/test_1.py") and not PathMatcher("test_?.py").matches(
        "test_12.py"
    )
    assert PathMatcher("[!a]*.c").matches("b.c") and not PathMatcher("[!a]*.c").matches("a.c")
    assert PathMatcher("src/**").matches("src/a/b/c") and not PathMatcher("src/**").matches("lib/a")


# --- Grep ----------------------------------------------------------------------------------------


@pytest.fixture
def grep_tree(root: Path) -> Path:
    put(root, "src/app.py", "import os\n\ndef main():\n    return os.getcwd()\n")
    put(root, "src/util.py", "def helper():\n    MAIN = 1\n    return MAIN\n")
    put(root, "docs/readme.md", "Call main() to start.\n")
    put(root, "data.bin", b"main\0\x01\x02")
    put(root, "node_modules/lib/index.js", "function main() {}\n")
    put(root, ".hidden/notes.txt", "main notes\n")
    return root


GREP_CASES = [
    {"pattern": "main"},
    {"pattern": "main", "case_insensitive": True, "output_mode": "count"},
    {"pattern": r"def \w+\(", "output_mode": "content"},
    {"pattern": "return", "output_mode": "content", "context": 1},
    {"pattern": "main", "glob": "*.py"},
    {"pattern": "main", "path": "src", "output_mode": "content"},
    {"pattern": "os", "path": "src/app.py", "output_mode": "count"},
]


@pytest.mark.parametrize("use_ripgrep", [pytest.param(True, marks=has_rg), False])
async def test_grep_relative_to_the_root(
    use_ripgrep: bool, ctx: ToolContext, grep_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "decoy.py").write_text("main\n")
    monkeypatch.chdir(elsewhere)
    tool = Grep(use_ripgrep=use_ripgrep)
    result = await call(tool, ctx, pattern="main")
    assert result.content.splitlines() == [".hidden/notes.txt", "docs/readme.md", "src/app.py"]
    result = await call(tool, ctx, pattern=r"def \w+\(", output_mode="content")
    assert result.content.splitlines() == ["src/app.py:3:def main():", "src/util.py:1:def helper():"]
    result = await call(tool, ctx, pattern="return", output_mode="content", context=1)
    assert result.content.splitlines() == [
        "src/app.py-3-def main():",
        "src/app.py:4:    return os.getcwd()",
        "--",
        "src/util.py-2-    MAIN = 1",
        "src/util.py:3:    return MAIN",
    ]
    result = await call(tool, ctx, pattern="MAIN", case_insensitive=True, output_mode="count", glob="*.py")
    assert result.content.splitlines() == ["src/app.py:1", "src/util.py:2"]
    result = await call(tool, ctx, pattern="nothing-like-this")
    assert not result.is_error and "No matches" in result.content


@has_rg
@pytest.mark.parametrize("case", GREP_CASES)
async def test_grep_ripgrep_and_python_agree(
    case: dict[str, object], ctx: ToolContext, grep_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = await call(Grep(use_ripgrep=False), ctx, **case)

    async def no_python(*args: object, **kwargs: object) -> None:
        raise AssertionError("ripgrep should have answered")

    monkeypatch.setattr(grep_module, "_python_search", no_python)
    fast = await call(Grep(), ctx, **case)
    assert fast.content == slow.content
    assert not fast.is_error and "No matches" not in fast.content


@has_rg
async def test_grep_falls_back_when_ripgrep_rejects_the_pattern(ctx: ToolContext, grep_tree: Path) -> None:
    # Look-behind is valid Python but not ripgrep's default engine.
    result = await call(Grep(), ctx, pattern=r"(?<=def )main", output_mode="content")
    assert result.content == "src/app.py:3:def main():"


async def test_grep_errors_and_cap(ctx: ToolContext, root: Path) -> None:
    result = await call(Grep(use_ripgrep=False), ctx, pattern="main(")
    assert result.is_error and "invalid regular expression" in result.content
    put(root, "big.txt", "".join(f"match line {i}\n" for i in range(5000)))
    for tool in (Grep(use_ripgrep=False), Grep()):
        result = await call(tool, ctx, pattern="match", output_mode="content")
        assert len(result.content) < 20_300
        assert result.content.splitlines()[0] == "big.txt:1:match line 0"
        assert "results cut" in result.content.splitlines()[-1]


# --- Bash ----------------------------------------------------------------------------------------


def _sleeps(marker: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as handle:
                    if handle.read() == f"sleep\0{marker}\0".encode():
                        found.append(int(name))
            except OSError:
                continue
    return found


async def test_bash_reports_exit_code_and_stderr(ctx: ToolContext) -> None:
    result = await call(Bash(), ctx, command="echo hello; echo oops >&2; exit 2")
    assert result.content == "hello\n[stderr]\noops\n[exit code 2]"
    assert result.is_error and result.summary == "Bash `echo hello; echo oops >&2; exit 2` → exit 2"
    result = await call(Bash(), ctx, command="true")
    assert result.content == "(no output)\n[exit code 0]" and not result.is_error


async def test_bash_runs_in_the_root_with_stdin_closed(
    ctx: ToolContext, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir("/")
    started = time.monotonic()
    result = await call(Bash(), ctx, command="cat; pwd")
    assert time.monotonic() - started < 5
    assert result.content == f"{root}\n[exit code 0]"


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
async def test_bash_timeout_kills_background_and_setsid_children(ctx: ToolContext) -> None:
    marker = f"{random.randint(10_000, 99_999)}.{random.randint(100, 999)}"
    result = await call(
        Bash(), ctx, command=f"sleep {marker} & setsid sleep {marker} & sleep {marker}", timeout=1
    )
    assert result.is_error
    assert result.content.endswith("[timed out after 1s — process group killed]")
    assert _sleeps(marker) == []


async def test_bash_cleans_and_cuts_output(ctx: ToolContext) -> None:
    result = await call(
        Bash(), ctx, command="printf '\\033[31mred\\033[0m\\n'; printf '10%%\\r50%%\\r100%%\\n'; seq 1 300"
    )
    lines = result.content.splitlines()
    assert lines[:3] == ["red", "100%", "1"]
    assert lines[100] == "[... 152 lines cut ...]"
    assert lines[101:103] == ["251", "252"] and lines[-2:] == ["300", "[exit code 0]"]


def test_runs_of_identical_lines_collapse_to_one_and_a_count() -> None:
    text = "start\n" + "warn: deprecated\n" * 5 + "a\na\n\n\n\nend\x1b[0m\nend"
    assert clean_output(text).split("\n") == [
        "start", "warn: deprecated", "[… repeated 4 more times]",
        "a", "a",  # two lines: the marker would save nothing
        "", "", "",  # blank lines are layout, not noise
        "end", "end",  # equal once the escape is gone, but only two
    ]


async def test_bash_collapses_repeated_lines_before_cutting(ctx: ToolContext) -> None:
    result = await call(Bash(), ctx, command="for i in $(seq 500); do echo retrying; done; echo >&2 fail; echo >&2 fail")
    assert result.content.splitlines() == [
        "retrying", "[… repeated 499 more times]", "[stderr]", "fail", "fail", "[exit code 0]"]


async def test_bash_policy_refusals(root: Path) -> None:
    ws = DiskWorkspace(root)
    strict = ToolContext(workspace=ws, settings=Settings(bash="allowlist"))
    result = await call(Bash(), strict, command="pytest -q; touch pwned")
    assert result.is_error and result.guard == "bash_refused" and "`touch`" in result.content
    assert not (root / "pwned").exists()
    result = await call(Bash(), strict, command="echo allowed")
    assert result.content == "allowed\n[exit code 0]"
    never = ToolContext(workspace=ws, settings=Settings(bash="never"))
    result = await call(Bash(), never, command="echo hi")
    assert result.guard == "bash_refused"


async def test_bash_ask_policy_consults_the_user(root: Path) -> None:
    asked: list[str] = []

    def confirm(answer: bool) -> Callable[[str], Awaitable[bool]]:
        async def ask(command: str) -> bool:
            asked.append(command)
            return answer

        return ask

    ws = DiskWorkspace(root)
    settings = Settings(bash="ask")
    result = await call(
        Bash(), ToolContext(workspace=ws, settings=settings, confirm=confirm(True)), command="touch yes.txt"
    )
    assert not result.is_error and (root / "yes.txt").exists()
    result = await call(
        Bash(), ToolContext(workspace=ws, settings=settings, confirm=confirm(False)), command="touch no.txt"
    )
    assert result.guard == "bash_refused" and "declined" in result.content and not (root / "no.txt").exists()
    result = await call(Bash(), ToolContext(workspace=ws, settings=settings), command="touch none.txt")
    assert result.guard == "bash_refused" and not (root / "none.txt").exists()
    # Allow-listed commands run without asking.
    result = await call(
        Bash(), ToolContext(workspace=ws, settings=settings, confirm=confirm(False)), command="ls"
    )
    assert not result.is_error
    assert asked == ["touch yes.txt", "touch no.txt"]
