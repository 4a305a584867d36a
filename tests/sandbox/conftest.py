"""Fixtures for the sandbox tests: canaries outside the workspace, in a place the sandbox can see.

The canaries live under ~/.cache/little-coder/test-canaries/, not under /tmp: inside the sandbox
/tmp is the session's own, so a canary there would be out of sight, and "nothing changed" would
prove less than it should. Here the sandbox sees them, read-only.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.sandbox import support

CANARY_ROOT = Path.home() / ".cache" / "little-coder" / "test-canaries"


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `root` with its bytes and mode: what "nothing changed" compares."""
    found: dict[str, tuple[bytes, int]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[str(path.relative_to(root))] = (path.read_bytes(), path.stat().st_mode)
        elif path.is_dir():
            found[str(path.relative_to(root)) + "/"] = (b"", path.stat().st_mode)
    return found


@pytest.fixture(scope="session", autouse=True)
def _sandbox_required() -> None:
    # Never skip silently: the sandbox stage fails with the reason on a machine without one.
    found = support()
    if not found.available:
        pytest.fail(f"the sandbox is not available on this machine: {found.reason}", pytrace=False)


@pytest.fixture
def outside() -> Iterator[Path]:
    """A folder outside the workspace and outside /tmp, with canary files; removed afterwards."""
    folder = CANARY_ROOT / uuid.uuid4().hex
    (folder / "project").mkdir(parents=True)
    (folder / "canary.txt").write_text("CANARY-CONTENT do not touch\n")
    (folder / "project" / "keep.o").write_text("object\n")
    (folder / "project" / "Makefile").write_text("clean:\n\trm -f keep.o\n")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def fake_home(outside: Path) -> Path:
    """A home folder holding secrets where real ones live."""
    home = outside / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE-KEY-CANARY\n")
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text("aws_secret_access_key = AWS-CANARY\n")
    (home / ".netrc").write_text("machine example.org password NETRC-CANARY\n")
    (home / ".bash_history").write_text("export TOKEN=HISTORY-CANARY\n")
    # A dotfile manager's layout: the credentials file is a link into another folder.
    (home / "dotfiles").mkdir()
    (home / "dotfiles" / "git-credentials").write_text("https://user:LINKED-CANARY@example.org\n")
    (home / ".git-credentials").symlink_to(home / "dotfiles" / "git-credentials")
    return home


@pytest.fixture
def host_environ(fake_home: Path) -> dict[str, str]:
    """The environment of the editor or CLI that starts commands: with secrets in it."""
    return {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        "HOME": str(fake_home),
        "LANG": "C.UTF-8",
        "GITHUB_TOKEN": "ghp_ENV-CANARY",
        "AWS_SECRET_ACCESS_KEY": "AWS-ENV-CANARY",
        "LITTLE_CODER_API_KEY": "sk-ENV-CANARY",
        "SSH_AUTH_SOCK": "/run/user/0/ssh-agent.sock",
    }
