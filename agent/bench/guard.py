"""The paper's test-file audit, enforced: tests are hashed before the agent runs and put back before
every grading, and each edit the agent made to them is recorded.

Besides the exercise's own test files a runner names the support files its grading trusts (Catch2's
header, CMakeLists.txt, the JavaScript package files) and the kind of file whose mere appearance could
change a verdict (a new Go `_test.go` with a `TestMain` that exits 0, a `jest.config.js`); those are
put back or removed the same way.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

Change = Literal["modified", "deleted", "added"]
_SKIP_DIRS = frozenset({".git", "node_modules", "target", "build", "__pycache__", ".pytest_cache"})


class EditedTest(BaseModel):
    attempt: int
    path: str
    change: Change


@dataclass(frozen=True)
class _Saved:
    data: bytes
    digest: str
    mode: int


class TamperGuard:
    """Snapshot of the protected files of one working copy."""

    def __init__(self, root: Path, protected: Iterable[str], intruder: Callable[[str], bool] | None = None) -> None:
        self.root = root
        self._intruder = intruder
        self._saved: dict[str, _Saved] = {}
        self._present = self._candidates()
        # Files of the intruder kind that come with the exercise (a Go cases_test.go the config does
        # not list) are protected like tests.
        for rel in sorted({*protected, *self._present}):
            path = root / rel
            if path.is_file():
                data = path.read_bytes()
                self._saved[rel] = _Saved(data, hashlib.sha256(data).hexdigest(), path.stat().st_mode & 0o777)

    def restore(self, attempt: int) -> list[EditedTest]:
        """Put every protected file back as it was, remove intruders; report what had changed."""
        edits: list[EditedTest] = []
        for rel, saved in self._saved.items():
            path = self.root / rel
            change: Change | None = None
            if path.is_symlink() or not path.is_file():
                change = "deleted" if not os.path.lexists(path) else "modified"
            elif hashlib.sha256(path.read_bytes()).hexdigest() != saved.digest:
                change = "modified"
            if change is None:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif os.path.lexists(path):
                path.unlink()
            _make_folder(self.root, path.parent)
            path.write_bytes(saved.data)
            path.chmod(saved.mode)
            edits.append(EditedTest(attempt=attempt, path=rel, change=change))
        for rel in sorted(self._candidates() - self._present):
            (self.root / rel).unlink(missing_ok=True)
            edits.append(EditedTest(attempt=attempt, path=rel, change="added"))
        return edits

    def settle(self) -> None:
        """After a grading: put the protected files back and remove new intruders, without counting
        anything as the agent's. What the graders made there (cargo leaves a Cargo.lock under `tests/`
        when rust/macros' tests build their own crates) is then never taken for an edit at the next
        restore, which compares the tree right before grading with the tree as the agent found it;
        and the exercise's own code, which ran during grading, cannot plant a test file (a Go
        `TestMain` that fakes passes) for the next grading."""
        self.restore(attempt=0)

    def _candidates(self) -> set[str]:
        """Files the runner would treat as intruders, present now."""
        if self._intruder is None:
            return set()
        found: set[str] = set()
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
            for name in files:
                rel = Path(folder, name).relative_to(self.root).as_posix()
                if self._intruder(rel):
                    found.add(rel)
        return found



def _make_folder(root: Path, folder: Path) -> None:
    """mkdir -p below `root`, removing a file or link that took the place of a folder on the way."""
    inside = [folder, *folder.parents]
    for parent in reversed(inside[: inside.index(root)]):
        if os.path.lexists(parent) and (parent.is_symlink() or not parent.is_dir()):
            parent.unlink()
    folder.mkdir(parents=True, exist_ok=True)
