"""What the benchmarks share: the scripted model server in its own process, CPU clocks, percentiles, JSON out.

A benchmark must measure the real code path, so the fake model server never shares the measured
process (nor its GIL): `FakeModelProcess` starts `python -m tests.fakes.model_server` as a child,
paced at a real token rate, and reports the child's own CPU time separately.

    with FakeModelProcess([Reply("Done.")], tokens_per_second=50) as server:
        ...  # point the code under test at server.base_url
        server.cpu_seconds()   # the fake server's CPU, not ours
        server.log()           # one dict per finished chat request (tests/fakes/model_server.RequestLog)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.script import Reply, ServerScript  # noqa: E402

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process (Linux /proc), children not included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_seconds() -> float:
    """CPU of every child this process has waited for (a CLI run, a language server that exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rss_mb(pid: int) -> float:
    """Resident set size of a running process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): an observed value, never an interpolation."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / max of samples taken in seconds, in milliseconds."""
    return {
        "n": len(samples_s),
        "p50_ms": round(percentile(samples_s, 50) * 1000, 2),
        "p99_ms": round(percentile(samples_s, 99) * 1000, 2),
        "max_ms": round(max(samples_s) * 1000, 2),
    }


def emit(result: dict[str, Any]) -> None:
    """The benchmark's one JSON object on stdout."""
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    sys.stdout.flush()


def module_with_stub(lines: int) -> tuple[str, int]:
    """A realistic module of `lines` lines with one stub near the end; returns (text, stub line)."""
    chunks: list[str] = ['"""Inventory helpers."""\n\nfrom __future__ import annotations\n\n']
    index = 0
    while 4 + 7 * index < lines - 8:  # the header's 4 lines, then 7 per function
        chunks.append(
            f"\ndef total_{index}(items: list[tuple[str, int]]) -> int:\n"
            f'    """Sum of the quantities of batch {index}."""\n'
            f"    count = 0\n    for _name, quantity in items:\n        count += quantity * {index % 7 + 1}\n"
            f"    return count\n"
        )
        index += 1
    text = "".join(chunks)
    stub_line = text.count("\n") + 1
    text += "\ndef restock(level: int) -> int:\n    raise NotImplementedError\n"
    return text, stub_line


class FakeModelProcess:
    """The scripted model server (tests/fakes/model_server.py) as a separate process, paced."""

    def __init__(
        self,
        replies: Sequence[Reply] = (),
        *,
        protocol: str = "ollama",
        tokens_per_second: float | None = None,
        chunk_tokens: int = 4,
        default_reply: Reply | None = None,
        model: str | None = None,
    ) -> None:
        self._script = ServerScript(replies=list(replies), default_reply=default_reply, model=model)
        self._protocol = protocol
        self._rate = tokens_per_second
        self._chunk = chunk_tokens
        self._dir = tempfile.TemporaryDirectory(prefix="lc-bench-fake-")
        self._proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def __enter__(self) -> FakeModelProcess:
        folder = Path(self._dir.name)
        script = folder / "script.json"
        script.write_text(self._script.model_dump_json(), encoding="utf-8")
        command = [sys.executable, "-m", "tests.fakes.model_server", "--protocol", self._protocol,
                   "--script", str(script), "--chunk-tokens", str(self._chunk), "--log", str(folder / "log.jsonl")]
        if self._rate is not None:
            command += ["--tokens-per-second", str(self._rate)]
        self._proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the fake model server did not start (exit {self._proc.wait()})")
        self.base_url = json.loads(line)["base_url"]
        return self

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def log(self) -> list[dict[str, Any]]:
        path = Path(self._dir.name) / "log.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]

    def wait_requests(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The log once `count` chat requests have finished."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.log()
            if len(entries) >= count or time.monotonic() > deadline:
                return entries
            time.sleep(0.02)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._dir.cleanup()
