"""Huge files and huge command output cost bounded memory: a child process reads, edits and writes
around a 400 MB file and runs a command printing 400 MB, and its peak RSS stays far below either."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HUGE_BYTES = 400 * 1024 * 1024
PEAK_LIMIT = 200 * 1024 * 1024
HEADER_LINES = 100

_CHILD = """
import asyncio, json, sys
from pathlib import Path
from agent.settings import Settings
from agent.tools.base import ToolContext
from agent.tools.bash import Bash
from agent.tools.edit import Edit
from agent.tools.read import Read
from agent.tools.write import Write
from agent.workspace import DiskWorkspace

def peak():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

async def yes(command):
    return True

async def main():
    workspace = DiskWorkspace(Path(sys.argv[1]))
    ctx = ToolContext(workspace=workspace, settings=Settings(bash="always"), confirm=yes)
    calls = [(Read(), {"file_path": "huge.txt", "limit": 50}),
             (Read(), {"file_path": "huge.txt"}),
             (Edit(), {"file_path": "huge.txt", "old_string": "line 7 ", "new_string": "LINE 7 "}),
             (Write(), {"file_path": "huge.txt", "content": "small"}),
             (Bash(), {"command": "yes 0123456789abcdef0123456789abcdef | head -c %d" % int(sys.argv[2])})]
    results = {}
    try:
        for n, (tool, args) in enumerate(calls):
            result = await tool.run(tool.parse(args), ctx)
            results[n] = [result.is_error, result.content[:200], result.content[-300:]]
    finally:
        await workspace.aclose()
    print(json.dumps({"peak": peak(), "results": results}))

asyncio.run(main())
"""


@pytest.mark.slow
def test_a_400_mb_file_and_400_mb_of_output_take_bounded_memory(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    huge = root / "huge.txt"
    with huge.open("w") as out:
        out.writelines(f"line {n} of the header\n" for n in range(1, HEADER_LINES + 1))
    os.truncate(huge, HUGE_BYTES)  # sparse: the rest reads as NUL bytes, fast to make, no disk used
    done = subprocess.run([sys.executable, "-c", _CHILD, str(root), str(HUGE_BYTES)], cwd=ROOT,
                          capture_output=True, text=True, timeout=180, check=True)
    report = json.loads(done.stdout)
    window, whole, edit, write, bash = (report["results"][str(n)] for n in range(5))
    assert not window[0] and window[1].startswith("     1\tline 1 of the header")
    assert "To continue, call Read with offset=51" in window[2]
    assert whole[0] and "binary" in whole[1]  # past the header the window meets the NUL bytes
    assert edit[0] and "cannot change a file this large" in edit[1]
    assert write[0] and huge.stat().st_size == HUGE_BYTES
    assert not bash[0] and bash[1].startswith("0123456789abcdef") and "[exit code 0]" in bash[2]
    assert report["peak"] < PEAK_LIMIT, f"peak RSS {report['peak'] / 2**20:.0f} MiB"
