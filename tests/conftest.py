"""Fixtures shared by every test folder: example workspaces and settings pointing at a scripted server."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import sandbox
from agent import session as session_module
from agent.settings import Settings
from agent.tools import bash as bash_tool
from tests.fakes.model_server import ScriptedModelServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def leap_workspace(tmp_path: Path) -> Path:
    """A fresh copy of the bundled leap exercise (stub, tests, .docs/instructions.md)."""
    target = tmp_path / "leap"
    shutil.copytree(EXAMPLES / "leap", target)
    return target


@pytest.fixture(autouse=True)
def _venv_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # Bash tool commands like `python -m pytest` must find this interpreter, wherever pytest was started.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.fixture(autouse=True)
def _commands_where_no_sandbox_starts(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a machine where no sandbox can start, the tests outside tests/sandbox run their commands
    unconfined (as with `sandbox = "off"`), so the suite still passes there; tests/sandbox fails
    with the reason. Where the sandbox works (CI) this does nothing: every command is contained."""
    if sandbox.support().available or "sandbox" in request.path.parts:
        return
    decide = sandbox.containment

    def unconfined(settings: Settings) -> sandbox.Containment:
        return decide(settings.model_copy(update={"sandbox": "off"}))

    for module in (bash_tool, session_module):
        monkeypatch.setattr(module, "containment", unconfined)


def settings_for(server: ScriptedModelServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "backend": server.protocol,
        "base_url": server.base_url,
        "model": server.model,
        "stall_timeout": 10.0,
        "connect_timeout": 2.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def scripted() -> Iterator[list[ScriptedModelServer]]:
    """Start scripted servers with `scripted.append(ScriptedModelServer(...).start())`; all are stopped."""
    servers: list[ScriptedModelServer] = []
    yield servers
    for server in servers:
        server.stop()
