"""The editor's commands run on an overlay of the user's tree: no copy, nothing reaches the user's
files, and what a command changes in the user's files is part of the review, said to the model."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.sandbox import SandboxPolicy
from lc_lsp.editor_workspace import EditorWorkspace
from tests.fakes.buffers import Buffers
from tests.sandbox.conftest import snapshot

POLICY = SandboxPolicy()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "core.py").write_text("def answer():\n    return 0\n")
    (root / "notes.txt").write_text("disk notes\n")
    (root / "node_modules" / "dep").mkdir(parents=True)
    (root / "node_modules" / "dep" / "index.js").write_text("module.exports = 1\n")
    (root / ".venv" / "lib" / "site-packages").mkdir(parents=True)
    return root


@pytest.fixture
async def workspace(root: Path, tmp_path: Path) -> AsyncIterator[EditorWorkspace]:
    ws = EditorWorkspace(root, Buffers(), sandbox_parent=tmp_path / "state")
    yield ws
    await ws.aclose()


async def test_commands_see_the_agents_version_and_buffers_and_the_tree_stays(root: Path, tmp_path: Path) -> None:
    buffers = Buffers()
    workspace = EditorWorkspace(root, buffers, sandbox_parent=tmp_path / "state")
    before = snapshot(root)
    buffers.open[root / "notes.txt"] = ("unsaved in the editor\n", 3)
    await workspace.replace("pkg/core.py", "def answer():\n    return 42\n")
    await workspace.create("pkg/helper.py", "from pkg.core import answer\nDOUBLE = answer() * 2\n")
    result = await workspace.run("cat notes.txt && python3 -c 'import pkg.helper; print(pkg.helper.DOUBLE)'",
                                 20, POLICY)
    assert (result.exit_code, result.stdout) == (0, "unsaved in the editor\n84\n"), result.stderr
    # The editor saved the buffer: the layer lets the user's file show through again.
    buffers.open.pop(root / "notes.txt")
    (root / "notes.txt").write_text("saved by the user\n")
    assert (await workspace.run("cat notes.txt", 20, POLICY)).stdout == "saved by the user\n"
    (root / "notes.txt").write_text("disk notes\n")
    assert snapshot(root) == before
    await workspace.aclose()


async def test_dependency_folders_are_never_written_through(workspace: EditorWorkspace, root: Path) -> None:
    before = snapshot(root)
    result = await workspace.run(
        "echo 'module.exports = \"pwned\"' > node_modules/dep/index.js && "
        "echo 'import os; os.system(\"touch /tmp/x\")' > .venv/lib/site-packages/evil.pth && "
        "cat node_modules/dep/index.js",
        20,
        POLICY,
    )
    assert result.exit_code == 0, result.stderr
    assert "pwned" in result.stdout  # the command sees its own write, in the layer
    assert snapshot(root) == before
    await workspace.aclose()  # the review discarded: still nothing in the user's tree
    assert snapshot(root) == before
    assert workspace.changes.paths() == []  # dependency folders are never proposed


async def test_links_out_lead_to_the_sandboxes_view_not_the_hosts(
    workspace: EditorWorkspace, root: Path, fake_home: Path, host_environ: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in host_environ.items():
        monkeypatch.setenv(key, value)
    ws = EditorWorkspace(root, Buffers(), sandbox_parent=root.parent / "state2")
    (root / "env_link").symlink_to("/proc/self/environ")
    (root / "key_link").symlink_to(fake_home / ".ssh" / "id_ed25519")
    result = await ws.run("grep -r -a CANARY . ; cat env_link key_link", 20, POLICY)
    await ws.aclose()
    assert "CANARY" not in result.stdout + result.stderr


async def test_a_commands_change_to_a_user_file_is_proposed_and_said(workspace: EditorWorkspace, root: Path) -> None:
    await workspace.replace("pkg/core.py", "def answer():\n    return 42\n")
    result = await workspace.run(
        "sed -i 's/42/43/' pkg/core.py && echo made > made.txt && mkdir -p build && echo o > build/out.o "
        "&& rm notes.txt",
        20,
        POLICY,
    )
    assert result.exit_code == 0, result.stderr
    assert workspace.changes.changes["pkg/core.py"].proposed == "def answer():\n    return 43\n"
    assert workspace.changes.changes["pkg/core.py"].base == "def answer():\n    return 0\n"
    assert await workspace.read_text("pkg/core.py") == "def answer():\n    return 43\n"
    assert set(workspace.changes.paths()) == {"pkg/core.py"}  # made.txt, build/ and the deletion: not proposed
    notes = "\n".join(result.notes)
    assert "your command changed pkg/core.py" in notes
    assert "made.txt" in notes and "not proposed" in notes
    assert "deleted" in notes and "notes.txt" in notes
    assert "build/out.o" not in notes
    # The next command sees the same state: the layer and the proposal are one.
    again = await workspace.run("cat pkg/core.py made.txt; test -e notes.txt || echo gone", 20, POLICY)
    assert again.stdout == "def answer():\n    return 43\nmade\ngone\n"
    assert again.notes == ()
    assert (root / "pkg" / "core.py").read_text() == "def answer():\n    return 0\n"


async def test_a_declined_command_change_is_undone_in_the_layer(root: Path, tmp_path: Path) -> None:
    async def decline(name: str, base: str | None, text: str) -> bool:
        return False

    ws = EditorWorkspace(root, Buffers(), on_change=decline, sandbox_parent=tmp_path / "state")
    result = await ws.run("echo changed > notes.txt", 20, POLICY)
    assert "undone" in "\n".join(result.notes)
    assert ws.changes.paths() == []
    assert (await ws.run("cat notes.txt", 20, POLICY)).stdout == "disk notes\n"
    await ws.aclose()


@pytest.mark.slow
async def test_the_first_command_in_a_huge_workspace_copies_nothing(tmp_path: Path) -> None:
    root = tmp_path / "huge"
    for folder in range(120):
        sub = root / f"pkg{folder}"
        sub.mkdir(parents=True)
        for index in range(500):  # 60,000 files: more than the old copy would take at all
            (sub / f"m{index}.py").write_text("x = 1\n")
    ws = EditorWorkspace(root, Buffers(), sandbox_parent=tmp_path / "state")
    await ws.create("new.py", "print('new')\n")
    started = time.monotonic()
    result = await ws.run("python3 new.py && cat pkg119/m499.py", 60, POLICY)
    elapsed = time.monotonic() - started
    assert (result.exit_code, result.stdout) == (0, "new\nx = 1\n"), result.stderr
    layer_files = [name for _, _, names in os.walk(ws.layer) for name in names]
    assert layer_files == ["new.py"]
    assert elapsed < 10  # seconds with the old copy; a fraction of one here (bench/sandbox.py measures it)
    await ws.aclose()
