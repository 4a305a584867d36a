"""A hostile-capable editor for the reliability scenarios: the real language server as a subprocess
(`python -m lc_lsp`), raw JSON-RPC over its stdio read by the STRICT framer of tests/lsp/test_stdio.py,
and an editor model on top that keeps buffers, types, and answers the server's requests the way an
editor does: applyEdit applied whole (or refused, as a stale version or a closed preview), configuration
with nothing set, showMessageRequest dismissed.

Raw, not pytest-lsp: a scenario must be able to send what no typed client would (wrong param types,
bodies that are not JSON, out-of-range positions), kill the server at any moment, and account for every
task it starts (the harness counts tasks left on the loop). Position arithmetic is written here from the
LSP specification ("\\r\\n", "\\r" and "\\n" end a line; columns count code units of the negotiated
encoding), independently of lc_lsp.ranges, so a server that places a change wrongly shows up as text
that differs.

Each `LspServer` gets a TMPDIR of its own outside the trial folder: the shadow trees the server makes
for Bash land there, so "no stray shadow folder" is `server.shadow_dirs() == []` after it ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pygls.uris import from_fs_path, to_fs_path

from agent.sandbox import STATE_PREFIX
from lc_lsp.shadow import SHADOW_PREFIX
from tests.lsp.conftest import MODEL, server_config
from tests.lsp.test_stdio import parse_frames
from tests.reliability.harness import Trial

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

Json = dict[str, Any]


class RpcError(Exception):
    def __init__(self, error: Json) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code: int = error.get("code", 0)
        self.message: str = str(error.get("message", ""))
        self.data: Any = error.get("data")


class ServerGone(Exception):
    """The server closed its stdout (it exited or was killed)."""


# --- positions, from the specification ------------------------------------------------------------


def lines_of(text: str) -> list[tuple[int, int]]:
    """(start, content end) of every LSP line; a text ending in a line break has an empty last line."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _LINE_BREAK.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return spans


def units(char: str, encoding: str) -> int:
    if encoding == "utf-32":
        return 1
    if encoding == "utf-16":
        return 2 if ord(char) > 0xFFFF else 1
    return len(char.encode("utf-8", "surrogatepass"))


def position_of(text: str, offset: int, encoding: str) -> Json:
    spans = lines_of(text)
    for line, (start, end) in enumerate(spans):
        if offset <= end or line == len(spans) - 1:
            column = text[start : min(offset, end)]
            return {"line": line, "character": sum(units(c, encoding) for c in column)}
    raise AssertionError("unreachable")


def offset_of(text: str, position: Json, encoding: str) -> int:
    """Clamped as the specification says: past the last line is the end of the text, past a line's
    end is that line's end."""
    spans = lines_of(text)
    if position["line"] >= len(spans):
        return len(text)
    start, end = spans[position["line"]]
    counted = 0
    at = start
    while at < end and counted + units(text[at], encoding) <= position["character"]:
        counted += units(text[at], encoding)
        at += 1
    return at


def apply_text_edits(text: str, edits: list[Json], encoding: str) -> str:
    spans = sorted(
        ((offset_of(text, e["range"]["start"], encoding), offset_of(text, e["range"]["end"], encoding), e["newText"])
         for e in edits),
        key=lambda s: (s[0], s[1]), reverse=True,
    )
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


def span(start: Json, end: Json) -> Json:
    return {"start": start, "end": end}


# --- the server process ---------------------------------------------------------------------------


def vscode_capabilities() -> Json:
    return {
        "window": {"workDoneProgress": True, "showMessage": {"messageActionItem": {}}},
        "workspace": {
            "configuration": True,
            "workspaceEdit": {
                "documentChanges": True,
                "resourceOperations": ["create", "rename", "delete"],
                "changeAnnotationSupport": {"groupsOnLabel": True},
            },
        },
        "textDocument": {"codeAction": {"resolveSupport": {"properties": ["edit"]}}},
        "general": {"positionEncodings": ["utf-16"]},
    }


@dataclass
class Editor:
    """The editor's side: open buffers, what the user answers, and what the server said."""

    root: Path
    encoding: str = "utf-16"
    buffers: dict[str, tuple[str, int]] = field(default_factory=dict)
    refuse: str | None = None  # answer applyEdit with applied=false and this reason
    review_gate: asyncio.Event | None = None  # applyEdit waits for it (a user still reviewing)
    edit_requests: list[Json] = field(default_factory=list)
    answers: list[str | None] = field(default_factory=list)  # showMessageRequest replies, in order
    default_answer: str | None = None  # the reply once `answers` is used up (None: dismissed)
    # The user's tick per change annotation in the review (None: a change without annotation).
    accept: Callable[[Json | None], bool] = lambda annotation: True
    message_requests: list[Json] = field(default_factory=list)  # window/showMessageRequest params
    messages: list[Json] = field(default_factory=list)  # window/showMessage params
    events: list[Json] = field(default_factory=list)  # littleCoder/event params
    edit_seen: asyncio.Event = field(default_factory=asyncio.Event)

    def uri(self, relative: str) -> str:
        uri = from_fs_path(str(self.root / relative))
        assert uri is not None
        return str(uri)

    def path(self, relative: str) -> Path:
        return self.root / relative

    def text(self, relative: str) -> str | None:
        """What the user sees: the buffer if open, else the file (bytes decoded as UTF-8 exactly)."""
        uri = self.uri(relative)
        if uri in self.buffers:
            return self.buffers[uri][0]
        path = self.path(relative)
        return path.read_bytes().decode("utf-8") if path.exists() else None

    def errors(self, since: int = 0) -> list[str]:
        return [m["message"] for m in self.messages[since:] if m.get("type") == 1]

    def warnings(self, since: int = 0) -> list[str]:
        return [m["message"] for m in self.messages[since:] if m.get("type") == 2]


class LspServer:
    """One language server subprocess and the editor talking to it."""

    def __init__(self, root: Path, *, settings: Json | None = None, capabilities: Json | None = None,
                 tmpdir: Path | None = None) -> None:
        """`tmpdir`: the server's TMPDIR, to share one between a server and the one that replaces it
        (default: a new folder, removed by `cleanup_tmp`)."""
        self.root = root
        self.editor = Editor(root)
        self.settings = settings or {}
        self.capabilities = capabilities if capabilities is not None else vscode_capabilities()
        self.tmpdir = tmpdir if tmpdir is not None else Path(tempfile.mkdtemp(prefix="lc-lsp-tmp-"))
        self.process: asyncio.subprocess.Process | None = None
        self.framing_error: str | None = None
        self.raw = bytearray()  # every byte the server wrote to stdout
        self._pending = b""
        self._next_id = 0
        self._waiting: dict[Any, asyncio.Future[Json]] = {}
        self._finished: dict[str, asyncio.Future[Json]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._stderr_path = Path(tempfile.mkstemp(prefix="lc-lsp-stderr-", suffix=".log")[1])
        self._closed = asyncio.Event()

    # --- life cycle ---------------------------------------------------------------------------

    async def start(self, *, initialize: bool = True) -> LspServer:
        env = dict(server_config().server_env or {})
        env["TMPDIR"] = str(self.tmpdir)
        # The server must not find the developer's project settings above the trial folder.
        with open(self._stderr_path, "wb") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "lc_lsp", cwd=self.root, env=env, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=stderr)
        self._reader = asyncio.create_task(self._read(), name="lsp-editor reader")
        if initialize:
            await self.initialize()
        return self

    async def initialize(self) -> Json:
        uri = from_fs_path(str(self.root))
        result = await self.request("initialize", {
            "processId": os.getpid(), "rootUri": uri, "workspaceFolders": [{"uri": uri, "name": "ws"}],
            "capabilities": self.capabilities,
            "initializationOptions": {"littleCoder": self.settings},
        }, timeout=30)
        self.editor.encoding = str(result["capabilities"].get("positionEncoding") or "utf-16")
        self.notify("initialized", {})
        return dict(result)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def shutdown(self, timeout: float = 10.0) -> int | None:
        """shutdown + exit as an editor does; the exit code (None: it had to be killed)."""
        if self.alive():
            with contextlib.suppress(ServerGone, TimeoutError, RpcError):
                await self.request("shutdown", None, timeout=timeout)
            with contextlib.suppress(ServerGone, ConnectionError):
                self.notify("exit", None)
        return await self.wait_exit(timeout)

    async def wait_exit(self, timeout: float = 10.0) -> int | None:
        assert self.process is not None
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            return None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(sig)

    async def close(self) -> None:
        """End the server (politely if it still runs) and every task this object started."""
        if self.process is not None:
            if self.alive():
                await self.shutdown(timeout=5)
            else:
                await self.process.wait()
            if self.process.stdin is not None:
                self.process.stdin.close()
                with contextlib.suppress(ConnectionError):
                    await self.process.stdin.wait_closed()
        if self._reader is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closed.wait(), 5)
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.wait(self._handlers)
        for future in [*self._waiting.values(), *self._finished.values()]:
            if not future.done():
                future.cancel()

    def shadow_dirs(self) -> list[Path]:
        """The server's private folders for commands: sandbox session folders, or shadow copies."""
        return sorted([*self.tmpdir.glob(SHADOW_PREFIX + "*"), *self.tmpdir.glob(STATE_PREFIX + "*")])

    def cleanup_tmp(self) -> None:
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        self._stderr_path.unlink(missing_ok=True)

    def stderr(self) -> str:
        try:
            return self._stderr_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    # --- sending --------------------------------------------------------------------------------

    def send_body(self, body: bytes) -> None:
        """One well-framed message with any body at all."""
        if not self.alive():
            raise ServerGone("the server has exited")
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def send(self, message: Json) -> None:
        self.send_body(json.dumps({"jsonrpc": "2.0", **message}, ensure_ascii=False).encode("utf-8"))

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def start_request(self, method: str, params: Any, msg_id: Any = None) -> tuple[Any, asyncio.Future[Json]]:
        if msg_id is None:
            self._next_id += 1
            msg_id = self._next_id
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = future
        message: Json = {"id": msg_id, "method": method}
        if params is not None or method == "shutdown":
            message["params"] = params
        self.send(message)
        return msg_id, future

    def expect_answer(self, msg_id: Any) -> asyncio.Future[Json]:
        """A future for the answer carrying `msg_id`, for a request about to be sent raw."""
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = future
        future.add_done_callback(lambda _: self._waiting.pop(msg_id, None))
        return future

    async def answer_to(self, body: bytes, msg_id: Any, timeout: float = 5.0) -> Json | None:
        """Send a raw body and wait for the answer that carries `msg_id` (None: an answer whose id is
        null); None when no answer came within `timeout`."""
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = future
        try:
            self.send_body(body)
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(msg_id, None)

    async def request(self, method: str, params: Any, timeout: float = 10.0) -> Any:
        """The result; RpcError for an error answer; TimeoutError when no answer came."""
        msg_id, future = self.start_request(method, params)
        try:
            answer = await asyncio.wait_for(asyncio.shield(future), timeout)
        finally:
            self._waiting.pop(msg_id, None)
        if "error" in answer:
            raise RpcError(answer["error"])
        return answer.get("result")

    async def command(self, name: str, *arguments: Any, timeout: float = 10.0) -> Any:
        return await self.request("workspace/executeCommand", {"command": name, "arguments": list(arguments)},
                                  timeout=timeout)

    async def status(self, session_id: str | None = None) -> Json:
        result: Json = await self.command("littleCoder.status", {"sessionId": session_id} if session_id else {})
        return result

    # --- documents --------------------------------------------------------------------------------

    def write(self, relative: str, text: str | bytes) -> str:
        path = self.editor.path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_bytes(text.encode("utf-8"))  # no newline translation: CRLF stays CRLF
        return self.editor.uri(relative)

    def open(self, relative: str, text: str | None = None, language: str = "python") -> str:
        uri = self.editor.uri(relative)
        if text is None:
            text = self.editor.path(relative).read_bytes().decode("utf-8")
        self.editor.buffers[uri] = (text, 1)
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": language, "version": 1,
                                                              "text": text}})
        return uri

    def close_buffer(self, relative: str) -> None:
        uri = self.editor.uri(relative)
        self.editor.buffers.pop(uri, None)
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})

    def replace(self, relative: str, start: int, end: int, new_text: str) -> None:
        """The user replaces text[start:end] (Python offsets) of an open buffer."""
        uri = self.editor.uri(relative)
        text, version = self.editor.buffers[uri]
        encoding = self.editor.encoding
        change = {"range": span(position_of(text, start, encoding), position_of(text, end, encoding)),
                  "text": new_text}
        self.send_change(uri, text[:start] + new_text + text[end:], version + 1, [change])

    def type(self, relative: str, offset: int, new_text: str) -> None:
        self.replace(relative, offset, offset, new_text)

    def send_change(self, uri: str, text: str, version: int, changes: list[Json]) -> None:
        """Record the buffer's new text and version and tell the server with `changes`."""
        self.editor.buffers[uri] = (text, version)
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                               "contentChanges": changes})

    # --- sessions ---------------------------------------------------------------------------------

    def finished(self, session_id: str) -> asyncio.Future[Json]:
        if session_id not in self._finished:
            self._finished[session_id] = asyncio.get_running_loop().create_future()
        return self._finished[session_id]

    async def wait_finished(self, session_id: str, timeout: float = 20.0) -> Json:
        return await asyncio.wait_for(asyncio.shield(self.finished(session_id)), timeout)

    async def wait_event(self, session_id: str, predicate: Callable[[Json], bool], timeout: float = 20.0) -> Json:
        deadline = time.monotonic() + timeout
        while True:
            for payload in self.editor.events:
                if payload.get("sessionId") == session_id and predicate(payload.get("event", {})):
                    return payload
            if time.monotonic() > deadline:
                raise TimeoutError(f"no such event of session {session_id}")
            if not self.alive():
                raise ServerGone("the server exited while waiting for an event")
            await asyncio.sleep(0.01)

    # --- reading ----------------------------------------------------------------------------------

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        try:
            while True:
                chunk = await self.process.stdout.read(1 << 20)
                if not chunk:
                    break
                self.raw += chunk
                try:
                    messages, self._pending = parse_frames(self._pending + chunk)
                except AssertionError as exc:
                    self.framing_error = str(exc)
                    break
                for message in messages:
                    self._dispatch(message)
        finally:
            self._closed.set()
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(ServerGone("the server closed its output before answering"))

    def _dispatch(self, message: Json) -> None:
        method = message.get("method")
        if method is None:
            future = self._waiting.get(message.get("id"))
            if future is not None and not future.done():
                future.set_result(message)
            return
        if "id" in message:
            task = asyncio.create_task(self._answer(message), name=f"lsp-editor answers {method}")
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
            return
        params: Json = message.get("params") or {}
        if method == "window/showMessage":
            self.editor.messages.append(params)
        elif method == "littleCoder/event":
            self.editor.events.append(params)
        elif method == "littleCoder/sessionFinished":
            future = self.finished(params["sessionId"])
            if not future.done():
                future.set_result(params)

    async def _answer(self, message: Json) -> None:
        method: str = message["method"]
        params: Json = message.get("params") or {}
        editor = self.editor
        result: Any = None
        if method == "workspace/applyEdit":
            editor.edit_requests.append(params)
            editor.edit_seen.set()
            if editor.review_gate is not None:
                await editor.review_gate.wait()
            stale = self.stale_document(params["edit"])
            if editor.refuse is not None or stale is not None:
                result = {"applied": False, "failureReason": editor.refuse or stale}
            else:
                self.apply(params["edit"])
                result = {"applied": True}
        elif method == "window/showMessageRequest":
            editor.message_requests.append(params)
            answer = editor.answers.pop(0) if editor.answers else editor.default_answer
            result = {"title": answer} if answer is not None else None
        elif method == "workspace/configuration":
            result = [None for _ in params.get("items", [])]
        if self.alive():
            with contextlib.suppress(ServerGone, ConnectionError):
                self.send({"id": message["id"], "result": result})

    # --- applying an edit like an editor ----------------------------------------------------------

    def stale_document(self, edit: Json) -> str | None:
        """Why an editor refuses `edit`: an edit for a buffer version the user has typed past (as VS Code
        does); None when it applies."""
        for change in edit.get("documentChanges") or []:
            document = change.get("textDocument")
            if document is None or document.get("version") is None or document["uri"] not in self.editor.buffers:
                continue
            if document["version"] != self.editor.buffers[document["uri"]][1]:
                return f"version {document['version']} of {document['uri']} is stale"
        return None

    def apply(self, edit: Json) -> None:
        """The edit as the user ticked it in a review: `Editor.accept` decides per change annotation."""
        annotations = edit.get("changeAnnotations") or {}

        def accepted(item: Json) -> bool:
            annotation_id = item.get("annotationId")
            return self.editor.accept(annotations.get(annotation_id) if annotation_id else None)

        for change in edit.get("documentChanges") or []:
            kind = change.get("kind")
            if kind == "create":
                path = Path(_fs(change["uri"]))
                if accepted(change) and not path.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(b"")
            elif kind == "delete":
                Path(_fs(change["uri"])).unlink(missing_ok=True)
            elif kind == "rename":
                Path(_fs(change["oldUri"])).rename(_fs(change["newUri"]))
            else:
                uri = change["textDocument"]["uri"]
                self._edit(uri, [e for e in change["edits"] if accepted(e)])
        for uri, edits in (edit.get("changes") or {}).items():
            self._edit(uri, list(edits))

    def _edit(self, uri: str, edits: list[Json]) -> None:
        if not edits:
            return
        encoding = self.editor.encoding
        if uri in self.editor.buffers:
            text, version = self.editor.buffers[uri]
            ordered = sorted(edits, key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]),
                             reverse=True)
            self.send_change(uri, apply_text_edits(text, edits, encoding), version + 1,
                          [{"range": e["range"], "text": e["newText"]} for e in ordered])
            return
        path = Path(_fs(uri))
        if not path.exists():
            return  # a real editor fails such an edit; the text simply does not land
        text = path.read_bytes().decode("utf-8")
        path.write_bytes(apply_text_edits(text, edits, encoding).encode("utf-8"))


def _fs(uri: str) -> str:
    path = to_fs_path(uri)
    assert path is not None
    return path


def model_settings(base_url: str, **extra: Any) -> Json:
    return {"backend": "ollama", "baseUrl": base_url, "model": MODEL, "stallTimeout": 10, "connectTimeout": 2,
            **extra}


def processes_running(marker: str) -> set[int]:
    """Live processes whose command line contains `marker` (scenarios put a unique one in each command)."""
    needle = marker.encode()
    found: set[int] = set()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                command = handle.read()
            with open(f"/proc/{name}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != b"Z" and needle in command:
            found.add(int(name))
    return found


# --- scenario plumbing --------------------------------------------------------------------------------

DIGEST_LINE = re.compile(r"DIGEST ([0-9a-f]{64}) (\d+)")


def digest_command(relative: str) -> str:
    """A Bash command (allow-listed: python) printing the SHA-256 and size of a file as the agent's
    commands see it — the server's copy of the buffer, written into the shadow tree."""
    return (
        "python3 -c \"import hashlib,sys; d=open(sys.argv[1],'rb').read(); "
        f"print('DIGEST', hashlib.sha256(d).hexdigest(), len(d))\" {relative}"
    )


def digest(text: str) -> tuple[str, int]:
    data = text.encode("utf-8")
    return hashlib.sha256(data).hexdigest(), len(data)


async def agent_view(server: LspServer, model: Any, relative: str) -> tuple[str, int] | None:
    """(SHA-256, size) of `relative` as the agent sees it, read through a session whose model runs
    `digest_command`; None when the session did not report it."""
    from tests.fakes.model_server import Call, Reply

    before = len(model.requests)
    model.replace_replies([Reply(calls=[Call("Bash", {"command": digest_command(relative)})]), Reply("Checked.")])
    started = await server.command("littleCoder.ask", {"instruction": f"print the digest of {relative}"})
    await server.wait_finished(started["sessionId"])
    for body in model.requests[before:]:
        for message in body.get("messages", []):
            if message.get("role") == "tool":
                found = DIGEST_LINE.search(str(message.get("content", "")))
                if found:
                    return found.group(1), int(found.group(2))
    return None


def tree_snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (relative path → bytes), for "nothing on disk changed"."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@contextlib.asynccontextmanager
async def running(trial: Trial, replies: Any = (), *, capabilities: Json | None = None,
                  encoding: str | None = None, **settings: Any) -> AsyncIterator[tuple[LspServer, Any]]:
    """A scripted model server and a language server on `trial.workspace`, ended and checked on exit:
    the server never broke the framing of stdout, never told the user "Error in server", logged no
    traceback, exited cleanly when asked, and left no shadow tree behind."""
    from tests.fakes.model_server import ScriptedModelServer

    caps = capabilities if capabilities is not None else vscode_capabilities()
    if encoding is not None:
        caps = {**caps, "general": {"positionEncodings": [encoding]}}
    with ScriptedModelServer("ollama", replies, model=MODEL) as model:
        server = LspServer(trial.workspace, settings=model_settings(model.base_url, **settings), capabilities=caps)
        try:
            await server.start()
            yield server, model
            trial.check(server.alive(), "the language server died during the scenario")
            sessions = (await server.status()).get("sessions", [])
            left = [s for s in sessions if s.get("state") in ("running", "reviewing")]
            trial.check(not left, f"sessions still running when the scenario ended: {left}")
            code = await server.shutdown()
            trial.check(code == 0, f"the language server did not exit cleanly after shutdown/exit (code {code})")
        finally:
            await server.close()
            check_server_output(trial, server)
            server.cleanup_tmp()


def check_server_output(trial: Trial, server: LspServer) -> None:
    trial.check(server.framing_error is None, f"stdout broke the JSON-RPC framing: {server.framing_error}")
    generic = [m for m in server.editor.errors() if "Error in server" in m]
    trial.check(not generic, f"the user was shown pygls's generic error: {generic[:3]}")
    log = server.stderr()
    start = log.find("Traceback")
    # The end of a traceback says what failed; its start only where.
    trial.check(start < 0, "the server logged a traceback:\n" + log[start : start + 6000][-2500:])
    trial.check(not server.shadow_dirs(), f"shadow trees left behind: {server.shadow_dirs()}")
