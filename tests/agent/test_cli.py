"""`little-coder run` as a user runs it: a subprocess against the scripted server, exit codes and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Call, Reply

IMPL = "    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)"


def run_cli(*args: str, cwd: Path | None = None, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, env=env)


def test_run_writes_to_disk_and_prints_the_final_event(leap_workspace: Path) -> None:
    script = [
        Reply(calls=[Call("Edit", {"file_path": "leap.py", "old_string": "    raise NotImplementedError",
                                   "new_string": IMPL})]),
        Reply("Done."),
    ]
    with ScriptedModelServer("ollama", script) as server:
        proc = run_cli("run", "--workspace", str(leap_workspace), "--backend", "ollama", "--base-url",
                       server.base_url, "--json", "Implement is_leap")
    assert proc.returncode == 0, proc.stderr
    final = json.loads(proc.stdout)
    assert final["kind"] == "session_finished" and final["outcome"] == "done"
    assert final["changed_files"] == ["leap.py"] and final["tool_counts"] == {"Edit": 1}
    assert IMPL in (leap_workspace / "leap.py").read_text()
    # The live transcript went to stderr: turns and tool calls.
    assert "turn 1/20" in proc.stderr and "Edit" in proc.stderr


def test_turn_cap_exits_3(leap_workspace: Path) -> None:
    script = [Reply(calls=[Call("Glob", {"pattern": f"*{i}"})]) for i in range(5)]
    with ScriptedModelServer("openai", script) as server:
        proc = run_cli("run", "-w", str(leap_workspace), "--backend", "openai", "--base-url", server.base_url,
                       "--max-turns", "2", "look")
    assert proc.returncode == 3, proc.stderr
    assert "turn_cap" in proc.stderr


def test_server_down_exits_1_with_advice(leap_workspace: Path) -> None:
    proc = run_cli("run", "-w", str(leap_workspace), "--backend", "ollama", "--base-url", "http://127.0.0.1:9",
                   "x")
    assert proc.returncode == 1
    assert "http://127.0.0.1:9" in proc.stderr and "Traceback" not in proc.stderr


def test_usage_errors_exit_2(leap_workspace: Path) -> None:
    assert run_cli("run", "-w", str(leap_workspace), "--max-turns", "0", "x").returncode == 2
    assert run_cli("run", "-w", str(leap_workspace / "nope"), "x").returncode == 2
    bad_env = run_cli("run", "-w", str(leap_workspace), "x", env_extra={"LITTLE_CODER_TEMPERATURE": "hot"})
    assert bad_env.returncode == 2 and "temperature" in bad_env.stderr
    (leap_workspace / ".little-coder.toml").write_text("max_turns = 'many'\n")
    bad_file = run_cli("run", "-w", str(leap_workspace), "x")
    assert bad_file.returncode == 2 and "max_turns" in bad_file.stderr and ".little-coder.toml" in bad_file.stderr


def test_lsp_subcommand_speaks_json_rpc_with_the_stdio_flag() -> None:
    """Editors start `little-coder lsp --stdio` (vscode-languageclient appends the flag)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"processId": None, "rootUri": None, "capabilities": {}}}).encode()
    shutdown = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}).encode()
    exit_ = json.dumps({"jsonrpc": "2.0", "method": "exit"}).encode()
    frames = b"".join(b"Content-Length: %d\r\n\r\n%s" % (len(m), m) for m in (body, shutdown, exit_))
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "lsp", "--stdio"], input=frames,
                          capture_output=True, timeout=60)
    assert proc.stdout.startswith(b"Content-Length: "), (proc.stdout[:200], proc.stderr[-500:])
    header, _, rest = proc.stdout.partition(b"\r\n\r\n")
    length = int(header.split(b"\r\n")[0].split(b":")[1])
    reply = json.loads(rest[:length])
    assert reply["id"] == 1 and "capabilities" in reply["result"]


def test_a_terminal_shows_where_the_model_stands_on_one_live_line(leap_workspace: Path) -> None:
    import os
    import pty

    reasoning = " ".join(f"step{i} checks the century rule" for i in range(150))
    script = [Reply(reasoning=reasoning, calls=[Call("Edit", {"file_path": "leap.py", "old_string":
                                                              "    raise NotImplementedError", "new_string": IMPL})],
                    tokens_per_second=600),
              Reply("Done.")]
    with ScriptedModelServer("ollama", script) as server:
        leader, follower = pty.openpty()  # stderr is a terminal, as for a user
        proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "run", "-w", str(leap_workspace), "--backend",
                                 "ollama", "--base-url", server.base_url, "Implement is_leap"],
                                stdout=subprocess.DEVNULL, stderr=follower)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            seen += chunk
        assert proc.wait(60) == 0
        os.close(leader)
    text = seen.decode("utf-8", "replace")
    pieces = text.split("\r\x1b[K")
    live = [piece for piece in pieces if piece.startswith("  … ")]
    assert any(piece.startswith("  … thinking ") for piece in live), pieces[:5]
    # A live line is never left in front of a transcript line: each is cleared before the next line.
    assert all("\n" not in piece and "turn" not in piece for piece in live), live
    assert "turn 2/20" in text and "Edit leap.py" in text
