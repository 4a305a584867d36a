"""The Workspace protocol: everything a tool may touch goes through it.

Tools never call `open()`; they call a Workspace. `DiskWorkspace` (agent/workspace.py) writes to
disk for the CLI and the benchmark; the language server's `EditorWorkspace` reads open buffers first
and records changes for review. Every path is workspace-relative on the way out and is resolved
inside the root (symlinks resolved) on the way in; anything else raises `PathOutsideWorkspace`.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class WorkspaceError(Exception):
    """A tool-level failure with a message meant for the model."""


class PathOutsideWorkspace(WorkspaceError):
    pass


class FileMissing(WorkspaceError):
    pass


class FileExists(WorkspaceError):
    pass


class NotText(WorkspaceError):
    """Binary or undecodable content."""


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None  # None when killed by the timeout
    stdout: str
    stderr: str
    timed_out: bool = False
    duration_s: float = 0.0


@dataclass(frozen=True)
class GrepMatch:
    path: str  # workspace-relative, '/'-separated
    line: int  # 1-based
    text: str


@dataclass
class FileChange:
    """One file's change in a session: the text the agent first saw (None = did not exist) and the
    text it proposes now."""

    path: str
    base: str | None
    proposed: str

    @property
    def created(self) -> bool:
        return self.base is None


@dataclass
class ChangeSet:
    """Every file the session created or replaced, keyed by workspace-relative path, in the order
    they were first touched. Repeated edits to one file collapse into one change (base stays the
    first text seen), which is what a reviewer wants to see."""

    changes: dict[str, FileChange] = field(default_factory=dict)

    def record(self, path: str, base: str | None, proposed: str) -> None:
        existing = self.changes.get(path)
        if existing is None:
            self.changes[path] = FileChange(path, base, proposed)
        else:
            existing.proposed = proposed
        change = self.changes[path]
        if change.base == change.proposed:
            del self.changes[path]  # edited back to the original: nothing to review

    def paths(self) -> list[str]:
        return list(self.changes)

    def line_stats(self) -> tuple[int, int]:
        """(+added, −removed) lines over all files."""
        import difflib

        added = removed = 0
        for change in self.changes.values():
            old = (change.base or "").splitlines()
            new = change.proposed.splitlines()
            for line in difflib.unified_diff(old, new, lineterm="", n=0):
                if line.startswith("+") and not line.startswith("+++"):
                    added += 1
                elif line.startswith("-") and not line.startswith("---"):
                    removed += 1
        return added, removed

    def __bool__(self) -> bool:
        return bool(self.changes)


class Workspace(Protocol):
    root: Path
    changes: ChangeSet

    def relative(self, path: str) -> str:
        """Resolve a model-supplied path inside the root; return it workspace-relative ('/'-separated).
        Raises PathOutsideWorkspace for anything that escapes (.., absolute elsewhere, symlinks, ~,
        NUL bytes)."""
        ...

    async def read_text(self, path: str) -> str:
        """Current text (open buffer first, for editor workspaces). Raises FileMissing / NotText."""
        ...

    async def exists(self, path: str) -> bool: ...

    async def is_dir(self, path: str) -> bool: ...

    async def create(self, path: str, text: str) -> None:
        """Create a new file (parents too). Raises FileExists if anything is at the path."""
        ...

    async def replace(self, path: str, text: str) -> None:
        """Replace an existing file's whole text. Raises FileMissing if absent."""
        ...

    async def list_files(self, path: str = ".") -> list[str]:
        """All files under `path`, workspace-relative, sorted, skipping VCS and heavy dependency
        folders (.git, node_modules, .venv, target, __pycache__, ...)."""
        ...

    async def run(self, command: str, timeout: float) -> RunResult:
        """Run a shell command in the root (the agent's version of the tree). Stdin is closed; the
        whole process group is killed on timeout or cancellation."""
        ...


# Folders no tool descends into: version control, dependencies, caches and build output.
SKIP_DIRS = frozenset(
    {
        ".git",
        "node_modules",
        ".venv",
        "venv",
        "target",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        "dist",
        "build",
        ".little-coder",
    }
)

# 'C:' and the like: meaningless on POSIX, and a sign the model is guessing.
_DRIVE = re.compile(r"^[A-Za-z]:")


class DiskWorkspace:
    """A Workspace on the real file system, for the CLI and the benchmark.

    Writes go straight to disk, atomically (temp file + rename), and are recorded in `changes` so
    a session can report what it touched.
    """

    def __init__(self, root: Path) -> None:
        resolved = Path(root).expanduser().resolve()
        if not resolved.is_dir():
            raise ValueError(f"workspace root {root} is not a directory")
        self.root = resolved
        self.changes = ChangeSet()

    # --- paths -----------------------------------------------------------------------------

    def relative(self, path: str) -> str:
        return self._locate(path)[0]

    def _locate(self, path: str) -> tuple[str, Path]:
        """(workspace-relative name, absolute path with every symlink resolved)."""
        self._refuse_tricks(path)
        candidate = Path(path)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        try:
            resolved = candidate.resolve(strict=False)
        except (OSError, RuntimeError) as exc:  # symlink loops: RuntimeError before 3.13
            raise WorkspaceError(f"cannot resolve path {path!r}: {exc}") from exc
        if resolved != self.root and self.root not in resolved.parents:
            raise PathOutsideWorkspace(
                f"Path {path!r} resolves to {resolved}, outside the workspace {self.root}. "
                "Only files inside the workspace can be used; give a path relative to it."
            )
        return resolved.relative_to(self.root).as_posix(), resolved

    def _refuse_tricks(self, path: str) -> None:
        reason = None
        if not path:
            reason = "the path is empty"
        elif "\0" in path:
            reason = "the path contains a NUL byte"
        elif path.startswith("~"):
            reason = "'~' is not expanded; give a path relative to the workspace"
        elif "\\" in path:
            reason = "backslashes are not path separators here; use '/'"
        elif _DRIVE.match(path):
            reason = "Windows drive paths do not exist here"
        elif path.startswith("//"):
            reason = "network (UNC-style) paths are not allowed"
        if reason:
            raise PathOutsideWorkspace(
                f"Path {path!r} refused: {reason}. Paths must stay inside the workspace {self.root}."
            )

    # --- reading ---------------------------------------------------------------------------

    async def read_text(self, path: str) -> str:
        name, target = self._locate(path)
        if target.is_dir():
            raise WorkspaceError(f"{name} is a directory, not a file")
        try:
            data = await asyncio.to_thread(target.read_bytes)
        except FileNotFoundError as exc:
            raise FileMissing(f"File not found: {name}") from exc
        except OSError as exc:
            raise WorkspaceError(f"cannot read {name}: {exc.strerror or exc}") from exc
        return _decode(name, data)

    async def exists(self, path: str) -> bool:
        return os.path.lexists(self._locate(path)[1])

    async def is_dir(self, path: str) -> bool:
        return self._locate(path)[1].is_dir()

    async def list_files(self, path: str = ".") -> list[str]:
        name, target = self._locate(path)
        if target.is_file():
            return [name]
        if not target.is_dir():
            raise FileMissing(f"No such directory: {name}")
        return await asyncio.to_thread(self._walk, target)

    def _walk(self, top: Path) -> list[str]:
        found: list[str] = []
        start = top.relative_to(self.root).as_posix()
        stack = [(top, "" if start == "." else start + "/")]
        while stack:
            folder, prefix = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue  # unreadable or vanished folder: list what can be listed
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIP_DIRS:
                        stack.append((Path(entry.path), prefix + entry.name + "/"))
                elif entry.is_file(follow_symlinks=False) or self._links_to_file_inside(entry):
                    found.append(prefix + entry.name)
        found.sort()
        return found

    def _links_to_file_inside(self, entry: os.DirEntry[str]) -> bool:
        # Linked directories are not followed (no cycles); a linked file counts if it stays inside.
        if not entry.is_symlink():
            return False
        target = Path(entry.path).resolve(strict=False)
        return target.is_file() and self.root in target.parents

    # --- writing ---------------------------------------------------------------------------

    async def create(self, path: str, text: str) -> None:
        name, target = self._locate(path)
        if os.path.lexists(target):
            raise FileExists(f"{name} already exists")
        try:
            await asyncio.to_thread(_write_new, target, text.encode("utf-8"), name)
        except OSError as exc:  # a file where a folder should be, permissions, a full disk
            raise WorkspaceError(f"cannot create {name}: {exc.strerror or exc}") from exc
        self.changes.record(name, None, text)

    async def replace(self, path: str, text: str) -> None:
        name, target = self._locate(path)
        if target.is_dir():
            raise WorkspaceError(f"{name} is a directory, not a file")
        try:
            before = await asyncio.to_thread(target.read_bytes)
        except FileNotFoundError as exc:
            raise FileMissing(f"File not found: {name}") from exc
        except OSError as exc:
            raise WorkspaceError(f"cannot read {name}: {exc.strerror or exc}") from exc
        base = _decode(name, before)
        try:
            await asyncio.to_thread(_write_over, target, text.encode("utf-8"))
        except OSError as exc:
            raise WorkspaceError(f"cannot write {name}: {exc.strerror or exc}") from exc
        self.changes.record(name, base, text)

    # --- running ---------------------------------------------------------------------------

    async def run(self, command: str, timeout: float) -> RunResult:
        # Imported here: agent.process imports RunResult from this module.
        from agent.process import run_command

        return await run_command(command, self.root, timeout)


def _decode(name: str, data: bytes) -> str:
    if b"\0" in data:
        raise NotText(f"{name} is a binary file (it contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotText(f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _temp_beside(target: Path, mode: int) -> tuple[int, Path]:
    """An exclusive new file next to `target` (same file system, so the rename is atomic)."""
    while True:
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), temp
        except FileExistsError:
            continue


def _fill(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_new(target: Path, data: bytes, name: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = _temp_beside(target, 0o666)  # the umask applies, as for any new file
    try:
        _fill(fd, data)
        try:
            # link() refuses to clobber, so a file that appeared meanwhile is never overwritten.
            os.link(temp, target)
        except FileExistsError as exc:
            raise FileExists(f"{name} already exists") from exc
        except OSError:
            os.replace(temp, target)  # file systems without hard links
    finally:
        temp.unlink(missing_ok=True)


def _write_over(target: Path, data: bytes) -> None:
    mode = stat.S_IMODE(target.stat().st_mode)
    fd, temp = _temp_beside(target, 0o600)
    try:
        _fill(fd, data)
        os.chmod(temp, mode)  # exactly the old mode, whatever the umask
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
