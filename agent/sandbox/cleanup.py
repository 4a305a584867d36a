"""Removing what commands leave behind: session folders, including ones of a server that died."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def remove_tree(path: Path) -> None:
    """rmtree that also clears what a command made read-only (Go's module cache does so)."""

    def retry(func: Callable[..., Any], failed: str, *_: object) -> None:
        try:
            os.chmod(os.path.dirname(failed), 0o700)
            if func in (os.unlink, os.remove, os.rmdir):
                func(failed)
            else:  # the folder itself could not be opened or listed
                os.chmod(failed, 0o700)
                remove_tree(Path(failed))
        except FileNotFoundError:
            pass

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:
        shutil.rmtree(path, onerror=retry)


def sweep_orphans(prefix: str, parent: Path | None = None) -> list[Path]:
    """Remove the folders named `<prefix><pid>-…` under `parent` (default: the system's temporary
    folder) whose creating process is gone, after killing the commands still running inside them.
    Returns the folders removed."""
    folder = parent if parent is not None else Path(tempfile.gettempdir())
    pattern = re.compile(re.escape(prefix) + r"(\d+)-.*")
    removed: list[Path] = []
    for path in folder.glob(prefix + "*"):
        match = pattern.fullmatch(path.name)
        if match is None or _process_exists(int(match.group(1))):
            continue
        try:
            info = path.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue
        _kill_processes_in(path)
        try:
            remove_tree(path)
        except OSError as exc:
            log.warning("could not remove the orphaned folder %s: %s", path, exc)
            continue
        removed.append(path)
    return removed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    return True


def _kill_processes_in(folder: Path) -> None:
    """SIGKILL our processes whose working folder is inside `folder`: commands that outlived the
    server that started them."""
    if not os.path.isdir("/proc"):
        return
    inside = str(folder) + os.sep
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{name}/cwd")
        except OSError:
            continue  # gone, or not ours
        if cwd == str(folder) or cwd.startswith(inside):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(name), signal.SIGKILL)
