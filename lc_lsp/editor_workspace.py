"""The agent's Workspace inside the editor: it reads what the user sees and writes nothing.

Reads take the agent's own pending text first (a file it created or replaced in this session),
then the editor's unsaved buffer, then disk. Creating and replacing only record the change in
`changes`, after the optional `on_change` hook (review modes that ask the user per change) has
accepted it; the user's files are changed later, by review. Shell commands run in a shadow copy
of the tree with the agent's version applied (lc_lsp/shadow.py), so the tests see its changes.

The path rules (inside the root, symlinks resolved, no `..`, `~`, NUL or Windows forms) and disk
reads come from a `DiskWorkspace` on the same root, which is never asked to write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path, PurePosixPath
from typing import Protocol

from agent.process import run_command
from agent.workspace import (
    SKIP_DIRS,
    ChangeSet,
    DiskWorkspace,
    FileExists,
    FileMissing,
    RunResult,
    WorkspaceError,
)
from lc_lsp.shadow import ShadowTree


class BufferSource(Protocol):
    def buffer(self, path: Path) -> tuple[str, int | None] | None:
        """Text and version of the open editor buffer for `path` (absolute), or None if not open."""
        ...


# (workspace-relative path, text the change was made against or None for a new file, proposed
# text) -> whether the user accepted it.
ChangeHook = Callable[[str, str | None, str], Awaitable[bool]]


class ChangeRejected(WorkspaceError):
    """The on_change hook said no: the user declined the change."""


class EditorWorkspace:
    """A Workspace over open buffers and disk that records changes instead of writing them."""

    def __init__(
        self,
        root: Path,
        buffers: BufferSource,
        *,
        on_change: ChangeHook | None = None,
        shadow_parent: Path | None = None,
    ) -> None:
        self._disk = DiskWorkspace(root)
        self.root = self._disk.root
        self.changes = ChangeSet()
        # The buffer version behind the text each path's first change was made against: the
        # latest read before that change (None when it came from disk or the file is new).
        self.base_versions: dict[str, int | None] = {}
        self._buffers = buffers
        self._on_change = on_change
        self._pending: dict[str, str] = {}  # the agent's version of every file it touched
        self._seen: dict[str, str] = {}  # latest text read of each file it has not changed yet
        self._shadow = ShadowTree(self.root, shadow_parent)
        self._run_lock = asyncio.Lock()

    # --- paths -----------------------------------------------------------------------------

    def relative(self, path: str) -> str:
        return self._disk.relative(path)

    def _buffer(self, name: str) -> tuple[str, int | None] | None:
        return self._buffers.buffer(self.root / name)

    def _pending_dir(self, name: str) -> bool:
        """Whether `name` is a folder only because the agent created files in it."""
        if name == ".":
            return True
        prefix = name + "/"
        return any(path.startswith(prefix) for path in self._pending)

    # --- reading ---------------------------------------------------------------------------

    async def read_text(self, path: str) -> str:
        name = self.relative(path)
        text, version = await self._current(name)
        if name not in self._pending:
            self._seen[name] = text
            self.base_versions[name] = version
        return text

    async def _current(self, name: str) -> tuple[str, int | None]:
        """The agent's view of a file: (text, buffer version or None)."""
        pending = self._pending.get(name)
        if pending is not None:
            return pending, self.base_versions.get(name)
        buffer = self._buffer(name)
        if buffer is not None:
            return buffer
        if not await self._disk.exists(name) and self._pending_dir(name):
            raise WorkspaceError(f"{name} is a directory, not a file")
        return await self._disk.read_text(name), None

    async def exists(self, path: str) -> bool:
        name = self.relative(path)
        return (
            name in self._pending
            or self._buffer(name) is not None
            or await self._disk.exists(name)
            or self._pending_dir(name)
        )

    async def is_dir(self, path: str) -> bool:
        name = self.relative(path)
        return await self._disk.is_dir(name) or self._pending_dir(name)

    async def list_files(self, path: str = ".") -> list[str]:
        name = self.relative(path)
        if name in self._pending or (self.root / name).is_file():
            return [name]
        on_disk = await self._disk.is_dir(name)
        if not on_disk and not self._pending_dir(name):
            raise FileMissing(f"No such directory: {name}")
        found = set(await self._disk.list_files(name)) if on_disk else set()
        prefix = "" if name == "." else name + "/"
        for created in self._pending:
            if created.startswith(prefix):
                # Same rule as the disk walk: nothing inside a skipped folder below `path`.
                folders = PurePosixPath(created[len(prefix) :]).parts[:-1]
                if not SKIP_DIRS.intersection(folders):
                    found.add(created)
        return sorted(found)

    # --- changing (recorded, never written) ------------------------------------------------

    async def create(self, path: str, text: str) -> None:
        name = self.relative(path)
        if await self.exists(name):
            raise FileExists(f"{name} already exists")
        self._refuse_file_ancestor(name)
        await self._propose(name, None, text)
        self.changes.record(name, None, text)
        self.base_versions.setdefault(name, None)
        self._pending[name] = text

    def _refuse_file_ancestor(self, name: str) -> None:
        for folder in PurePosixPath(name).parents:
            if str(folder) == ".":
                break
            step = folder.as_posix()
            disk = self.root / step
            if step in self._pending or self._buffer(step) is not None or (disk.exists() and not disk.is_dir()):
                raise WorkspaceError(f"cannot create {name}: {step} is a file, not a folder")

    async def replace(self, path: str, text: str) -> None:
        name = self.relative(path)
        first = name not in self._pending
        if first:
            if not await self.exists(name):
                raise FileMissing(f"File not found: {name}")
            if await self.is_dir(name):
                raise WorkspaceError(f"{name} is a directory, not a file")
            current, version = await self._current(name)  # also refuses binary files
            if name in self._seen:  # the text the agent read is what its new text derives from
                current, version = self._seen[name], self.base_versions.get(name)
        else:
            current = self._pending[name]
        if text == current:
            return  # nothing to change, nothing to ask about
        await self._propose(name, current, text)
        if first:
            self.base_versions[name] = version
            self._seen.pop(name, None)
        self.changes.record(name, current, text)  # a later change keeps the first base
        self._pending[name] = text

    async def _propose(self, name: str, base: str | None, text: str) -> None:
        if self._on_change is not None and not await self._on_change(name, base, text):
            raise ChangeRejected(
                f"The user declined this change to {name}; the file keeps its previous content. "
                "Do not make the same change again: take another approach or ask what they want."
            )

    # --- running ---------------------------------------------------------------------------

    async def run(self, command: str, timeout: float) -> RunResult:
        """Run `command` in the shadow tree, which holds the agent's version of the workspace.
        What the command writes stays there."""
        # One command at a time, so a sync never rewrites files under a running command.
        async with self._run_lock:
            cwd = await self._shadow.sync(self._overlay)
            return await run_command(command, cwd, timeout)

    def _overlay(self, disk_files: Collection[str]) -> dict[str, str]:
        texts: dict[str, str] = {}
        for name in disk_files:
            buffer = self._buffer(name)
            if buffer is not None:
                texts[name] = buffer[0]
        texts.update(self._pending)
        return texts

    async def aclose(self) -> None:
        """Remove the shadow tree; safe to call more than once."""
        await self._shadow.aclose()

    @property
    def shadow_root(self) -> Path | None:
        """Where commands run; None until the first one."""
        return self._shadow.root

