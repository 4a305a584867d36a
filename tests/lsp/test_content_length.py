"""An absurd `Content-Length` is refused, not allocated: the server logs it and serves the next message.

pygls reads a body with `stdin.read(Content-Length)`, which allocates the whole length at once: a header
claiming 1 TB made the server exit with MemoryError."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from pygls.uris import from_fs_path

from tests.lsp.conftest import server_config
from tests.lsp.test_stdio import RawClient


async def test_an_absurd_content_length_is_refused_and_the_next_request_answered(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lc_lsp", cwd=tmp_path, env=server_config().server_env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await _refused_then_served(RawClient(process), tmp_path)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _refused_then_served(client: RawClient, tmp_path: Path) -> None:
    process = client.process
    assert process.stdin is not None and process.stderr is not None
    process.stdin.write(b"Content-Length: 1000000000000\r\n\r\n")
    uri = from_fs_path(str(tmp_path))
    initialize = client.request("initialize", {"processId": os.getpid(), "rootUri": uri, "capabilities": {}})
    while not any(m.get("id") == initialize for m in client.received):
        await asyncio.wait_for(client.read(), 20)
    (answer,) = [m for m in client.received if m.get("id") == initialize]
    assert "capabilities" in answer["result"]
    client.send({"method": "initialized", "params": {}})
    shutdown = client.request("shutdown", None)
    while not any(m.get("id") == shutdown for m in client.received):
        await asyncio.wait_for(client.read(), 10)
    client.send({"method": "exit", "params": None})
    process.stdin.close()
    assert await asyncio.wait_for(process.wait(), 10) == 0
    stderr = (await process.stderr.read()).decode()
    assert "1000000000000" in stderr and "MemoryError" not in stderr
