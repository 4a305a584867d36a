"""A private copy of the workspace where the agent's shell commands run when no sandbox can.

In the editor the agent's changes live in memory until the user accepts them, yet its commands
(the tests, above all) must see them. Where Linux namespaces work, commands run in the sandbox
over an overlay of the user's tree (agent/sandbox/), with no copy at all. This module is the
fallback for machines without one, used only for commands the user approved one by one (or with
`sandbox = "off"`): it contains nothing, it only keeps the user's files out of reach of ordinary
writes. `ShadowTree` keeps a copy of the workspace's files in a
temporary folder, with a text overlay (the agent's pending files, unsaved buffers) written over
the disk copies. The first sync copies everything; later syncs rewrite only files whose source
changed on disk (inode, mtime or size), whose overlay text changed, or that a command changed in
the shadow, so every command starts from the agent's version of the tree. Nothing a command writes
is ever copied back.

Folders are treated by kind:
- dependency folders (node_modules, .venv, venv) are symlinked to the user's, never copied. Test
  runs only read them; a command that installs into them (npm install, pip install) or deletes
  through them changes the user's copy: that is the price of not copying gigabytes. When the agent
  edits a file inside one, the links on that file's path are split into real folders of per-entry
  links, so the edited text lands in the shadow and not in the user's folder.
- build-output folders (target, build, dist, .gradle, ...) become empty folders of their own, so a
  build writes into the shadow.
- version control and caches (.git, __pycache__, ...) are left out: a command writing a file
  through `.git` would write into the user's repository.

Symlinks in the workspace that resolve inside it become relative links in the shadow (so they
point at shadow files); links to files elsewhere are copied as files; links to folders elsewhere
are left out. Files over `max_file_bytes` are not copied, and a tree with more than `max_files`
files outside the special folders is refused with `ShadowTooLarge`.

Limits: absolute paths inside linked dependency folders (an editable install's path, a venv's
scripts) still name the user's tree.

A shadow's folder name carries the server's pid. A server killed outright (SIGKILL, a crash) cannot
remove its shadows nor stop the commands running in them; `sweep_orphans`, run by the next server,
stops such commands and removes the shadows whose server is gone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from agent.sandbox import STATE_PREFIX, cleanup
from agent.sandbox.cleanup import remove_tree
from agent.workspace import SKIP_DIRS, WorkspaceError

# Read by test runs, too big to copy: linked.
LINKED_DIRS = frozenset({"node_modules", ".venv", "venv"})
# Written by builds: an empty folder of the shadow's own.
OUTPUT_DIRS = frozenset(
    {"target", "build", "dist", ".gradle", ".tox", ".nox", ".next", ".turbo", ".parcel-cache"}
)
# Everything else the tools skip (version control, caches, our own state): left out.
OMITTED_DIRS = SKIP_DIRS - LINKED_DIRS - OUTPUT_DIRS

SHADOW_PREFIX = "little-coder-shadow-"
MAX_FILES = 50_000
MAX_FILE_BYTES = 5 * 1024 * 1024

log = logging.getLogger(__name__)

_T = TypeVar("_T")
# (inode, mtime in ns, size): a file counts as changed when any of them differs.
_Sig = tuple[int, int, int]
# Where a shadow entry came from: ("disk", source sig) | ("text", text) | ("link", link text).
_Origin = tuple[str, Any]


class ShadowTooLarge(WorkspaceError):
    pass


class ShadowFailed(WorkspaceError):
    pass


@dataclass
class _Scan:
    files: dict[str, _Sig] = field(default_factory=dict)  # regular files to copy
    links: dict[str, str] = field(default_factory=dict)  # rel -> relative link text
    linked: set[str] = field(default_factory=set)  # dependency folders
    outputs: set[str] = field(default_factory=set)  # build-output folders
    large: set[str] = field(default_factory=set)  # files over the size cap, not copied


def _sig(st: os.stat_result) -> _Sig:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


class ShadowTree:
    """One session's private copy of `source`, created lazily under `parent` (default: the
    system's temporary folder) and removed by `aclose`."""

    def __init__(
        self,
        source: Path,
        parent: Path | None = None,
        *,
        max_files: int = MAX_FILES,
        max_file_bytes: int = MAX_FILE_BYTES,
    ) -> None:
        self.source = Path(source).resolve()
        self._parent = parent
        self._max_files = max_files
        self._max_file_bytes = max_file_bytes
        self._base: Path | None = None  # the temporary folder; the tree is one level down
        self._root: Path | None = None
        self._placed: dict[str, tuple[_Origin, _Sig]] = {}
        self._linked: set[str] = set()
        self._split: set[str] = set()
        self._skipped_large: set[str] = set()
        self._closed = False
        self._lock = asyncio.Lock()

    @property
    def root(self) -> Path | None:
        """The shadow's copy of the workspace root; None before the first sync."""
        return self._root

    @property
    def skipped_large(self) -> frozenset[str]:
        """Files left out of the last sync for their size."""
        return frozenset(self._skipped_large)

    async def sync(self, overlay: Callable[[Collection[str]], Mapping[str, str]]) -> Path:
        """Bring the shadow up to date and return its root.

        `overlay` gets the workspace-relative names of the files found on disk and returns the
        texts that replace disk contents (and files that exist only there), by relative name.
        """
        async with self._lock:
            if self._closed:
                raise ShadowFailed("the session has ended; its private copy of the workspace is gone")
            try:
                scan = await _finish_in_thread(self._scan)
                texts = overlay(scan.files.keys())
                return await _finish_in_thread(self._apply, scan, texts)
            except WorkspaceError:
                raise
            except OSError as exc:
                raise ShadowFailed(
                    f"could not prepare the private copy of the workspace for the command: {exc}"
                ) from exc

    async def aclose(self) -> None:
        """Delete the shadow; safe to call more than once."""
        async with self._lock:
            self._closed = True
            base, self._base, self._root = self._base, None, None
            if base is None:
                return
            try:
                await _finish_in_thread(remove_tree, base)
            except OSError as exc:  # a leftover temp folder must not fail the session's ending
                log.warning("could not remove the shadow tree %s: %s", base, exc)

    # --- scanning the source -----------------------------------------------------------------

    def _scan(self) -> _Scan:
        scan = _Scan()
        count = 0
        stack = [(self.source, "")]
        while stack:
            folder, prefix = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue  # unreadable or vanished: copy what can be read
            for entry in entries:
                rel = prefix + entry.name
                path = Path(entry.path)
                if self._base is not None and path == self._base:
                    continue  # a shadow parent inside the workspace must not copy itself
                if entry.is_symlink():
                    count += self._scan_link(scan, rel, path)
                elif entry.is_dir(follow_symlinks=False):
                    if entry.name in LINKED_DIRS:
                        scan.linked.add(rel)
                    elif entry.name in OUTPUT_DIRS:
                        scan.outputs.add(rel)
                    elif entry.name not in OMITTED_DIRS:
                        stack.append((path, rel + "/"))
                elif entry.is_file(follow_symlinks=False):
                    count += 1
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if st.st_size > self._max_file_bytes:
                        scan.large.add(rel)
                    else:
                        scan.files[rel] = _sig(st)
                if count > self._max_files:
                    raise ShadowTooLarge(
                        f"Commands cannot run here: the workspace has more than {self._max_files:,} files "
                        "outside dependency and build folders, too many to copy into the private tree "
                        "where commands see your changes. Use Read, Grep and Glob instead."
                    )
        return scan

    def _scan_link(self, scan: _Scan, rel: str, path: Path) -> int:
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return 0  # dangling or looping
        if _inside(target, self.source):
            scan.links[rel] = os.path.relpath(target, path.parent)
            return 1
        if target.is_file():
            st = target.stat()
            if st.st_size > self._max_file_bytes:
                scan.large.add(rel)
            else:
                scan.files[rel] = _sig(st)
            return 1
        return 0  # a folder outside: linking it would let commands write there

    # --- writing the shadow --------------------------------------------------------------------

    def _apply(self, scan: _Scan, overlay: Mapping[str, str]) -> Path:
        root = self._ensure_root()
        self._skipped_large = scan.large - overlay.keys()
        for rel in sorted(self._linked - scan.linked):
            if rel not in self._split:
                self._remove(rel)
        self._linked = set(scan.linked)
        for rel in sorted(scan.linked):
            self._place_dependency_link(rel)
        for rel in sorted(scan.outputs):
            self._real_dir(rel)

        wanted: dict[str, _Origin] = {rel: ("disk", sig) for rel, sig in scan.files.items()}
        wanted.update((rel, ("link", text)) for rel, text in scan.links.items())
        wanted.update((rel, ("text", text)) for rel, text in overlay.items())
        for rel in [rel for rel in self._placed if rel not in wanted]:
            self._remove(rel)
            del self._placed[rel]
        for rel, origin in wanted.items():
            known = self._placed.get(rel)
            if known is not None and known[0] == origin and self._current_sig(rel) == known[1]:
                continue
            placed = self._place(rel, origin)
            if placed is None:
                self._placed.pop(rel, None)
            else:
                self._placed[rel] = (origin, placed)
        for rel in sorted(self._split):
            self._refresh_split(rel)
        return root

    def _ensure_root(self) -> Path:
        if self._root is None:
            if self._parent is not None:
                self._parent.mkdir(parents=True, exist_ok=True)
            base = Path(tempfile.mkdtemp(prefix=f"{SHADOW_PREFIX}{os.getpid()}-", dir=self._parent))
            # Same folder name as the workspace: some tools name things after it.
            root = base / (self.source.name or "workspace")
            root.mkdir()
            self._base, self._root = base, root
        return self._root

    def _current_sig(self, rel: str) -> _Sig | None:
        assert self._root is not None
        try:
            return _sig(os.lstat(self._root / rel))
        except OSError:
            return None

    def _place(self, rel: str, origin: _Origin) -> _Sig | None:
        """Write one entry through a checked chain of real folders; its stat, or None when the
        source vanished or cannot be read."""
        rel_path = PurePosixPath(rel)
        folder = self._real_dir(str(rel_path.parent))
        final = folder / rel_path.name
        temp = folder / f".{rel_path.name}.{uuid.uuid4().hex[:12]}.lc-shadow"
        kind, value = origin
        try:
            if kind == "disk":
                shutil.copy2(self.source / rel, temp)
            elif kind == "text":
                self._write_text(temp, value, self.source / rel)
            else:
                os.symlink(value, temp)
        except (FileNotFoundError, PermissionError):
            _unlink_quietly(temp)
            return None
        try:
            if os.path.isdir(final) and not os.path.islink(final):
                remove_tree(final)  # a command put a folder where a file belongs
            os.replace(temp, final)  # replaces a link itself, never what it points to
        finally:
            _unlink_quietly(temp)
        return _sig(os.lstat(final))

    @staticmethod
    def _write_text(temp: Path, text: str, source: Path) -> None:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
        try:
            mode = os.stat(source).st_mode
        except OSError:
            return  # a new file: the umask decides, as for any new file
        if stat.S_ISREG(mode):
            os.chmod(temp, stat.S_IMODE(mode))  # an edited script stays executable

    def _real_dir(self, rel: str) -> Path:
        """The shadow folder for `rel`, making every step a real folder: no write may pass
        through a symlink, neither one of ours to the user's tree nor one a command left."""
        assert self._root is not None
        current = self._root
        prefix = ""
        for part in PurePosixPath(rel).parts:
            if part == ".":
                continue
            prefix = f"{prefix}/{part}" if prefix else part
            current = current / part
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                os.mkdir(current)
                continue
            if stat.S_ISLNK(mode):
                if prefix in self._linked or str(PurePosixPath(prefix).parent) in self._split:
                    self._split_dir(prefix, current)
                else:
                    os.unlink(current)
                    os.mkdir(current)
            elif not stat.S_ISDIR(mode):
                os.unlink(current)
                os.mkdir(current)
        return current

    def _split_dir(self, rel: str, path: Path) -> None:
        """Replace the link to a user folder by a real folder of links to its entries."""
        os.unlink(path)
        os.mkdir(path)
        self._split.add(rel)
        self._refresh_split(rel)

    def _refresh_split(self, rel: str) -> None:
        assert self._root is not None
        source = self.source / rel
        shadow = self._root / rel
        if not os.path.isdir(source) or os.path.islink(shadow) or not os.path.isdir(shadow):
            return
        for entry in os.scandir(source):
            mirror = shadow / entry.name
            if not os.path.lexists(mirror):
                os.symlink(source / entry.name, mirror)
        for entry in os.scandir(shadow):
            if entry.is_symlink() and not os.path.lexists(source / entry.name):
                os.unlink(entry.path)

    def _place_dependency_link(self, rel: str) -> None:
        assert self._root is not None
        if rel in self._split:
            return
        parent = self._real_dir(str(PurePosixPath(rel).parent))
        link = parent / PurePosixPath(rel).name
        target = self.source / rel
        if os.path.islink(link) and os.readlink(link) == str(target):
            return
        if os.path.lexists(link):
            _remove_entry(link)
        os.symlink(target, link)

    def _remove(self, rel: str) -> None:
        """Delete a shadow entry, but only where its folder chain holds no symlink: removing
        through one would delete the user's file."""
        assert self._root is not None
        current = self._root
        rel_path = PurePosixPath(rel)
        for part in rel_path.parent.parts:
            current = current / part
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                return
            if not stat.S_ISDIR(mode):
                return
        target = current / rel_path.name
        if os.path.lexists(target):
            _remove_entry(target)


def sweep_orphans(parent: Path | None = None) -> list[Path]:
    """Remove the shadows and sandbox folders under `parent` (default: the system's temporary
    folder) whose server process is gone, after killing the commands still running inside them."""
    return cleanup.sweep_orphans(SHADOW_PREFIX, parent) + cleanup.sweep_orphans(STATE_PREFIX, parent)


def _remove_entry(path: Path) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        remove_tree(path)
    else:
        os.unlink(path)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


async def _finish_in_thread(func: Callable[..., _T], *args: Any) -> _T:
    """Run `func` in a thread; if the caller is cancelled, wait for the thread before re-raising,
    so no copy is still writing when the next sync or the clean-up starts."""
    work: asyncio.Future[_T] = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait({work})
        raise

