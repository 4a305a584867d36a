"""Glob and Grep cost what their result costs, not what the tree costs: ripgrep walks only the folder a
pattern's literal prefix names, .gitignore applies, the editor's unsaved and proposed texts are searched
instead of the disk's, and output past the caps stops ripgrep (it is killed, not drained)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

import agent.tools.glob as glob_module
import agent.tools.grep as grep_module
from agent.settings import Settings
from agent.tools.base import Tool, ToolContext, ToolResult
from agent.tools.glob import Glob, walk_start
from agent.tools.grep import Grep
from agent.tools.ripgrep import run_bounded
from agent.workspace import DiskWorkspace, Workspace
from lc_lsp.editor_workspace import EditorWorkspace
from tests.fakes.buffers import Buffers


pytestmark = pytest.mark.usefixtures("ripgrep")  # the fixtures are in tests/unit/conftest.py


def put(root: Path, rel: str, text: str = "x\n") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def call(workspace: Workspace, tool: Tool, **arguments: object) -> ToolResult:
    return await tool.run(tool.parse(arguments), ToolContext(workspace=workspace, settings=Settings()))


@pytest.mark.parametrize(
    ("pattern", "start", "depth"),
    [
        ("pkg0/sub1/*.py", "pkg0/sub1", 1),
        ("./pkg0/sub1/mod.py", "pkg0/sub1", 1),
        ("src/*/x.py", "src", 2),
        ("src/**/x.py", "src", None),
        ("*.py", "", None),
        ("src/{a,b}/*.ts", "src", 2),
        ("{src,lib}/*.ts", "", 2),
        ("[ab]/*.py", "", 2),
    ],
)
def test_the_walk_starts_at_the_literal_prefix(pattern: str, start: str, depth: int | None) -> None:
    assert walk_start(pattern) == (start, depth)


async def test_a_narrow_glob_walks_only_its_folder(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for rel in ["pkg0/sub1/a.py", "pkg0/sub1/b.txt", "pkg0/sub1/deeper/c.py", "pkg0/sub2/d.py", "pkg1/e.py"]:
        put(root, rel)
    walks: list[tuple[Path, list[str]]] = []

    async def spy(
        argv: list[str], cwd: Path, timeout: float, on_line: Callable[[bytes], None]
    ) -> tuple[int | None, str]:
        walks.append((cwd, argv))
        return await run_bounded(argv, cwd, timeout, on_line)

    monkeypatch.setattr(glob_module, "run_bounded", spy)
    result = await call(DiskWorkspace(root), Glob(), pattern="pkg0/sub1/*.py")
    assert result.content == "pkg0/sub1/a.py"
    [(cwd, argv)] = walks
    assert cwd == root / "pkg0/sub1" and "--max-depth=1" in argv
    walks.clear()
    result = await call(DiskWorkspace(root), Glob(), pattern="*.py", path="pkg0")
    assert result.content.splitlines() == ["pkg0/sub1/a.py", "pkg0/sub1/deeper/c.py", "pkg0/sub2/d.py"]
    [(cwd, argv)] = walks
    assert cwd == root / "pkg0" and not any(arg.startswith("--max-depth") for arg in argv)


async def test_a_narrow_glob_in_a_huge_tree_reads_only_its_folder(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """5,000 files beside the folder asked for: ripgrep prints every file it walks (the pattern is
    applied as its lines arrive), so the lines read are the files visited."""
    for index in range(50):
        folder = root / "huge" / f"d{index}"
        folder.mkdir(parents=True)
        for name in range(100):
            (folder / f"f{name}.py").write_bytes(b"")
    put(root, "pkg/sub/wanted.py")
    put(root, "pkg/sub/deeper/not_wanted.py")
    visited: list[bytes] = []

    async def counting(
        argv: list[str], cwd: Path, timeout: float, on_line: Callable[[bytes], None]
    ) -> tuple[int | None, str]:
        def take(raw: bytes) -> None:
            visited.append(raw)
            on_line(raw)

        return await run_bounded(argv, cwd, timeout, take)

    monkeypatch.setattr(glob_module, "run_bounded", counting)
    result = await call(DiskWorkspace(root), Glob(), pattern="pkg/sub/*.py")
    assert result.content == "pkg/sub/wanted.py"
    assert visited == [b"wanted.py\n"]
    visited.clear()
    result = await call(DiskWorkspace(root), Glob(), pattern="**/*.py")
    assert result.summary == "Glob **/*.py → 5002 files" and len(visited) == 5002


@pytest.mark.parametrize("kind", ["disk", "editor"])
async def test_glob_follows_gitignore_and_the_workspace_rules(
    kind: str, root: Path, editor: EditorWorkspace, tmp_path: Path
) -> None:
    put(root, ".gitignore", "ignored/\n*.log\n")
    for rel in ["keep.py", ".hidden/h.py", "ignored/i.py", "app.log", "node_modules/m.py", "src/s.py"]:
        put(root, rel)
    outside = tmp_path / "outside"
    outside.mkdir()
    put(outside, "secret.py")
    (root / "link").symlink_to(outside, target_is_directory=True)
    workspace: Workspace = DiskWorkspace(root)
    if kind == "editor":
        await editor.create("src/proposed.py", "new\n")
        await editor.create("ignored_not/p.py", "new\n")
        workspace = editor
    found = (await call(workspace, Glob(), pattern="**/*.py")).content.splitlines()
    expected = [".hidden/h.py", "keep.py", "src/s.py"]
    if kind == "editor":
        expected = [".hidden/h.py", "ignored_not/p.py", "keep.py", "src/proposed.py", "src/s.py"]
    assert found == expected
    assert (await call(workspace, Glob(), pattern="*.log")).content.startswith("No files match")
    assert (await call(workspace, Glob(), pattern="link/*.py")).content.startswith("No files match")
    refused = await call(workspace, Glob(), pattern="*.py", path="link")
    assert refused.is_error and refused.guard == "path_refused"
    refused = await call(workspace, Glob(), pattern="../outside/*.py")
    assert refused.is_error and "inside the workspace" in refused.content


def _rg_children() -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read()
        except OSError:
            continue
        command, _, rest = fields.partition(b") ")
        if command.endswith(b"(rg") and int(rest.split()[1]) == os.getpid():
            found.append(int(name))
    return found


async def test_glob_stops_ripgrep_at_its_cap(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(glob_module, "MAX_COLLECTED", 50)
    for index in range(300):
        put(root, f"many/f{index:03d}.txt")
    result = await call(DiskWorkspace(root), Glob(), pattern="many/*.txt")
    lines = result.content.splitlines()
    assert len(lines) == 51
    assert lines[-1] == "... possibly more: the listing stopped at 50 matching files (narrow the pattern or the path)"
    assert _rg_children() == []


async def test_grep_stops_ripgrep_at_its_cap(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grep_module, "_READ_LIMIT", 10_000)
    put(root, "big.txt", "".join(f"match line {index}\n" for index in range(200_000)))
    result = await call(DiskWorkspace(root), Grep(), pattern="match", output_mode="content")
    assert "results cut (too many matches)" in result.content.splitlines()[-1]
    assert len(result.content) < 12_000
    assert _rg_children() == []


async def test_grep_in_the_editor_searches_what_the_user_and_agent_see(
    root: Path, buffers: Buffers, editor: EditorWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(root, ".gitignore", "heavy/\n")
    put(root, "a.py", "token = 'stale on disk'\n")
    put(root, "b.py", "nothing\n")
    put(root, "c.py", "token = 'on disk'\n")
    put(root, "heavy/gen.py", "token\n")
    buffers.open[root / "a.py"] = ("fresh = 1\n", 5)  # the disk text's token is stale
    buffers.open[root / "b.py"] = ("token = 'typed, unsaved'\n", 2)
    await editor.create("new/d.py", "token = 'proposed'\n")

    async def no_python(*args: object, **kwargs: object) -> None:
        raise AssertionError("ripgrep should have answered")

    monkeypatch.setattr(grep_module, "_python_search", no_python)
    result = await call(editor, Grep(), pattern="token", output_mode="content")
    assert result.content.splitlines() == [
        "b.py:1:token = 'typed, unsaved'", "c.py:1:token = 'on disk'", "new/d.py:1:token = 'proposed'"]
