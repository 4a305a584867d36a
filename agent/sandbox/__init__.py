"""Containment for every command the agent runs: one module, used by the CLI, the benchmark and
the editor alike.

A `Room` is one session's sandbox. Each command starts `launcher.py` (Linux namespaces, see its
docstring), which shows the command:
- the host's file system read-only, with the user's secrets (ssh keys, cloud and registry
  credentials, shell histories) masked and no host sockets (/run, /tmp are the session's own);
- the workspace at its own path: writable (`Room(..., layer=False)`: the CLI and the benchmark,
  which write to disk by design) or an overlay on the user's tree whose upper layer is the
  session's (`layer=True`: the editor, where nothing reaches the user's files before review);
- its own /proc and pid namespace, so the whole process tree dies with the command;
- no network by default (`network = "loopback"`: a private loopback; `"host"`: the host's network);
- an environment reduced to an allow-list, with HOME and TMPDIR inside the session;
- rlimits on memory, CPU time, file size and processes.

Where no sandbox can start (no user namespaces, not Linux) `support()` says why; the Bash tool then
asks the user before each command, and never runs one unsandboxed in silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import subprocess
import sys
import tempfile
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from agent.sandbox.cleanup import remove_tree
from agent.sandbox.launcher import MARK, SETUP_FAILED
from agent.settings import NetworkAccess, Settings
from agent.run_result import RunResult
from agent.workspace import WorkspaceError

LAUNCHER = Path(__file__).with_name("launcher.py")
STATE_PREFIX = "little-coder-sandbox-"
# The command's id inside its user namespace: never 0, so exec leaves it no capabilities.
_INSIDE_ID = 1000

# Environment variables a command keeps: locale, terminal, and where toolchains live. Everything
# else (tokens, API keys, cloud credentials) stays outside.
ENV_ALLOWED = frozenset(
    {
        "PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "LC_NUMERIC", "LC_TIME",
        "TERM", "TZ", "NO_COLOR",
        "JAVA_HOME", "GOROOT", "GOPATH", "GOMODCACHE", "GOFLAGS", "GOTOOLCHAIN",
        "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "VIRTUAL_ENV", "NODE_PATH",
    }
)

# Under the user's home: where credentials and histories live. Masked (empty) inside the sandbox.
SECRET_PATHS = (
    ".ssh", ".gnupg", ".aws", ".azure", ".config/gcloud", ".config/gh", ".config/hub", ".docker",
    ".kube", ".netrc", ".git-credentials", ".pypirc", ".npmrc", ".yarnrc", ".yarnrc.yml",
    ".cargo/credentials", ".cargo/credentials.toml", ".m2/settings.xml", ".gradle/gradle.properties",
    ".password-store", ".local/share/keyrings", ".vault-token", ".terraform.d",
    ".bash_history", ".zsh_history", ".python_history", ".psql_history", ".mysql_history", ".node_repl_history",
)


class SandboxFailed(WorkspaceError):
    """The sandbox could not be built for a command (the command did not run)."""


class SandboxLimits(BaseModel):
    """Per-process rlimits plus the number of processes alive at once in one command."""

    model_config = ConfigDict(frozen=True)

    # The defaults are the settings' own, stated once there.
    memory_mb: int = Settings.model_fields["sandbox_memory_mb"].default
    processes: int = Settings.model_fields["sandbox_processes"].default
    file_size_mb: int = Settings.model_fields["sandbox_file_size_mb"].default
    cpu_s: int = Settings.model_fields["sandbox_cpu_s"].default

    def rlimits(self) -> dict[str, int]:
        # RLIMIT_DATA, not RLIMIT_AS: JVMs, Go and V8 reserve far more address space than they use.
        return {
            "RLIMIT_DATA": self.memory_mb * 1024 * 1024,
            "RLIMIT_FSIZE": self.file_size_mb * 1024 * 1024,
            "RLIMIT_CPU": self.cpu_s,
            "RLIMIT_NPROC": self.processes,
            "RLIMIT_CORE": 0,
        }


class SandboxPolicy(BaseModel):
    """What one command may do: the network it sees and its limits (from the settings)."""

    model_config = ConfigDict(frozen=True)

    network: NetworkAccess = "none"
    limits: SandboxLimits = SandboxLimits()

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxPolicy:
        return cls(
            network=settings.network,
            limits=SandboxLimits(
                memory_mb=settings.sandbox_memory_mb,
                processes=settings.sandbox_processes,
                file_size_mb=settings.sandbox_file_size_mb,
                cpu_s=settings.sandbox_cpu_s,
            ),
        )


@dataclass(frozen=True)
class Support:
    available: bool
    reason: str  # why not, when not; what it is, when it is


@dataclass(frozen=True)
class Containment:
    """Where the Bash tool runs a command, decided from the settings and this machine."""

    policy: SandboxPolicy | None  # None: on the host
    consent: str | None = None  # why every command needs the user's yes first
    refusal: str | None = None  # why no command may run at all

    def notice(self) -> str | None:
        """What the session says once, at its start, when commands are not contained."""
        if self.refusal:
            return f"Commands cannot run: {self.refusal}."
        if self.consent:
            return f"Commands are NOT sandboxed: {self.consent}. Each command needs your approval first."
        if self.policy is None:
            return "Commands run on this machine without a sandbox (sandbox = \"off\" in your settings)."
        return None


def containment(settings: Settings) -> Containment:
    if settings.sandbox == "off":
        return Containment(None)
    found = support()
    if found.available:
        return Containment(SandboxPolicy.from_settings(settings))
    if settings.sandbox == "required":
        return Containment(None, refusal=f"the settings require a sandbox and {found.reason}")
    return Containment(None, consent=found.reason)


def command_environment(environ: Mapping[str, str], home: Path) -> dict[str, str]:
    """The allow-listed environment, with HOME and TMPDIR inside the session and the toolchains
    that live in the user's real home still found."""
    env = {key: value for key, value in environ.items() if key in ENV_ALLOWED}
    env.setdefault("PATH", os.defpath)
    env.setdefault("LANG", "C.UTF-8")
    real_home = Path(environ.get("HOME") or Path.home())
    # rustup's proxies find their toolchains through HOME unless told where they are.
    for variable, folder in (("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")):
        if variable not in env and (real_home / folder).is_dir():
            env[variable] = str(real_home / folder)
    env.update(HOME=str(home), TMPDIR="/tmp", USER="sandbox", LOGNAME="sandbox", LITTLE_CODER_SANDBOX="1")
    return env


# Set by the sandbox itself: a caller's extra variables cannot move HOME out of the session.
_SESSION_VARIABLES = frozenset({"HOME", "TMPDIR", "USER", "LOGNAME", "LITTLE_CODER_SANDBOX"})


# Host folders the sandbox replaces with its own (launcher.py): what lives there is out of sight.
REPLACED_DIRS = ("/tmp", "/var/tmp", "/run", "/dev/shm")


def tools_to_keep(environ: Mapping[str, str]) -> list[str]:
    """Folders on PATH (or the active virtualenv) that lie under a replaced folder: a virtualenv made
    in /tmp, say. They are shown read-only at their own path, or the command could not find them."""
    found: list[str] = []
    candidates = [entry for entry in environ.get("PATH", "").split(os.pathsep) if entry]
    if environ.get("VIRTUAL_ENV"):
        candidates.append(environ["VIRTUAL_ENV"])
    for entry in candidates:
        path = Path(entry)
        if not path.is_absolute() or not any(path.is_relative_to(folder) for folder in REPLACED_DIRS):
            continue
        # A virtualenv's bin/ needs the virtualenv (its lib/ and pyvenv.cfg) beside it.
        keep = path.parent if (path.parent / "pyvenv.cfg").is_file() else path
        if keep.is_dir() and str(keep) not in found and str(keep) not in REPLACED_DIRS:
            found.append(str(keep))
    return found


def secret_paths(environ: Mapping[str, str]) -> list[str]:
    home = Path(environ.get("HOME") or Path.home())
    return [str(home / rel) for rel in SECRET_PATHS if os.path.lexists(home / rel)]


class Room:
    """One session's sandbox: a state folder (outside the workspace) holding the commands' /tmp,
    their HOME inside it and, with `layer=True`, the overlay's upper and work folders. Made on the
    first command; removed by `aclose()`, or when the room is garbage-collected or the process exits."""

    def __init__(
        self,
        workspace: Path,
        *,
        layer: bool,
        parent: Path | None = None,
        environ: Mapping[str, str] | None = None,
        writable: Sequence[Path] = (),
    ) -> None:
        self.workspace = Path(workspace).resolve()
        self.layered = layer
        self.writable = [str(Path(p).resolve()) for p in writable]
        self._parent = parent
        self._environ = dict(os.environ if environ is None else environ)
        self._state: Path | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @property
    def state(self) -> Path:
        if self._state is None:
            if self._parent is not None:
                self._parent.mkdir(parents=True, exist_ok=True)
            state = Path(tempfile.mkdtemp(prefix=f"{STATE_PREFIX}{os.getpid()}-", dir=self._parent))
            for name in ("tmp", "tmp/home", "upper", "work", "mnt"):
                (state / name).mkdir(mode=0o1777 if name == "tmp" else 0o700)
            self._state = state
            self._finalizer = weakref.finalize(self, _remove_quietly, state)
        return self._state

    @property
    def upper(self) -> Path:
        """The overlay's upper folder: what the session's proposals and commands changed."""
        return self.state / "upper"

    def argv(self, command: str, policy: SandboxPolicy, cwd: Path | None = None,
             env: Mapping[str, str] | None = None) -> list[str]:
        """The command line that runs `command` in this room (writes the launcher's spec file). `env`
        adds variables to the allow-listed environment (a grader's own settings)."""
        state = self.state
        inner = command_environment(self._environ, Path("/tmp/home"))
        inner.update({k: v for k, v in (env or {}).items() if k not in _SESSION_VARIABLES})
        spec: dict[str, Any] = {
            "command": command,
            "cwd": str(cwd or self.workspace),
            "workspace": str(self.workspace),
            "upper": str(state / "upper") if self.layered else None,
            "work": str(state / "work"),
            "tmp": str(state / "tmp"),
            "mount_point": str(state / "mnt"),
            "hide": secret_paths(self._environ),
            "keep": tools_to_keep(self._environ),
            "writable": self.writable,
            "network": policy.network,
            "env": inner,
            "limits": policy.limits.rlimits(),
            "max_processes": policy.limits.processes,
            "parent": os.getpid(),
            "uid": os.getuid() or _INSIDE_ID,
            "gid": os.getgid() or _INSIDE_ID,
        }
        spec_file = state / f"spec-{uuid.uuid4().hex}.json"
        fd = os.open(spec_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(spec, handle)
        return [sys.executable, "-I", "-S", str(LAUNCHER), str(spec_file)]

    def close_now(self) -> None:
        state, self._state = self._state, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if state is not None:
            remove_tree(state)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close_now)


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        remove_tree(path)


def failed_setup(result: RunResult) -> str | None:
    """The launcher's reason when the sandbox itself could not be built, else None."""
    if result.exit_code != SETUP_FAILED:
        return None
    for line in result.stderr.splitlines():
        if line.startswith(MARK):
            return line[len(MARK) :].strip()
    return None


async def run_in_room(
    room: Room, command: str, timeout: float, policy: SandboxPolicy, cwd: Path | None = None,
    *, env: Mapping[str, str] | None = None, max_output: int | None = None,
) -> RunResult:
    """Run `command` in `room` (`env`: variables added to the allow-listed ones; `max_output`: bytes
    kept per stream); SandboxFailed when the sandbox could not be built."""
    from agent.process import DEFAULT_MAX_OUTPUT, run_command

    # Started in the session's folder, so a later server's sweep finds it by its working folder.
    result = await run_command(command, room.state, timeout, argv=room.argv(command, policy, cwd, env),
                               max_output=max_output or DEFAULT_MAX_OUTPUT)
    reason = failed_setup(result)
    if reason is not None:
        raise SandboxFailed(f"the command did not run: its sandbox could not be built ({reason})")
    return result


@functools.cache
def support() -> Support:
    """Whether commands can be sandboxed on this machine: a real trial run, once per process."""
    if not sys.platform.startswith("linux"):
        return Support(False, f"no sandbox is available on {sys.platform} (Linux namespaces are needed)")
    with tempfile.TemporaryDirectory(prefix="little-coder-probe-") as folder:
        workspace = Path(folder, "workspace")
        workspace.mkdir()
        room = Room(workspace, layer=True, parent=Path(folder))
        try:
            done = subprocess.run(
                room.argv("echo sandboxed > probe && test ! -e /run/user", SandboxPolicy()),
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
                stdin=subprocess.DEVNULL,
                cwd=room.state,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Support(False, f"the sandbox launcher could not run: {exc}")
        finally:
            upper_ok = (room.upper / "probe").is_file()
            room.close_now()
    if done.returncode != 0 or not upper_ok:
        reason = next((line[len(MARK) :].strip() for line in done.stderr.splitlines() if line.startswith(MARK)),
                      done.stderr.strip() or f"exit code {done.returncode}")
        return Support(False, f"the sandbox could not start here: {reason}")
    return Support(True, "Linux namespaces: read-only host, overlay workspace, no network by default")
