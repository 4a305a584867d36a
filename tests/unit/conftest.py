"""Fixtures the workspace and search tests share: an empty workspace folder, the editor's buffers, an
EditorWorkspace over both, and a check that ripgrep is installed."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lc_lsp.editor_workspace import EditorWorkspace
from tests.fakes.buffers import Buffers


@pytest.fixture
def ripgrep() -> None:
    assert shutil.which("rg"), "ripgrep is not installed: scripts/deps/base.sh installs it"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


@pytest.fixture
def buffers() -> Buffers:
    return Buffers()


@pytest.fixture
async def editor(root: Path, buffers: Buffers, tmp_path: Path) -> AsyncIterator[EditorWorkspace]:
    workspace = EditorWorkspace(root, buffers, sandbox_parent=tmp_path / "sandboxes")
    yield workspace
    await workspace.aclose()
