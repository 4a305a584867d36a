"""The agent's Workspace inside the editor: it reads what the user sees and writes nothing.

Reads take the agent's own pending text first (a file it created or replaced in this session),
then the editor's unsaved buffer, then disk. Creating and replacing only record the change in
`changes`, after the optional `on_change` hook (review modes that ask the user per change) has
accepted it; the user's files are changed later, by review. Shell commands run in a shadow copy
of the tree with the agent's version applied (lc_lsp/shadow.py), so the tests see its changes.

The path rules (inside the root, symlinks resolved, no `..`, `~`, NUL or Windows forms) and disk
reads (regular single-link files only; over MAX_FILE_BYTES a window at a time) come from a
`DiskWorkspace` on the same root, which is never asked to write. Changes are refused as on disk:
nothing under `.git`, nothing over MAX_FILE_BYTES.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path, PurePosixPath
from typing import Protocol

from agent.process import run_command
from agent.run_result import RunResult
from agent.sandbox import Room, SandboxPolicy, run_in_room
from agent.sandbox.layer import Layer, LayerChanges
from agent.workspace import (
    SKIP_DIRS,
    ChangeSet,
    DiskWorkspace,
    FileExists,
    FileMissing,
    LineWindow,
    WorkspaceError,
    encode_text,
    refuse_repository_metadata,
)
from lc_lsp.shadow import ShadowTree


class BufferSource(Protocol):
    def buffer(self, path: Path) -> tuple[str, int | None] | None:
        """Text and version of the open editor buffer for `path` (absolute), or None if not open."""
        ...

    def open_paths(self) -> list[Path]:
        """The absolute paths of every open buffer."""
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
        sandbox_parent: Path | None = None,
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
        self._room = Room(self.root, layer=True, parent=sandbox_parent)
        self._layer_state: Layer | None = None  # made with the room, on the first command
        self._shadow = ShadowTree(self.root, sandbox_parent)
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

    async def read_window(self, path: str, start: int, count: int, width: int, chars: int) -> LineWindow:
        # read_text returns the agent's text and open buffers whole, whatever their size (they are
        # in memory already), so only a file on disk is ever too large for it: stream it from there.
        return await self._disk.read_window(self.relative(path), start, count, width, chars)

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
        if name in self._pending:
            return [name]
        on_disk = await self._disk.is_dir(name)
        if not on_disk and not self._pending_dir(name):
            return await self._disk.list_files(name)  # the file's own name, or FileMissing
        found = set(await self._disk.list_files(name)) if on_disk else set()
        prefix = "" if name == "." else name + "/"
        for created in self._pending:
            if created.startswith(prefix):
                # Same rule as the disk walk: nothing inside a skipped folder below `path`.
                folders = PurePosixPath(created[len(prefix) :]).parts[:-1]
                if not SKIP_DIRS.intersection(folders):
                    found.add(created)
        return sorted(found)

    async def texts_over_disk(self, path: str = ".") -> dict[str, str]:
        """For Grep: the texts under `path` that differ from disk (unsaved buffers, the agent's
        pending files), by workspace-relative path. Unlike read_text, not a read the review tracks."""
        name = self.relative(path)
        prefix = "" if name == "." else name + "/"
        return {other: text for other, text in (await self._layer_texts()).items()
                if other == name or other.startswith(prefix)}

    # --- changing (recorded, never written) ------------------------------------------------

    async def create(self, path: str, text: str) -> None:
        name = self.relative(path)
        refuse_repository_metadata(name)
        if await self.exists(name):
            raise FileExists(f"{name} already exists")
        encode_text(name, text)  # refused now, not when the review writes it
        await self._refuse_file_ancestor(name)
        await self._propose(name, None, text)
        self.changes.record(name, None, text)
        self.base_versions.setdefault(name, None)
        self._pending[name] = text

    async def _refuse_file_ancestor(self, name: str) -> None:
        for folder in PurePosixPath(name).parents:
            if str(folder) == ".":
                break
            step = folder.as_posix()
            on_disk = await self._disk.exists(step) and not await self._disk.is_dir(step)
            if step in self._pending or self._buffer(step) is not None or on_disk:
                raise WorkspaceError(f"cannot create {name}: {step} is a file, not a folder")

    async def replace(self, path: str, text: str) -> None:
        name = self.relative(path)
        refuse_repository_metadata(name)
        encode_text(name, text)
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

    async def run(self, command: str, timeout: float, policy: SandboxPolicy | None = None) -> RunResult:
        """Run `command` on the agent's version of the workspace: in the sandbox over an overlay of
        the user's tree, or (no policy: no sandbox here, each command approved by the user) in a
        private copy. Either way the user's files are not touched."""
        # One command at a time: the layer and the copy are only written while no command runs.
        async with self._run_lock:
            if policy is None:
                cwd = await self._shadow.sync(self._shadow_texts)
                return await run_command(command, cwd, timeout)
            await asyncio.to_thread(self._layer.place, await self._layer_texts())
            result = await run_in_room(self._room, command, timeout, policy)
            changes = await asyncio.to_thread(self._layer.collect)
            notes = await self._adopt(changes)
            return dataclasses.replace(result, notes=result.notes + tuple(notes))

    @property
    def _layer(self) -> Layer:
        if self._layer_state is None:
            self._layer_state = Layer(self._room.upper, self.root)
        return self._layer_state

    async def _layer_texts(self) -> dict[str, str]:
        """What commands must see over the user's files: unsaved buffers, then the agent's version.
        The buffers are taken on the event loop; comparing them with the disk happens off it."""
        buffers = [(path, found[0]) for path in self._buffers.open_paths()
                   if (found := self._buffers.buffer(path)) is not None]
        return {**await asyncio.to_thread(self._unsaved, buffers), **self._pending}

    def _unsaved(self, buffers: list[tuple[Path, str]]) -> dict[str, str]:
        texts: dict[str, str] = {}
        for path, text in buffers:
            try:
                name = path.resolve().relative_to(self.root).as_posix()
            except (OSError, ValueError):
                continue  # a buffer outside the workspace
            if not _same_as_disk(self.root / name, text):
                texts[name] = text
        return texts

    async def _adopt(self, changes: LayerChanges) -> list[str]:
        """Make the user files a command changed part of the proposal (the tests ran against them),
        and say what else it did, in the words the model and the review share."""
        notes: list[str] = []
        adopted: list[str] = []
        for name, data in sorted(changes.modified.items()):
            try:
                text = data.decode("utf-8")
                if "\0" in text:
                    raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL byte")
                await self.replace(name, text)
            except UnicodeDecodeError:
                self._layer.forget(name)
                notes.append(f"your command turned {name} into a binary file; that was undone, it is not proposed")
            except WorkspaceError as exc:  # declined by the user (review each), or not a file we may change
                self._layer.forget(name)
                notes.append(f"the change your command made to {name} was undone: {exc}")
            else:
                adopted.append(name)
        if adopted:
            notes.append(f"your command changed {_names(adopted)}: that is now part of your proposed changes")
        for name in changes.too_large:
            self._layer.forget(name)
            notes.append(f"your command changed {name}, which is too large to review; that was undone")
        if changes.created:
            notes.append(
                f"files your command created stay in the sandbox and are not proposed: {_names(changes.created)} "
                "(use Write to propose a new file)"
            )
        if changes.deleted:
            gone = _names(changes.deleted)
            notes.append(f"files your command deleted are gone in the sandbox only, not proposed: {gone}")
        return notes

    def _shadow_texts(self, disk_files: Collection[str]) -> dict[str, str]:
        texts: dict[str, str] = {}
        for name in disk_files:
            buffer = self._buffer(name)
            if buffer is not None:
                texts[name] = buffer[0]
        texts.update(self._pending)
        return texts

    async def aclose(self) -> None:
        """Remove the session's sandbox folder and private copy; safe to call more than once."""
        await self._room.aclose()
        await self._shadow.aclose()

    @property
    def layer(self) -> Path:
        """The overlay's upper folder: everything the session's commands and proposals changed."""
        return self._room.upper


def _same_as_disk(path: Path, text: str) -> bool:
    try:
        return path.read_bytes() == text.encode("utf-8", "surrogatepass")
    except OSError:
        return False


def _names(names: list[str], shown: int = 5) -> str:
    listed = ", ".join(names[:shown])
    return listed + (f" and {len(names) - shown} more" if len(names) > shown else "")

