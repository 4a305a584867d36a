"""The escapes found on the old allow-list, run for real inside the real sandbox.

Each command here ran on the host before (allow-listed or needing no agent code at all) and
changed or read something outside the workspace. Now the same commands run, and the canaries
outside stay exactly as they were; secrets are neither in the command's environment nor readable.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.sandbox import Room, SandboxLimits, SandboxPolicy, run_in_room
from agent.run_result import RunResult
from agent.workspace import DiskWorkspace
from tests.sandbox.conftest import snapshot

POLICY = SandboxPolicy()
SECRETS = ("ENV-CANARY", "PRIVATE-KEY-CANARY", "AWS-CANARY", "NETRC-CANARY", "HISTORY-CANARY",
           "LINKED-CANARY")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "main.py").write_text("print('hi')\n")
    return root


@pytest.fixture(params=["cli", "editor"])
def room(request: pytest.FixtureRequest, workspace: Path, host_environ: dict[str, str]) -> Iterator[Room]:
    """Both kinds: the CLI's writable workspace and the editor's overlay layer."""
    made = Room(workspace, layer=request.param == "editor", parent=workspace.parent / "state", environ=host_environ)
    yield made
    made.close_now()


async def run(room: Room, command: str, policy: SandboxPolicy = POLICY, timeout: float = 60) -> RunResult:
    return await run_in_room(room, command, timeout, policy)


ESCAPES = {
    "python -c": "python3 -c \"open('{out}/py.txt', 'w').write('x')\"",
    "node -e": "node -e \"require('fs').writeFileSync('{out}/node.txt', 'x')\"",
    "conftest": "printf 'open(\"{out}/conftest.txt\", \"w\").write(\"x\")\\n' > conftest.py && "
                "printf 'def test_x():\\n    pass\\n' > test_x.py && python3 -m pytest -q -p no:cacheprovider",
    "npm script": "printf '{{\"scripts\": {{\"test\": \"touch {out}/npm.txt\"}}}}' > package.json && npm test",
    "pytest basetemp": "printf 'def test_t(tmp_path):\\n    pass\\n' > test_t.py && "
                       "python3 -m pytest -q -p no:cacheprovider --basetemp={out}/project",
    "make -C": "make -C {out}/project clean",
    "xargs tee": "echo {out}/tee.txt | xargs tee",
    "rm -rf": "rm -rf {out}",
    "gcc -Wl,-o": "printf 'int main(void){{return 0;}}' > a.c && gcc a.c -Wl,-o,{out}/a.out",
    "go test": "printf 'module m\\n\\ngo 1.19\\n' > go.mod && printf 'package m\\nimport (\"os\";\"testing\")\\n"
               "func TestX(t *testing.T) {{ os.WriteFile(\"{out}/go.txt\", []byte(\"x\"), 0o644) }}\\n' > x_test.go "
               "&& go test ./...",
}


@pytest.mark.parametrize("name", list(ESCAPES))
async def test_an_escape_changes_nothing_outside(name: str, room: Room, outside: Path) -> None:
    command = ESCAPES[name].format(out=outside)
    program = command.split()[0]
    if program not in ("echo", "rm", "printf") and shutil.which(program) is None:
        pytest.fail(f"{program} is needed for this test (the deps stage installs it)")
    before = snapshot(outside)
    result = await run(room, command, timeout=120)
    assert snapshot(outside) == before, (result.stdout, result.stderr)


async def test_secrets_are_neither_in_the_environment_nor_readable(room: Room, fake_home: Path) -> None:
    result = await run(
        room,
        "env; echo ---; set; echo ---; printenv; cat /proc/self/environ; cat /proc/1/environ; "
        f"cat {fake_home}/.ssh/id_ed25519 {fake_home}/.aws/credentials {fake_home}/.netrc {fake_home}/.bash_history "
        f"{fake_home}/.git-credentials {fake_home}/dotfiles/git-credentials; "
        f"grep -r CANARY {fake_home} /proc/*/environ; ls -a {fake_home}/.ssh",
    )
    seen = result.stdout + result.stderr
    assert "HOME=/tmp/home" in seen and "PATH=" in seen
    for secret in SECRETS:
        assert secret not in seen
    assert "SSH_AUTH_SOCK" not in seen


async def test_reading_outside_is_allowed_but_writing_is_not(room: Room, outside: Path) -> None:
    result = await run(room, f"cat {outside}/canary.txt && echo changed > {outside}/canary.txt")
    assert result.stdout == "CANARY-CONTENT do not touch\n"
    assert "Read-only file system" in result.stderr
    assert (outside / "canary.txt").read_text() == "CANARY-CONTENT do not touch\n"


async def test_no_view_of_the_hosts_processes_or_sockets(room: Room) -> None:
    host_process = subprocess.Popen(["sleep", "27.1828"])
    try:
        result = await run(room, "ls /proc | grep -c '^[0-9]'; ls -A /run; cat /proc/*/cmdline | tr '\\0' ' '")
    finally:
        host_process.kill()
        host_process.wait()
    count = int(result.stdout.splitlines()[0])
    assert count <= 6, result.stdout  # the launcher's pid 1, the shell and what it runs
    assert "27.1828" not in result.stdout


async def test_the_git_folder_is_read_only(room: Room, workspace: Path) -> None:
    (workspace / ".git").mkdir()
    (workspace / ".git" / "config").write_text("[core]\n")
    result = await run(room, "git config core.fsmonitor 'touch /tmp/pwned' ; echo '#!/bin/sh' > .git/hooks-post")
    assert result.exit_code != 0
    assert (workspace / ".git" / "config").read_text() == "[core]\n"
    assert not (workspace / ".git" / "hooks-post").exists()


class _Listener:
    """A TCP server on the host's loopback that counts connections."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


CONNECT = "python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3); print('connected')\""
OWN_LOOPBACK = (
    "python3 -c \"import socket; s = socket.create_server(('127.0.0.1', 0)); "
    "socket.create_connection(s.getsockname(), timeout=3); print('own loopback')\""
)


async def test_network_is_refused_by_default_and_loopback_is_private(room: Room) -> None:
    listener = _Listener()
    try:
        refused = await run(room, CONNECT.format(port=listener.port))
        assert refused.exit_code != 0 and "connected" not in refused.stdout
        private = await run(room, f"{OWN_LOOPBACK}; {CONNECT.format(port=listener.port)}",
                            SandboxPolicy(network="loopback"))
        assert "own loopback" in private.stdout and "connected" not in private.stdout
        host = await run(room, CONNECT.format(port=listener.port), SandboxPolicy(network="host"))
        assert host.stdout.strip() == "connected"
        assert listener.accepted == 1
    finally:
        listener.close()


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def test_a_fork_bomb_is_stopped_at_the_process_limit(room: Room) -> None:
    marker = "31.4159"
    policy = SandboxPolicy(limits=SandboxLimits(processes=64))
    started = time.monotonic()
    result = await run(room, f"i=0; while [ $i -lt 2000 ]; do sleep {marker} & i=$((i+1)); done; wait", policy)
    assert time.monotonic() - started < 30
    assert result.exit_code != 0
    assert "64 processes" in result.stderr or "fork" in result.stderr.lower(), result.stderr[-500:]
    assert _processes_with(marker) == []


async def test_a_memory_hog_is_bounded(room: Room) -> None:
    policy = SandboxPolicy(limits=SandboxLimits(memory_mb=256))
    result = await run(room, "python3 -c \"x = bytearray(1024 * 1024 * 1024); print('allocated')\"", policy)
    assert result.exit_code != 0 and "allocated" not in result.stdout
    assert "MemoryError" in result.stderr


async def test_file_size_is_bounded(room: Room, workspace: Path) -> None:
    policy = SandboxPolicy(limits=SandboxLimits(file_size_mb=1))
    result = await run(room, "head -c 5000000 /dev/zero > big.bin; echo status $?", policy)
    assert "status 0" not in result.stdout


async def test_a_pid_hopper_is_dead_when_the_command_ends(room: Room) -> None:
    marker = "hopper-27182"
    # Forks a child and exits, over and over, from the background, while the shell ends at once.
    hopper = (
        "python3 -c \"import os, sys, time\nwhile True:\n    if os.fork(): os._exit(0)\n    time.sleep(0.002)\" "
        f"{marker} &"
    )
    for _ in range(5):
        result = await run(room, f"{hopper} echo started")
        assert result.stdout == "started\n"
        assert _processes_with(marker) == []


async def test_the_cli_workspace_is_writable(workspace: Path, host_environ: dict[str, str]) -> None:
    disk = DiskWorkspace(workspace)
    result = await disk.run(f"{sys.executable} main.py > out.txt; echo new > made.txt", 30, POLICY)
    assert result.exit_code == 0, result.stderr
    assert (workspace / "out.txt").read_text() == "hi\n"
    assert (workspace / "made.txt").read_text() == "new\n"
    await disk.aclose()


async def test_the_session_folder_is_removed(workspace: Path, host_environ: dict[str, str], tmp_path: Path) -> None:
    made = Room(workspace, layer=True, parent=tmp_path / "rooms", environ=host_environ)
    await run(made, "echo x > /tmp/scratch && echo y > main.py")
    assert list((tmp_path / "rooms").iterdir())
    await made.aclose()
    await made.aclose()
    assert list((tmp_path / "rooms").iterdir()) == []


async def test_tools_in_a_replaced_folder_stay_usable(
    tmp_path: Path, workspace: Path, host_environ: dict[str, str]
) -> None:
    # A virtualenv in /tmp (a CI checkout, say): /tmp is the session's own inside, yet its tools run.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv / "bin" / "hello-tool").write_text("#!/bin/sh\necho tool ran\n")
    (venv / "bin" / "hello-tool").chmod(0o755)
    environ = {**host_environ, "PATH": f"{venv / 'bin'}:{host_environ['PATH']}"}
    made = Room(workspace, layer=True, parent=tmp_path / "rooms", environ=environ)
    result = await run(made, "hello-tool && touch " + str(venv / "bin" / "planted"))
    made.close_now()
    assert result.stdout == "tool ran\n"
    assert not (venv / "bin" / "planted").exists()
