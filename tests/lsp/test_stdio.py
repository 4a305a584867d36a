"""The server on raw stdio, as an editor starts it: `python -m lc_lsp`, hand-framed JSON-RPC, and a
STRICT reader — every byte of stdout must belong to a `Content-Length` frame. pytest-lsp's reader
skips stray lines; VS Code's does not (one stray print breaks the connection), so this test must."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from pygls.uris import from_fs_path

from tests.fakes.model_server import Call, Reply, ScriptedModelServer
from tests.lsp.conftest import MODEL, server_config

STUB = "def leap(year):\n    raise NotImplementedError\n"
IMPLEMENTED = "def leap(year):\n    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)\n"

# A server whose library code prints to stdout all through the session (the classic LSP bug).
NOISY_SERVER = """
import builtins, os, sys
import agent.transcript as transcript
original = transcript.Transcript.lines
def noisy(self, event):
    print("stray print from library code")
    os.write(1, b"stray bytes written to fd 1\\n")
    return original(self, event)
transcript.Transcript.lines = noisy
from lc_lsp.server import main
sys.exit(main([]))
"""


class FramingError(AssertionError):
    pass


def parse_frames(data: bytes) -> tuple[list[dict[str, Any]], bytes]:
    """Strictly split `data` into JSON-RPC frames; returns (messages, incomplete tail)."""
    messages: list[dict[str, Any]] = []
    at = 0
    while at < len(data):
        end_of_headers = data.find(b"\r\n\r\n", at)
        if end_of_headers < 0:
            tail = data[at:]
            if not (tail.startswith(b"Content-") or b"Content-".startswith(tail)):
                raise FramingError(f"bytes outside a frame: {tail[:80]!r}")
            return messages, tail  # a header still arriving
        headers: dict[str, str] = {}
        for line in data[at:end_of_headers].split(b"\r\n"):
            name, sep, value = line.decode("ascii", "replace").partition(": ")
            if not sep or name not in ("Content-Length", "Content-Type"):
                raise FramingError(f"bytes outside a frame: {data[at:end_of_headers][:80]!r}")
            headers[name] = value
        if "Content-Length" not in headers:
            raise FramingError("a frame without Content-Length")
        start = end_of_headers + 4
        stop = start + int(headers["Content-Length"])
        if stop > len(data):
            return messages, data[at:]
        body = data[start:stop]
        try:
            messages.append(json.loads(body))
        except ValueError as exc:
            raise FramingError(f"a frame whose body is not JSON: {body[:80]!r}") from exc
        at = stop
    return messages, b""


def test_the_strict_reader_rejects_a_stray_line() -> None:
    frame = b'Content-Length: 17\r\n\r\n{"jsonrpc":"2.0"}'
    assert parse_frames(frame + frame)[0] == [{"jsonrpc": "2.0"}] * 2
    with pytest.raises(FramingError):
        parse_frames(frame + b"hello from print()\n" + frame)
    with pytest.raises(FramingError):
        parse_frames(b"stray" + frame)
    with pytest.raises(FramingError):
        parse_frames(frame + b"no newline at the end")


class RawClient:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.received: list[dict[str, Any]] = []
        self.raw = bytearray()
        self.pending = b""
        self._next_id = 0

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def request(self, method: str, params: Any) -> int:
        self._next_id += 1
        self.send({"id": self._next_id, "method": method, "params": params})
        return self._next_id

    async def read(self) -> list[dict[str, Any]]:
        assert self.process.stdout is not None
        chunk = await self.process.stdout.read(65536)
        if not chunk:
            raise EOFError("the server closed stdout")
        self.raw += chunk
        messages, self.pending = parse_frames(self.pending + chunk)
        self.received += messages
        return messages


async def run_session(command: list[str], root: Path, model: ScriptedModelServer, *, progress: bool) -> RawClient:
    env = server_config().server_env
    process = await asyncio.create_subprocess_exec(
        *command, cwd=root, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    client = RawClient(process)
    uri = from_fs_path(str(root))
    client.request("initialize", {
        "processId": os.getpid(), "rootUri": uri, "workspaceFolders": [{"uri": uri, "name": "ws"}],
        "capabilities": {
            "window": {"workDoneProgress": progress},
            "workspace": {"configuration": True, "workspaceEdit": {
                "documentChanges": True, "resourceOperations": ["create"],
                "changeAnnotationSupport": {"groupsOnLabel": True}}},
        },
        "initializationOptions": {"littleCoder": {"backend": "ollama", "baseUrl": model.base_url, "model": MODEL}},
    })
    implement_id = None
    session_done = False
    while not session_done:
        for message in await asyncio.wait_for(client.read(), 20):
            method = message.get("method")
            if message.get("id") == 1 and "result" in message:
                client.send({"method": "initialized", "params": {}})
                implement_id = client.request("workspace/executeCommand", {
                    "command": "littleCoder.implement",
                    "arguments": [{"uri": from_fs_path(str(root / "leap.py")), "position": {"line": 1, "character": 4}}]})
            elif method == "workspace/configuration":
                client.send({"id": message["id"], "result": [None]})
            elif method == "window/workDoneProgress/create":
                client.send({"id": message["id"], "result": None})
            elif method == "workspace/applyEdit":
                client.send({"id": message["id"], "result": {"applied": True}})
                # Apply it the simple way: the one text edit replaces the stub's body line.
                (change,) = message["params"]["edit"]["documentChanges"]
                (edit,) = change["edits"]
                lines = STUB.splitlines(keepends=True)
                start, end = edit["range"]["start"]["line"], edit["range"]["end"]["line"]
                (root / "leap.py").write_text("".join(lines[:start]) + edit["newText"] + "".join(lines[end:]))
            elif method == "littleCoder/sessionFinished":
                session_done = True
    assert implement_id is not None
    shutdown_id = client.request("shutdown", None)
    while not any(m.get("id") == shutdown_id for m in client.received):
        await asyncio.wait_for(client.read(), 10)
    client.send({"method": "exit", "params": None})
    assert client.process.stdin is not None
    client.process.stdin.close()
    while True:  # whatever is left must be frames too
        try:
            await asyncio.wait_for(client.read(), 10)
        except EOFError:
            break
    assert client.pending == b"", f"stdout ended inside a frame: {client.pending[:80]!r}"
    assert await asyncio.wait_for(process.wait(), 10) == 0
    return client


@pytest.fixture
def model() -> Any:
    edit = Call("Edit", {"file_path": "leap.py", "old_string": "    raise NotImplementedError\n",
                         "new_string": IMPLEMENTED.splitlines(keepends=True)[1]})
    with ScriptedModelServer("ollama", [Reply(reasoning="easy", calls=[edit]), Reply("Done.")], model=MODEL) as server:
        yield server


@pytest.mark.parametrize(("command", "progress"), [
    pytest.param([sys.executable, "-m", "lc_lsp"], True, id="python -m lc_lsp"),
    # Also: a client without workDoneProgress gets no progress, and nothing breaks.
    pytest.param([sys.executable, "-c", NOISY_SERVER], False, id="library code printing to stdout"),
])
async def test_a_whole_session_over_raw_stdio_is_clean_json_rpc(
        command: list[str], progress: bool, tmp_path: Path, model: ScriptedModelServer) -> None:
    (tmp_path / "leap.py").write_text(STUB)
    client = await run_session(command, tmp_path, model, progress=progress)
    # Reaching here means every byte parsed as a frame; check the conversation was the real one.
    methods = [m.get("method") for m in client.received]
    assert "littleCoder/event" in methods and "workspace/applyEdit" in methods
    assert ("$/progress" in methods) is progress and ("window/workDoneProgress/create" in methods) is progress
    finished = next(m for m in client.received if m.get("method") == "littleCoder/sessionFinished")
    assert finished["params"]["state"] == "applied"
    assert (tmp_path / "leap.py").read_text() == IMPLEMENTED
    assert b"stray" not in bytes(client.raw)
