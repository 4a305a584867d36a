"""The Workspace protocol: everything a tool may touch goes through it.

Tools never call `open()`; they call a Workspace. `DiskWorkspace` (agent/workspace.py) writes to
disk for the CLI and the benchmark; the language server's `EditorWorkspace` reads open buffers first
and records changes for review. Every path is workspace-relative on the way out and is resolved
inside the root (symlinks resolved) on the way in; anything else raises `PathOutsideWorkspace`.

Only regular files with a single link are read or changed: named pipes, sockets and devices are
refused before anything opens them, and a hard-linked file is refused like a symlink that leads out.
Files over `MAX_FILE_BYTES` are never loaded whole, and nothing under a `.git` folder is written.
"""

from __future__ import annotations

import asyncio
import codecs
import io
import os
import re
import stat
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol

from agent.process import run_command
from agent.run_result import RunResult

if TYPE_CHECKING:
    from agent.sandbox import Room, SandboxPolicy

# Files above this size are not read or written whole: Read streams a window of lines from disk,
# Edit and Write refuse them. A model cannot use megabytes of one file at once anyway.
MAX_FILE_BYTES = 16 * 1024 * 1024

# Longest path quoted back in a message: a 6,000-character path would drown the explanation.
_SHOWN_PATH_CHARS = 200


class WorkspaceError(Exception):
    """A tool-level failure with a message meant for the model."""


class PathRefused(WorkspaceError):
    """A path the workspace guards against (reported as a guard refusal, not a plain failure)."""


class PathOutsideWorkspace(PathRefused):
    pass


class FileMissing(WorkspaceError):
    pass


class FileExists(WorkspaceError):
    pass


class NotText(WorkspaceError):
    """Binary or undecodable content."""


class FileTooLarge(WorkspaceError):
    """Over MAX_FILE_BYTES: Read shows it a window at a time (`read_window`), nothing rewrites it."""

    def __init__(self, name: str, size: int) -> None:
        super().__init__(
            f"{_shown(name)} is {_mib(size)}, over the {_mib(MAX_FILE_BYTES)} limit for files read or "
            "changed whole. Read shows it a window at a time (give offset and limit); Edit and Write "
            "cannot change a file this large."
        )


def _shown(name: str) -> str:
    """A path as quoted in a message: cut when absurdly long."""
    if len(name) <= _SHOWN_PATH_CHARS:
        return name
    return f"{name[:_SHOWN_PATH_CHARS]}... ({len(name)} characters)"


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB".replace(".0 MiB", " MiB")


def refuse_repository_metadata(name: str) -> None:
    """Refuse writing anything under a `.git` folder (or a `.git` file) at any depth, in any case.

    Git runs code named in its metadata (hooks, `core.fsmonitor`, `core.pager`, aliases in
    `.git/config`) on the user's next git command, so one write there would outlive the session as
    code execution. Reading stays allowed. Case-insensitive because macOS and Windows file systems
    treat `.GIT` as `.git`.
    """
    if any(part.casefold() == ".git" for part in PurePosixPath(name).parts):
        raise PathRefused(
            f"{_shown(name)} is inside the repository's .git metadata, which Write and Edit never "
            "change: files such as .git/config or .git/hooks/* can make git run code the next time "
            "the user runs a git command. Change the project's own files instead."
        )


def encode_text(name: str, text: str) -> bytes:
    """`text` as the UTF-8 bytes of a file, refused when over MAX_FILE_BYTES or not encodable."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, which JSON's \ud800 escapes can carry
        raise NotText(
            f"the text for {_shown(name)} cannot be written as UTF-8 ({exc.reason} at character "
            f"{exc.start}); remove that character"
        ) from exc
    if len(data) > MAX_FILE_BYTES:
        raise WorkspaceError(
            f"the new text of {_shown(name)} would be {_mib(len(data))}, over the "
            f"{_mib(MAX_FILE_BYTES)} limit for files written whole; split it into smaller files"
        )
    return data


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


@dataclass(frozen=True)
class LineWindow:
    """Lines of a file too large to read whole, streamed from disk (see `Workspace.read_window`)."""

    lines: list[tuple[str, int]]  # from the asked-for line on: its first characters, how many more it has
    total: int | None  # the file's line count, known when the stream reached the end


class Workspace(Protocol):
    root: Path
    changes: ChangeSet

    def relative(self, path: str) -> str:
        """Resolve a model-supplied path inside the root; return it workspace-relative ('/'-separated).
        Raises PathOutsideWorkspace for anything that escapes (.., absolute elsewhere, symlinks, ~,
        NUL bytes)."""
        ...

    async def read_text(self, path: str) -> str:
        """Current text (open buffer first, for editor workspaces). Raises FileMissing / NotText, and
        FileTooLarge for a file on disk over MAX_FILE_BYTES."""
        ...

    async def read_window(self, path: str, start: int, count: int, width: int, chars: int) -> LineWindow:
        """Up to `count` lines from 1-based line `start` of a file `read_text` refused as too large,
        each cut to `width` characters, stopping once `chars` characters are gathered; read line by
        line, so memory stays bounded whatever the file's or a line's size."""
        ...

    async def exists(self, path: str) -> bool: ...

    async def is_dir(self, path: str) -> bool: ...

    async def create(self, path: str, text: str) -> None:
        """Create a new file (parents too). Raises FileExists if anything is at the path, PathRefused
        under `.git`."""
        ...

    async def replace(self, path: str, text: str) -> None:
        """Replace an existing file's whole text. Raises FileMissing if absent, PathRefused under
        `.git`, FileTooLarge when it is over MAX_FILE_BYTES."""
        ...

    async def list_files(self, path: str = ".") -> list[str]:
        """All files under `path`, workspace-relative, sorted, skipping VCS and heavy dependency
        folders (.git, node_modules, .venv, target, __pycache__, ...)."""
        ...

    async def run(self, command: str, timeout: float, policy: SandboxPolicy | None = None) -> RunResult:
        """Run a shell command in the root (the agent's version of the tree). Stdin is closed; the
        whole process tree is killed on timeout or cancellation. With a `policy` it runs in the
        sandbox (agent/sandbox/); None runs it on the host, which only the Bash tool decides, and
        only with the user's consent or explicit setting."""
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

    def __init__(self, root: Path, command_env: Mapping[str, str] | None = None) -> None:
        resolved = Path(root).expanduser().resolve()
        if not resolved.is_dir():
            raise ValueError(f"workspace root {root} is not a directory")
        self.root = resolved
        self.changes = ChangeSet()
        self._room: Room | None = None
        # Variables every command gets (the benchmark: where an exercise's fetched dependencies are, so
        # the agent's own test runs find what the grader will).
        self._command_env = dict(command_env or {})

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
            raise WorkspaceError(f"cannot resolve path {_shown(path)!r}: {exc}") from exc
        if resolved != self.root and self.root not in resolved.parents:
            raise PathOutsideWorkspace(
                f"Path {_shown(path)!r} resolves to {_shown(str(resolved))}, outside the workspace {self.root}. "
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
                f"Path {_shown(path)!r} refused: {reason}. Paths must stay inside the workspace {self.root}."
            )

    def _stat(self, name: str, target: Path) -> os.stat_result | None:
        """lstat of a located path (its symlinks are resolved already); None when nothing is there.
        Any other failure, such as a name too long for the system, is a tool error."""
        try:
            return os.lstat(target)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise WorkspaceError(f"cannot use the path {_shown(name)}: {exc.strerror or exc}") from exc

    def _open_regular(self, name: str, target: Path) -> tuple[io.BufferedReader, os.stat_result]:
        """`target` open for reading, once it is known to be a regular file with a single link.

        The kind is checked on lstat before anything opens it (opening a device can have effects)
        and again on the open file, in case the path was swapped in between; O_NONBLOCK keeps even
        that open from waiting on a named pipe.
        """
        found = self._stat(name, target)
        if found is None:
            raise FileMissing(f"File not found: {name}")
        _require_regular(name, found)
        try:
            fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError as exc:
            raise FileMissing(f"File not found: {name}") from exc
        except OSError as exc:
            raise WorkspaceError(f"cannot read {_shown(name)}: {exc.strerror or exc}") from exc
        handle = os.fdopen(fd, "rb")
        try:
            opened = os.fstat(fd)
            _require_regular(name, opened)
        except BaseException:
            handle.close()
            raise
        return handle, opened

    # --- reading ---------------------------------------------------------------------------

    async def read_text(self, path: str) -> str:
        name, target = self._locate(path)
        return _decode(name, await asyncio.to_thread(self._read_whole, name, target))

    def _read_whole(self, name: str, target: Path) -> bytes:
        handle, opened = self._open_regular(name, target)
        with handle:
            if opened.st_size > MAX_FILE_BYTES:
                raise FileTooLarge(name, opened.st_size)
            try:
                data = handle.read(MAX_FILE_BYTES + 1)  # bounded even if the file grew since fstat
            except OSError as exc:
                raise WorkspaceError(f"cannot read {_shown(name)}: {exc.strerror or exc}") from exc
        if len(data) > MAX_FILE_BYTES:
            raise FileTooLarge(name, len(data))
        return data

    async def read_window(self, path: str, start: int, count: int, width: int, chars: int) -> LineWindow:
        name, target = self._locate(path)
        return await asyncio.to_thread(self._stream_window, name, target, start, count, width, chars)

    def _stream_window(self, name: str, target: Path, start: int, count: int, width: int,
                       chars: int) -> LineWindow:
        handle, _ = self._open_regular(name, target)
        lines: list[tuple[str, int]] = []
        gathered = 0
        number = 0
        with handle:
            try:
                while len(lines) < count and gathered < chars:
                    first = handle.readline(_CHUNK)
                    if not first:
                        return LineWindow(lines, number)
                    number += 1
                    if number < start:
                        _skip_line(handle, first)
                        continue
                    line = _stream_line(handle, first, width, name, number)
                    lines.append(line)
                    gathered += len(line[0])
                ended = not handle.peek(1)
            except OSError as exc:
                raise WorkspaceError(f"cannot read {_shown(name)}: {exc.strerror or exc}") from exc
        return LineWindow(lines, number if ended else None)

    async def exists(self, path: str) -> bool:
        name, target = self._locate(path)
        return self._stat(name, target) is not None

    async def is_dir(self, path: str) -> bool:
        name, target = self._locate(path)
        found = self._stat(name, target)
        return found is not None and stat.S_ISDIR(found.st_mode)

    async def list_files(self, path: str = ".") -> list[str]:
        name, target = self._locate(path)
        found = self._stat(name, target)
        if found is not None and stat.S_ISREG(found.st_mode):
            return [name]
        if found is None or not stat.S_ISDIR(found.st_mode):
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
        try:
            target = Path(entry.path).resolve(strict=False)
            return target.is_file() and self.root in target.parents
        except (OSError, RuntimeError):  # a loop or a target name too long: not a file to list
            return False

    # --- writing ---------------------------------------------------------------------------

    async def create(self, path: str, text: str) -> None:
        name, target = self._locate(path)
        refuse_repository_metadata(name)
        if self._stat(name, target) is not None:
            raise FileExists(f"{name} already exists")
        data = encode_text(name, text)
        try:
            await asyncio.to_thread(_write_new, target, data, name)
        except OSError as exc:  # a file where a folder should be, permissions, a full disk
            raise WorkspaceError(f"cannot create {_shown(name)}: {exc.strerror or exc}") from exc
        self.changes.record(name, None, text)

    async def replace(self, path: str, text: str) -> None:
        name, target = self._locate(path)
        refuse_repository_metadata(name)
        data = encode_text(name, text)
        base = _decode(name, await asyncio.to_thread(self._read_whole, name, target))
        try:
            await asyncio.to_thread(_write_over, target, data)
        except OSError as exc:
            raise WorkspaceError(f"cannot write {_shown(name)}: {exc.strerror or exc}") from exc
        self.changes.record(name, base, text)

    # --- running ---------------------------------------------------------------------------

    async def run(self, command: str, timeout: float, policy: SandboxPolicy | None = None) -> RunResult:
        # Imported here: agent.sandbox imports WorkspaceError from this module.
        from agent.sandbox import Room, run_in_room

        if policy is None:
            env = {**os.environ, **self._command_env} if self._command_env else None
            return await run_command(command, self.root, timeout, env=env)
        if self._room is None:
            # Writes to disk by design: the workspace is a writable bind, everything else read-only.
            self._room = Room(self.root, layer=False)
        return await run_in_room(self._room, command, timeout, policy, env=self._command_env)

    async def aclose(self) -> None:
        """Remove the sandbox's session folder (its /tmp and HOME); safe to call more than once."""
        if self._room is not None:
            await self._room.aclose()


_CHUNK = 64 * 1024  # bytes read at a time when streaming a large file's lines
_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISLNK, "a symbolic link"),  # only when the path was swapped after it was resolved
)


def _require_regular(name: str, found: os.stat_result) -> None:
    """Refuse anything but a regular file with one link.

    Hard links: another name of the same file may be outside the workspace (a link to
    ~/.ssh/id_rsa reads as that key), and nothing points back from a file to its names, so finding
    them all would mean walking whole file systems. The bounded rule is one link only. Dependency
    folders get no exemption, though pnpm hard-links node_modules from its store: a folder's name
    says nothing about where the other name lives, and anyone can put a link there.
    """
    mode = found.st_mode
    if stat.S_ISDIR(mode):
        raise WorkspaceError(f"{_shown(name)} is a directory, not a file")
    if not stat.S_ISREG(mode):
        kind = next((what for test, what in _KINDS if test(mode)), "not a file")
        raise WorkspaceError(
            f"{_shown(name)} is {kind}, not a regular file: only regular files can be read or changed"
        )
    if found.st_nlink > 1:
        raise PathRefused(
            f"{_shown(name)} is a hard link: this file has {found.st_nlink} names, and another of them "
            "may be a file outside the workspace, so it is refused like a symlink that leads outside. "
            "Only files with a single name can be read or changed."
        )


def _skip_line(handle: io.BufferedReader, chunk: bytes) -> None:
    """Read on past the end of the line `chunk` began, a chunk at a time."""
    while chunk and not chunk.endswith(b"\n"):
        chunk = handle.readline(_CHUNK)


def _stream_line(handle: io.BufferedReader, first: bytes, width: int, name: str, number: int) -> tuple[str, int]:
    """The line that `first` began: its first `width` characters (without the line ending, as
    Read counts lines) and how many more it has, read to its end a chunk at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    kept = ""
    length = 0
    tail = ""  # the last two characters, for the line ending
    chunk = first
    try:
        while chunk:
            if b"\0" in chunk:
                raise NotText(f"{_shown(name)} is a binary file (line {number} contains NUL bytes)")
            text = decoder.decode(chunk)
            length += len(text)
            if len(kept) < width:
                kept += text[: width - len(kept)]
            tail = (tail + text)[-2:]
            if chunk.endswith(b"\n"):  # '\n' is never inside a UTF-8 sequence
                break
            chunk = handle.readline(_CHUNK)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise NotText(f"{_shown(name)} is not UTF-8 text ({exc.reason} in line {number})") from exc
    if tail.endswith("\n"):
        length, tail = length - 1, tail[:-1]
    if tail.endswith("\r"):
        length -= 1
    return (kept[:length], 0) if length <= width else (kept, length - width)


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
