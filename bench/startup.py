"""Start-up: how long an editor waits for its first code action, and what an idle server costs.

For each way an editor starts the server (`little-coder lsp`, `python -m lc_lsp`), `--runs` times:
start the process, `initialize`, `initialized`, open a 3,000-line Python file with a stub near its end,
and ask `textDocument/codeAction` on the stub — timed from process start to the answer, with the
server's own CPU at that moment. Then the server idles a few seconds (its background warm-up runs)
and its resident memory is read. Beside it, in the same run: the floor (a process that only imports
pygls's `LanguageServer`, which any pygls server pays) and `little-coder --help`.

With `--compare-with DIR` (a checkout of an earlier version, e.g. `git worktree add /tmp/prev <commit>`)
the same measurements run on that code too, side by side.

Goals: first code action ≤ 1 s wall, server CPU ≤ floor + 0.25 s, `--help` ≤ 0.3 s, idle RSS < 100 MB.

    python bench/startup.py [--runs 5] [--compare-with DIR] [--quick]

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import children_cpu_seconds, emit, module_with_stub, process_cpu_seconds, rss_mb  # noqa: E402

GOAL_FIRST_ACTION_S = 1.0
GOAL_CPU_ABOVE_FLOOR_S = 0.25
GOAL_HELP_S = 0.3
GOAL_IDLE_RSS_MB = 100.0
IDLE_S = 4.0  # past the server's warm-up (lc_lsp.server.WARM_UP_DELAY_S) and its loading of tiktoken
CLI = "import sys; from agent.cli import main; sys.argv[0] = 'little-coder'; sys.exit(main())"
FLOOR = "from pygls.lsp.server import LanguageServer"


class RpcClient:
    """JSON-RPC over a child's pipes, framed like LSP; answers nothing the server asks."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self._buffer = b""
        self._next_id = 0

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: Any, timeout: float = 30.0) -> Any:
        self._next_id += 1
        wanted = self._next_id
        self._send({"jsonrpc": "2.0", "id": wanted, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(deadline)
            if message.get("id") == wanted and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result")

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self._proc.stdin is not None
        self._proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self._proc.stdin.flush()

    def _read(self, deadline: float) -> dict[str, Any]:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while True:
            head, sep, rest = self._buffer.partition(b"\r\n\r\n")
            if sep:
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length"))
                if len(rest) >= length:
                    self._buffer = rest[length:]
                    decoded: dict[str, Any] = json.loads(rest[:length])
                    return decoded
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError("the server did not answer in time")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise RuntimeError(f"the server exited ({self._proc.wait()})")
            self._buffer += chunk


def first_code_action(command: list[str], source: Path, workspace: Path, text: str, stub_line: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(source), "LITTLE_CODER_LOG_LEVEL": "WARNING"}
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=source, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    client = RpcClient(proc)
    try:
        client.request("initialize", {"processId": os.getpid(), "rootUri": workspace.as_uri(), "capabilities": {
            "textDocument": {"codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": [
                "", "quickfix", "refactor", "refactor.rewrite"]}}}}}})
        initialized = time.monotonic() - started
        client.notify("initialized", {})
        uri = (workspace / "inventory.py").as_uri()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                                "text": text}})
        found = client.request("textDocument/codeAction", {
            "textDocument": {"uri": uri}, "context": {"diagnostics": []},
            "range": {"start": {"line": stub_line, "character": 4}, "end": {"line": stub_line, "character": 4}}})
        answered = time.monotonic() - started
        cpu = process_cpu_seconds(proc.pid)
        if not found:
            raise RuntimeError("no code action on the stub")
        rss_first = rss_mb(proc.pid)
        time.sleep(IDLE_S)
        rss_idle = rss_mb(proc.pid)
        client.request("shutdown", None)
        client.notify("exit", None)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return {"initialize_s": initialized, "first_code_action_s": answered, "server_cpu_s": cpu,
            "rss_at_first_answer_mb": rss_first, "idle_rss_mb": rss_idle}


def child_run(command: list[str], source: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one short child process."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    cpu_before = children_cpu_seconds()
    started = time.monotonic()
    subprocess.run(command, cwd=source, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started, children_cpu_seconds() - cpu_before


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(run[key] for run in runs), 3) for key in runs[0]}


def measure(source: Path, runs: int, workspace: Path, text: str, stub_line: int) -> dict[str, Any]:
    python = sys.executable
    entries = {"little-coder lsp": [python, "-c", CLI, "lsp"], "python -m lc_lsp": [python, "-m", "lc_lsp"]}
    result: dict[str, Any] = {}
    floor = [child_run([python, "-c", FLOOR], source) for _ in range(runs)]
    result["floor_import_language_server"] = {"wall_s": round(statistics.median(w for w, _ in floor), 3),
                                              "cpu_s": round(statistics.median(c for _, c in floor), 3)}
    helps = [child_run([python, "-c", CLI, "--help"], source) for _ in range(runs)]
    result["help"] = {"wall_s": round(statistics.median(w for w, _ in helps), 3),
                      "cpu_s": round(statistics.median(c for _, c in helps), 3)}
    for name, command in entries.items():
        result[name] = median_of([first_code_action(command, source, workspace, text, stub_line)
                                  for _ in range(runs)])
    return result


def goals(measured: dict[str, Any]) -> dict[str, Any]:
    floor_cpu = measured["floor_import_language_server"]["cpu_s"]
    worst_wall = max(measured[name]["first_code_action_s"] for name in ("little-coder lsp", "python -m lc_lsp"))
    worst_cpu = max(measured[name]["server_cpu_s"] for name in ("little-coder lsp", "python -m lc_lsp"))
    worst_rss = max(measured[name]["idle_rss_mb"] for name in ("little-coder lsp", "python -m lc_lsp"))
    met = {
        "first_code_action_within_1s": worst_wall <= GOAL_FIRST_ACTION_S,
        "cpu_within_floor_plus_0.25s": worst_cpu <= floor_cpu + GOAL_CPU_ABOVE_FLOOR_S,
        "help_within_0.3s": measured["help"]["wall_s"] <= GOAL_HELP_S,
        "idle_rss_below_100mb": worst_rss < GOAL_IDLE_RSS_MB,
    }
    return {"cpu_above_floor_s": round(worst_cpu - floor_cpu, 3), "goals_met": met, "goal_met": all(met.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--compare-with", type=Path, help="a checkout of an earlier version to measure beside")
    parser.add_argument("--quick", action="store_true", help="one run each")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    text, stub_line = module_with_stub(3000)
    with tempfile.TemporaryDirectory(prefix="lc-bench-startup-") as folder:
        workspace = Path(folder)
        (workspace / "inventory.py").write_text(text, encoding="utf-8")
        current = measure(ROOT, runs, workspace, text, stub_line)
        result: dict[str, Any] = {
            "bench": "startup", "runs": runs, "cpus": os.cpu_count(), "file_lines": text.count("\n"),
            "goal": {"first_code_action_s": GOAL_FIRST_ACTION_S, "cpu_above_floor_s": GOAL_CPU_ABOVE_FLOOR_S,
                     "help_s": GOAL_HELP_S, "idle_rss_mb": GOAL_IDLE_RSS_MB},
            "current": current, **goals(current),
        }
        if args.compare_with is not None:
            previous = measure(args.compare_with.resolve(), runs, workspace, text, stub_line)
            result["previous"] = previous
            result["ratio_previous_over_current"] = {
                name: round(previous[name]["first_code_action_s"] / current[name]["first_code_action_s"], 2)
                for name in ("little-coder lsp", "python -m lc_lsp")
            }
    emit(result)


if __name__ == "__main__":
    main()
