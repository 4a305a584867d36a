"""The editor session's layer: the overlay's upper folder, kept in step with the agent's version.

Commands in the editor see the user's tree through an overlay (agent/sandbox/launcher.py); its
upper folder belongs to the session. Before each command `place` writes into it the texts the
commands must see that differ from the user's files (the agent's proposals, unsaved buffers) and
removes those no longer wanted; nothing is copied otherwise, so the first command in a 100k-file
workspace costs what one file costs. After the command `collect` reads back what it changed:
- user files it modified (a formatter, `sed -i`): the review must show them, since the tests ran
  against them;
- files it created (build output, caches, a lock file): they stay in the layer, not proposed;
- user files it deleted: whiteouts in the layer, not proposed either.
The upper folder is only written while no command runs (the editor workspace serialises them), as
overlayfs requires.
"""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agent.sandbox.cleanup import remove_tree
from agent.workspace import SKIP_DIRS

# Build output and caches: what commands write there is never a change for review.
OUTPUT_DIRS = frozenset({"target", "build", "dist", "out", "bin", "obj", ".gradle", ".cache", ".tox", ".nox",
                         ".ruff_cache", ".next", "coverage", "CMakeFiles", ".eggs"})
# Larger than this, a file a command changed is reported, not put in review.
MAX_ADOPT_BYTES = 2 * 1024 * 1024

_Sig = tuple[int, int, int]  # inode, size, mtime in ns


@dataclass
class LayerChanges:
    modified: dict[str, bytes] = field(default_factory=dict)  # user files a command changed
    created: list[str] = field(default_factory=list)  # new files outside build and cache folders
    deleted: list[str] = field(default_factory=list)  # user files a command removed
    too_large: list[str] = field(default_factory=list)  # modified, but too large to review


def _sig(st: os.stat_result) -> _Sig:
    return st.st_ino, st.st_size, st.st_mtime_ns


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class Layer:
    def __init__(self, upper: Path, lower: Path) -> None:
        self.upper = upper
        self.lower = lower
        self._placed: dict[str, tuple[str, _Sig]] = {}  # what we wrote: digest of the text, stat after
        self._known: dict[str, _Sig] = {}  # what a command wrote that was already reported

    def place(self, texts: Mapping[str, str]) -> None:
        """Make the layer hold exactly `texts` (workspace-relative name → text) over the user's tree."""
        for name in [name for name in self._placed if name not in texts]:
            self._remove(name)
            del self._placed[name]
        for name, text in texts.items():
            digest = _digest(text)
            known = self._placed.get(name)
            if known is not None and known[0] == digest and self._current(name) == known[1]:
                continue
            self._placed[name] = (digest, self._write(name, text))
            self._known.pop(name, None)

    def forget(self, name: str) -> None:
        """Undo what a command did to `name` in the layer: the user's file shows again."""
        self._remove(name)
        self._placed.pop(name, None)
        self._known.pop(name, None)

    def collect(self) -> LayerChanges:
        """What commands changed in the layer since the last `place` or `collect`."""
        changes = LayerChanges()
        stack = [(self.upper, "")]
        while stack:
            folder, prefix = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                name = prefix + entry.name
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    if entry.name not in SKIP_DIRS and entry.name not in OUTPUT_DIRS:
                        stack.append((Path(entry.path), name + "/"))
                elif stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    if self._known.get(name) != _sig(st) and os.path.lexists(self.lower / name):
                        changes.deleted.append(name)
                    self._known[name] = _sig(st)
                elif stat.S_ISREG(st.st_mode):
                    self._classify(name, Path(entry.path), st, changes)
        changes.deleted.sort()
        changes.created.sort()
        return changes

    def _classify(self, name: str, path: Path, st: os.stat_result, changes: LayerChanges) -> None:
        sig = _sig(st)
        placed = self._placed.get(name)
        if (placed is not None and placed[1] == sig) or self._known.get(name) == sig:
            return
        self._known[name] = sig
        try:
            user_file = stat.S_ISREG(os.lstat(self.lower / name).st_mode)
        except OSError:
            user_file = False
        if not user_file and placed is None:
            changes.created.append(name)
        elif st.st_size > MAX_ADOPT_BYTES:
            changes.too_large.append(name)
        else:
            try:
                changes.modified[name] = path.read_bytes()
            except OSError:
                return

    # --- the upper folder -------------------------------------------------------------------

    def _current(self, name: str) -> _Sig | None:
        try:
            return _sig(os.lstat(self.upper / name))
        except OSError:
            return None

    def _folder(self, name: str) -> Path:
        """The upper folder for `name`'s parent, every step a real folder (a whiteout, file or link a
        command left there is replaced)."""
        current = self.upper
        for part in PurePosixPath(name).parent.parts:
            current = current / part
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                os.mkdir(current)
                continue
            if not stat.S_ISDIR(mode):
                os.unlink(current)
                os.mkdir(current)
        return current

    def _write(self, name: str, text: str) -> _Sig:
        folder = self._folder(name)
        final = folder / PurePosixPath(name).name
        temp = folder / f".{final.name}.{uuid.uuid4().hex[:12]}.lc-layer"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(text.encode("utf-8", "surrogatepass"))
            try:
                os.chmod(temp, stat.S_IMODE(os.stat(self.lower / name).st_mode))  # scripts stay executable
            except OSError:
                pass  # a new file: default mode
            if os.path.isdir(final) and not os.path.islink(final):
                remove_tree(final)
            os.replace(temp, final)
        finally:
            if os.path.lexists(temp):
                os.unlink(temp)
        return _sig(os.lstat(final))

    def _remove(self, name: str) -> None:
        target = self.upper / name
        try:
            if os.path.isdir(target) and not os.path.islink(target):
                remove_tree(target)
            else:
                os.unlink(target)
        except FileNotFoundError:
            pass
