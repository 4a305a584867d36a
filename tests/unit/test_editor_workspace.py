"""EditorWorkspace: buffers before disk, changes recorded not written, Bash in the agent's version."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.workspace import FileExists, FileMissing, NotText, PathOutsideWorkspace, WorkspaceError
from lc_lsp.editor_workspace import ChangeRejected, EditorWorkspace
from tests.fakes.buffers import Buffers


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def root(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "pkg").mkdir(parents=True)
    (ws / "pkg" / "__init__.py").write_text("")
    (ws / "pkg" / "core.py").write_text("def answer():\n    return 1\n")
    (ws / "notes.txt").write_text("disk notes\n")
    (ws / "image.bin").write_bytes(b"\x89PNG\0\0")
    return ws


@pytest.fixture
def buffers() -> Buffers:
    return Buffers()


@pytest.fixture
async def workspace(root: Path, buffers: Buffers, tmp_path: Path) -> AsyncIterator[EditorWorkspace]:
    ws = EditorWorkspace(root, buffers, sandbox_parent=tmp_path / "shadows")
    yield ws
    await ws.aclose()


async def test_reads_prefer_pending_then_buffer_then_disk(
    workspace: EditorWorkspace, buffers: Buffers, root: Path
) -> None:
    assert await workspace.read_text("notes.txt") == "disk notes\n"
    buffers.open[root / "notes.txt"] = ("unsaved notes\n", 4)
    assert await workspace.read_text("notes.txt") == "unsaved notes\n"
    await workspace.replace("notes.txt", "agent notes\n")
    assert await workspace.read_text("notes.txt") == "agent notes\n"
    assert await workspace.read_text(str(root / "notes.txt")) == "agent notes\n"  # absolute inside is fine


async def test_user_files_stay_byte_identical(workspace: EditorWorkspace, root: Path) -> None:
    before = _snapshot(root)
    await workspace.create("pkg/extra.py", "X = 1\n")
    await workspace.create("deep/new/dir/file.txt", "deep\n")
    await workspace.replace("pkg/core.py", "def answer():\n    return 42\n")
    assert _snapshot(root) == before
    assert not (root / "deep").exists()
    assert workspace.changes.paths() == ["pkg/extra.py", "deep/new/dir/file.txt", "pkg/core.py"]


async def test_change_bases_are_what_the_agent_saw(
    workspace: EditorWorkspace, buffers: Buffers, root: Path
) -> None:
    buffers.open[root / "pkg" / "core.py"] = ("def answer():\n    return 7\n", 12)
    seen = await workspace.read_text("pkg/core.py")
    # The user keeps typing after the agent's read; the base stays what the agent's edit came from.
    buffers.open[root / "pkg" / "core.py"] = ("def answer():\n    return 8\n", 13)
    await workspace.replace("pkg/core.py", seen.replace("7", "70"))
    await workspace.replace("pkg/core.py", seen.replace("7", "700"))  # a second edit: base unchanged
    await workspace.replace("notes.txt", "new notes\n")  # never read, not open: base from disk
    await workspace.create("fresh.py", "F = 1\n")

    core = workspace.changes.changes["pkg/core.py"]
    assert core.base == "def answer():\n    return 7\n"
    assert core.proposed == "def answer():\n    return 700\n"
    assert workspace.changes.changes["notes.txt"].base == "disk notes\n"
    assert workspace.changes.changes["fresh.py"].base is None
    assert workspace.base_versions == {"pkg/core.py": 12, "notes.txt": None, "fresh.py": None}


async def test_on_change_decides_and_a_rejection_records_nothing(
    root: Path, buffers: Buffers, tmp_path: Path
) -> None:
    calls: list[tuple[str, str | None, str]] = []
    answers = [True, False, False, True]

    async def on_change(path: str, base: str | None, proposed: str) -> bool:
        calls.append((path, base, proposed))
        return answers.pop(0)

    ws = EditorWorkspace(root, buffers, on_change=on_change, sandbox_parent=tmp_path / "shadows")
    await ws.replace("notes.txt", "one\n")
    with pytest.raises(ChangeRejected, match="declined"):
        await ws.replace("notes.txt", "two\n")
    with pytest.raises(ChangeRejected):
        await ws.create("new.py", "N = 1\n")
    await ws.replace("notes.txt", "three\n")

    # Each proposal is made against the agent's previous version, not the first base.
    assert calls == [
        ("notes.txt", "disk notes\n", "one\n"),
        ("notes.txt", "one\n", "two\n"),
        ("new.py", None, "N = 1\n"),
        ("notes.txt", "one\n", "three\n"),
    ]
    assert not await ws.exists("new.py")
    assert await ws.read_text("notes.txt") == "three\n"
    assert ws.changes.paths() == ["notes.txt"]
    assert ws.changes.changes["notes.txt"].base == "disk notes\n"


async def test_create_refuses_whatever_exists_in_any_layer(
    workspace: EditorWorkspace, buffers: Buffers, root: Path
) -> None:
    buffers.open[root / "unsaved.py"] = ("only in the editor\n", 1)
    await workspace.create("pending.py", "P = 1\n")
    for taken in ("unsaved.py", "pending.py", "notes.txt", "pkg"):
        with pytest.raises(FileExists):
            await workspace.create(taken, "clobber\n")
    with pytest.raises(WorkspaceError, match="pending.py is a file"):
        await workspace.create("pending.py/inner.py", "x\n")
    assert await workspace.read_text("pending.py") == "P = 1\n"
    assert workspace.changes.paths() == ["pending.py"]


async def test_missing_binary_and_folder_errors(workspace: EditorWorkspace) -> None:
    with pytest.raises(FileMissing):
        await workspace.replace("absent.py", "x\n")
    with pytest.raises(FileMissing):
        await workspace.read_text("absent.py")
    with pytest.raises(NotText):
        await workspace.read_text("image.bin")
    with pytest.raises(NotText):
        await workspace.replace("image.bin", "text now\n")
    with pytest.raises(WorkspaceError, match="directory"):
        await workspace.replace("pkg", "x\n")
    assert not workspace.changes


async def test_path_escapes_are_refused(workspace: EditorWorkspace, root: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("secret\n")
    (root / "escape").symlink_to(tmp_path)
    for bad in ("../secret.txt", str(tmp_path / "secret.txt"), "~/x", "a\0b", "C:\\x", "escape/secret.txt"):
        with pytest.raises(PathOutsideWorkspace):
            workspace.relative(bad)
        with pytest.raises(PathOutsideWorkspace):
            await workspace.read_text(bad)
        with pytest.raises(PathOutsideWorkspace):
            await workspace.create(bad, "x\n")
    assert not workspace.changes


async def test_listing_sees_pending_creates(workspace: EditorWorkspace) -> None:
    await workspace.create("pkg/extra.py", "X = 1\n")
    await workspace.create("newpkg/mod.py", "M = 1\n")
    await workspace.create("newpkg/node_modules/dep.js", "d\n")
    assert await workspace.list_files() == [
        "image.bin",
        "newpkg/mod.py",
        "notes.txt",
        "pkg/__init__.py",
        "pkg/core.py",
        "pkg/extra.py",
    ]
    assert await workspace.list_files("newpkg") == ["newpkg/mod.py"]
    assert await workspace.list_files("newpkg/mod.py") == ["newpkg/mod.py"]
    assert await workspace.is_dir("newpkg") and await workspace.exists("newpkg")
    assert not await workspace.is_dir("newpkg/mod.py")
    with pytest.raises(WorkspaceError, match="directory"):
        await workspace.read_text("newpkg")
    with pytest.raises(FileMissing):
        await workspace.list_files("nowhere")


async def test_bash_sees_the_agents_version_and_disk_stays(
    workspace: EditorWorkspace, buffers: Buffers, root: Path
) -> None:
    before = _snapshot(root)
    buffers.open[root / "notes.txt"] = ("unsaved in the editor\n", 3)
    await workspace.replace("pkg/core.py", "def answer():\n    return 42\n")
    await workspace.create("pkg/helper.py", "from pkg.core import answer\nDOUBLE = answer() * 2\n")

    result = await workspace.run("cat pkg/core.py notes.txt", timeout=20)
    assert result.exit_code == 0
    assert result.stdout == "def answer():\n    return 42\nunsaved in the editor\n"

    result = await workspace.run(f'"{sys.executable}" -c "import pkg.helper; print(pkg.helper.DOUBLE)"', timeout=20)
    assert (result.exit_code, result.stdout) == (0, "84\n"), result.stderr
    assert _snapshot(root) == before


async def test_shadow_picks_up_the_users_disk_change_between_runs(workspace: EditorWorkspace, root: Path) -> None:
    assert (await workspace.run("cat notes.txt", timeout=20)).stdout == "disk notes\n"
    (root / "notes.txt").write_text("the user saved this\n")
    (root / "added.txt").write_text("added\n")
    result = await workspace.run("cat notes.txt added.txt", timeout=20)
    assert result.stdout == "the user saved this\nadded\n"


async def test_command_writes_never_reach_the_users_tree(workspace: EditorWorkspace, root: Path) -> None:
    (root / "node_modules" / "dep").mkdir(parents=True)
    (root / "node_modules" / "dep" / "index.js").write_text("dep\n")
    before = _snapshot(root)
    result = await workspace.run(
        "echo made > made.txt && echo changed > notes.txt && mkdir -p build && echo o > build/out.o "
        "&& test -L node_modules && cat node_modules/dep/index.js",
        timeout=20,
    )
    assert (result.exit_code, result.stdout) == (0, "dep\n"), result.stderr
    assert _snapshot(root) == before
    assert not (root / "made.txt").exists() and not (root / "build").exists()
    # The next command starts from the agent's version again, not from what the last one wrote.
    assert (await workspace.run("cat notes.txt", timeout=20)).stdout == "disk notes\n"


async def test_aclose_removes_the_shadow_and_is_idempotent(workspace: EditorWorkspace, tmp_path: Path) -> None:
    await workspace.run("true", timeout=20)
    assert os.listdir(tmp_path / "shadows") != []
    await workspace.aclose()
    await workspace.aclose()
    assert os.listdir(tmp_path / "shadows") == []
