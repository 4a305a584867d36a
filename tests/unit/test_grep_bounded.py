"""Grep can never freeze anything: ripgrep (or the Python search in a child process) is bounded in time
and off the event loop, in a DiskWorkspace and in the editor's workspace, whose unsaved buffers and
pending files it searches instead of the disk's text; .gitignore'd files are left out.

A backtracking pattern on one long line once froze the language server's event loop for 24 s: the
editor's Grep matched in a thread, and Python's `re` holds the GIL for a whole line."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

import agent.tools.grep as grep_module
from agent.settings import Settings
from agent.tools.base import ToolContext, ToolResult
from agent.tools.grep import Grep
from agent.workspace import DiskWorkspace, Workspace
from lc_lsp.editor_workspace import EditorWorkspace
from tests.fakes.buffers import Buffers

CATASTROPHIC = r"(a+)+$"
LONG_LINE = "a" * 100_000 + "!\n"  # the match fails at the very end: backtracking explores every split
ENGINES = [pytest.param(True, id="ripgrep"), pytest.param(False, id="python")]


pytestmark = pytest.mark.usefixtures("ripgrep")  # the fixtures are in tests/unit/conftest.py


async def grep(workspace: Workspace, use_ripgrep: bool, **arguments: object) -> ToolResult:
    tool = Grep(use_ripgrep=use_ripgrep)
    context = ToolContext(workspace=workspace, settings=Settings())
    return await tool.run(tool.parse(arguments), context)


async def timed(search: asyncio.Future[ToolResult] | asyncio.Task[ToolResult]) -> tuple[ToolResult, float, float]:
    """(result, seconds it took, longest gap of a 10 ms ticker on the same loop meanwhile)."""
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    started = time.monotonic()
    result = await search
    elapsed = time.monotonic() - started
    ticking.cancel()
    return result, elapsed, max(gaps, default=elapsed)


def put(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("use_ripgrep", ENGINES)
@pytest.mark.parametrize("kind", ["disk", "editor"])
async def test_a_catastrophic_pattern_on_a_long_line_neither_hangs_nor_freezes_the_loop(
    kind: str, use_ripgrep: bool, root: Path, buffers: Buffers, editor: EditorWorkspace,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(grep_module, "PYTHON_SEARCH_TIMEOUT_S", 1.0)
    put(root, "notes.txt", "nothing to see\n")
    workspace: Workspace
    if kind == "disk":
        put(root, "long.txt", LONG_LINE)
        workspace = DiskWorkspace(root)
    else:  # the long line is in an unsaved buffer: the overlay search must be bounded too
        put(root, "long.txt", "short\n")
        buffers.open[root / "long.txt"] = (LONG_LINE, 3)
        workspace = editor
    search = asyncio.ensure_future(grep(workspace, use_ripgrep, pattern=CATASTROPHIC, output_mode="content"))
    result, elapsed, gap = await timed(search)
    assert elapsed < 5.0, elapsed
    assert gap < 0.2, gap
    if use_ripgrep:  # a linear-time engine: the answer itself
        assert result.content == f"No matches for {CATASTROPHIC!r} in the workspace."
    else:  # backtracking: stopped at the deadline, and the model is told so
        assert "No matches" in result.content and "stopped early" in result.content
        assert "longer than 1 s" in result.content and "simplify the pattern" in result.content


@pytest.mark.parametrize("use_ripgrep", ENGINES)
async def test_the_python_search_keeps_what_it_found_before_the_deadline(
    use_ripgrep: bool, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grep_module, "PYTHON_SEARCH_TIMEOUT_S", 1.0)
    put(root, "a_first.txt", "aaab\n")
    put(root, "b_long.txt", LONG_LINE)
    result = await grep(DiskWorkspace(root), use_ripgrep, pattern=r"(a+)+b")
    if use_ripgrep:
        assert result.content == "a_first.txt"
    else:
        lines = result.content.splitlines()
        assert lines[0] == "a_first.txt" and "results cut" in lines[-1] and "simplify the pattern" in lines[-1]


@pytest.mark.parametrize("use_ripgrep", ENGINES)
async def test_unsaved_buffers_and_pending_files_replace_the_disk_text(
    use_ripgrep: bool, root: Path, buffers: Buffers, editor: EditorWorkspace
) -> None:
    put(root, "a.py", "old_name = 1\n")
    put(root, "b.py", "old_name = 2\n")
    put(root, "pkg/c.py", "old_name = 3\n")
    buffers.open[root / "a.py"] = ("x = 0\nnew_name = 1\n", 7)  # typed, not saved
    buffers.open[root / "b.py"] = ("old_name = 2\n", 1)  # open, same as disk
    await editor.create("pkg/d.py", "new_name = 4\n")  # proposed by the agent, not on disk
    await editor.replace("pkg/c.py", "new_name = 3\n")
    assert await grep(editor, use_ripgrep, pattern="old_name") == ToolResult(
        content="b.py", summary="Grep old_name → 1 files")
    found = await grep(editor, use_ripgrep, pattern="new_name", output_mode="content")
    assert found.content.splitlines() == ["a.py:2:new_name = 1", "pkg/c.py:1:new_name = 3", "pkg/d.py:1:new_name = 4"]
    found = await grep(editor, use_ripgrep, pattern="new_name", path="pkg", glob="d.*")
    assert found.content == "pkg/d.py"
    found = await grep(editor, use_ripgrep, pattern="name", path="a.py", output_mode="count")
    assert found.content == "a.py:1"
    assert set(editor.base_versions) == {"pkg/c.py", "pkg/d.py"}  # searching is not reading: no review base
    assert (root / "a.py").read_text() == "old_name = 1\n" and not (root / "pkg/d.py").exists()


@pytest.mark.parametrize("kind", ["disk", "editor"])
async def test_gitignored_files_are_skipped(
    kind: str, root: Path, buffers: Buffers, editor: EditorWorkspace
) -> None:
    put(root, ".gitignore", "build_out/\n*.log\n")
    put(root, "sub/.gitignore", "secret.txt\n")
    for rel in ["keep.py", "build_out/gen.py", "app.log", "sub/secret.txt", "sub/ok.txt"]:
        put(root, rel, "needle\n")
    workspace: Workspace = DiskWorkspace(root)
    if kind == "editor":  # unsaved buffers of ignored files stay ignored; others are searched
        for rel in ["sub/secret.txt", "app.log", "keep.py"]:
            buffers.open[root / rel] = ("needle, edited\n", 2)
        workspace = editor
    result = await grep(workspace, True, pattern="needle", output_mode="content")
    expected = ["keep.py:1:needle, edited" if kind == "editor" else "keep.py:1:needle", "sub/ok.txt:1:needle"]
    assert result.content.splitlines() == expected
    result = await grep(workspace, True, pattern="needle", path="sub")
    assert result.content == "sub/ok.txt"


def _workers() -> list[int]:
    """Our children that are Python searches (grep_worker processes)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                command = handle.read()
            with open(f"/proc/{name}/stat", "rb") as handle:
                parent = int(handle.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid() and b"agent.tools.grep_worker" in command:
            found.append(int(name))
    return found


async def test_cancelling_a_search_kills_its_process(root: Path) -> None:
    put(root, "long.txt", LONG_LINE)
    search = asyncio.create_task(grep(DiskWorkspace(root), False, pattern=CATASTROPHIC))
    deadline = time.monotonic() + 5
    while not _workers() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert _workers(), "the Python search never started"
    search.cancel()
    with pytest.raises(asyncio.CancelledError):
        await search
    assert _workers() == []


@pytest.mark.parametrize("use_ripgrep", ENGINES)
async def test_only_plain_files_are_searched(use_ripgrep: bool, root: Path, tmp_path: Path) -> None:
    """As the Workspace reads them: a hard link (which can lead out of the workspace) and a named pipe
    (which would block a reader) are left out."""
    secret = tmp_path / "secret.txt"
    secret.write_text("needle from outside\n")
    os.link(secret, root / "linked.txt")
    os.mkfifo(root / "pipe.txt")
    put(root, "plain.txt", "needle\n")
    result, elapsed, _ = await timed(asyncio.ensure_future(grep(DiskWorkspace(root), use_ripgrep, pattern="needle")))
    assert result.content == "plain.txt"
    assert elapsed < 5.0
