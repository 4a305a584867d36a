"""A scripted editor for end-to-end tests of the language server (pytest-lsp 1.0.1 client, real server
subprocess, real scripted model server on loopback).

`Editor` behaves like a real client where the tests need it to: it keeps open buffers and sends
incremental didChange notifications, answers `workspace/applyEdit` by applying the edit the way an
editor does (to the open buffer, else to the file on disk; only the hunks the "user" accepts; in the
client's position encoding), answers `window/showMessageRequest` from a script, and records the
`littleCoder/event` notifications. Its position arithmetic is written here, independently of
lc_lsp.ranges, so a wrong range in the server's edit shows up as wrong text.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Union

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.protocol import default_converter
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import register_lsp_features

from tests.fakes.model_server import ScriptedModelServer

SERVER_COMMAND = [sys.executable, "-m", "lc_lsp"]
ROOT = Path(__file__).resolve().parents[2]
MODEL = "qwen3.5:9b"

# Which hunks the user accepts, by annotation id (None: an edit without annotation).
Accept = Callable[[str | None, types.ChangeAnnotation | None], bool]


def fixed_converter() -> Any:
    """lsprotocol 2025.0.0 structures any `Command | CodeAction` with a "command" key as a Command (a
    CodeAction carrying a command comes back as Command(command="{...}")). Decide by the key's type."""
    converter = default_converter()

    def hook(obj: Any, _: Any) -> Any:
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, types.Command)
        return converter.structure(obj, types.CodeAction)

    # typing.Union, not `|`: the hook is looked up by the exact type object lsprotocol uses.
    converter.register_structure_hook(Union[types.Command, types.CodeAction], hook)  # noqa: UP007
    return converter


def make_client() -> LanguageClient:
    client = LanguageClient(converter_factory=fixed_converter)
    register_lsp_features(client)
    return client


def server_config() -> ClientServerConfig:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "LITTLE_CODER_LOG_LEVEL": "WARNING"}
    for name in list(env):
        if name.startswith("LITTLE_CODER_") and name != "LITTLE_CODER_LOG_LEVEL":
            env.pop(name)  # the developer's own settings must not leak into the server under test
    env["LITTLE_CODER_CONFIG"] = str(ROOT / "tests" / "lsp" / "no-user-config.toml")  # absent on purpose
    return ClientServerConfig(server_command=SERVER_COMMAND, client_factory=make_client, server_env=env)


# --- positions, independent of lc_lsp.ranges ---------------------------------------------------------


def _units(char: str, encoding: str) -> int:
    if encoding == "utf-32":
        return 1
    if encoding == "utf-16":
        return 2 if ord(char) > 0xFFFF else 1
    return len(char.encode("utf-8"))


def offset_of(text: str, position: types.Position, encoding: str) -> int:
    lines = text.split("\n")  # test files use "\n" only
    if position.line >= len(lines):
        return len(text)
    offset = sum(len(line) + 1 for line in lines[: position.line])
    units = 0
    for char in lines[position.line]:
        if units >= position.character:
            break
        units += _units(char, encoding)
        offset += 1
    return offset


def position_of(text: str, offset: int, encoding: str) -> types.Position:
    before = text[:offset]
    line = before.count("\n")
    column_text = before[before.rfind("\n") + 1 :]
    return types.Position(line=line, character=sum(_units(c, encoding) for c in column_text))


def apply_text_edits(text: str, edits: list[types.TextEdit], encoding: str) -> str:
    spans = sorted(
        ((offset_of(text, e.range.start, encoding), offset_of(text, e.range.end, encoding), e.new_text) for e in edits),
        reverse=True,
    )
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


# --- the editor ----------------------------------------------------------------------------------


class Editor:
    def __init__(self, client: LanguageClient, root: Path, preset: str, experimental: Any = None) -> None:
        self.client = client
        self.root = root
        self.preset = preset
        self.experimental = experimental  # capabilities.experimental, e.g. the in-editor review's switch
        self.encoding = "utf-16"
        self.buffers: dict[str, tuple[str, int]] = {}
        self.edit_requests: list[types.ApplyWorkspaceEditParams] = []
        self.message_requests: list[types.ShowMessageRequestParams] = []
        self.answers: list[str | None] = []  # replies to showMessageRequest, in order
        self.default_answer: str | None = None
        self.events: list[dict[str, Any]] = []
        self.finished: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.accept: Accept = lambda annotation_id, annotation: True
        self.refuse: str | None = None  # answer applied=false with this reason
        self.review_gate: asyncio.Event | None = None  # hold applyEdit until set (a user still reviewing)
        self.edit_seen = asyncio.Event()
        self.configuration_pulls = 0
        self._install()

    # --- setup ----------------------------------------------------------------------------------

    def _install(self) -> None:
        client = self.client

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        async def on_apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            self.edit_requests.append(params)
            self.edit_seen.set()
            if self.review_gate is not None:
                await self.review_gate.wait()
            if self.refuse is not None:
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason=self.refuse)
            self.apply(params.edit)
            return types.ApplyWorkspaceEditResult(applied=True)

        @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
        def on_message_request(params: types.ShowMessageRequestParams) -> types.MessageActionItem | None:
            self.message_requests.append(params)
            answer = self.answers.pop(0) if self.answers else self.default_answer
            return types.MessageActionItem(title=answer) if answer is not None else None

        answer_configuration = client.protocol.fm.features[types.WORKSPACE_CONFIGURATION]

        def on_configuration(params: types.ConfigurationParams) -> Any:
            self.configuration_pulls += 1
            return answer_configuration(params)

        client.protocol.fm.features[types.WORKSPACE_CONFIGURATION] = on_configuration

        @client.feature("littleCoder/event")
        def on_event(params: Any) -> None:
            self.events.append(_plain(params))

        @client.feature("littleCoder/sessionFinished")
        def on_finished(params: Any) -> None:
            status = _plain(params)
            self._finished_future(status["sessionId"]).set_result(status)

    async def initialize(self, settings: dict[str, Any]) -> types.InitializeResult:
        uri = from_fs_path(str(self.root))
        self.client.set_configuration({}, section="littleCoder")
        capabilities = pytest_lsp.client_capabilities(self.preset)
        capabilities.experimental = self.experimental
        result = await self.client.initialize_session(types.InitializeParams(
            capabilities=capabilities,
            root_uri=uri,
            workspace_folders=[types.WorkspaceFolder(uri=uri, name="ws")],
            initialization_options={"littleCoder": settings},
        ))
        encoding = result.capabilities.position_encoding
        self.encoding = str(getattr(encoding, "value", encoding) or "utf-16")
        return result

    async def configure(self, **settings: Any) -> None:
        """Change the `littleCoder` settings the way an editor does: new values, then a notification."""
        pulls = self.configuration_pulls
        self.client.set_configuration(settings, section="littleCoder")
        self.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        while self.configuration_pulls == pulls:
            await asyncio.sleep(0.005)
        await self.status()  # a round trip after the pull: the server has taken the new values

    # --- documents ------------------------------------------------------------------------------

    def path(self, relative: str) -> Path:
        return self.root / relative

    def uri(self, relative: str) -> str:
        return from_fs_path(str(self.path(relative)))

    def write(self, relative: str, text: str) -> str:
        path = self.path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return self.uri(relative)

    def open(self, relative: str, text: str | None = None, language: str = "python") -> str:
        uri = self.uri(relative)
        if text is None:
            text = self.path(relative).read_text(encoding="utf-8")
        self.buffers[uri] = (text, 1)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)))
        return uri

    def type(self, relative: str, offset: int, new_text: str) -> None:
        """The user inserts `new_text` at a Python offset of an open buffer."""
        uri = self.uri(relative)
        text, version = self.buffers[uri]
        position = position_of(text, offset, self.encoding)
        self._change(uri, text[:offset] + new_text + text[offset:], version + 1,
                     [types.TextDocumentContentChangePartial(range=types.Range(start=position, end=position),
                                                             text=new_text)])

    def text(self, relative: str) -> str | None:
        uri = self.uri(relative)
        if uri in self.buffers:
            return self.buffers[uri][0]
        path = self.path(relative)
        return path.read_text(encoding="utf-8") if path.exists() else None

    def _change(self, uri: str, text: str, version: int,
                changes: list[types.TextDocumentContentChangePartial]) -> None:
        self.buffers[uri] = (text, version)
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=changes))

    # --- applying an edit like an editor --------------------------------------------------------

    def apply(self, edit: types.WorkspaceEdit) -> None:
        annotations = edit.change_annotations or {}

        def accepted(item: Any) -> bool:
            annotation_id = getattr(item, "annotation_id", None)
            return self.accept(annotation_id, annotations.get(annotation_id) if annotation_id else None)

        if edit.document_changes:
            for change in edit.document_changes:
                if isinstance(change, types.CreateFile):
                    path = Path(_fs(change.uri))
                    if accepted(change) and not path.exists():
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_text("", encoding="utf-8")
                elif isinstance(change, types.DeleteFile):
                    Path(_fs(change.uri)).unlink(missing_ok=True)
                elif isinstance(change, types.TextDocumentEdit):
                    uri = change.text_document.uri
                    if uri in self.buffers and change.text_document.version is not None:
                        assert change.text_document.version == self.buffers[uri][1], "stale version"
                    self._edit(uri, [e for e in change.edits if accepted(e)])
        for uri, edits in (edit.changes or {}).items():
            self._edit(uri, list(edits))

    def _edit(self, uri: str, edits: list[Any]) -> None:
        if not edits:
            return
        if uri in self.buffers:
            text, version = self.buffers[uri]
            # Sent last-first, each range is valid in the text the previous change left.
            ordered = sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True)
            self._change(uri, apply_text_edits(text, edits, self.encoding), version + 1,
                         [types.TextDocumentContentChangePartial(range=e.range, text=e.new_text) for e in ordered])
            return
        path = Path(_fs(uri))
        if not path.exists():  # e.g. the server's CreateFile was declined: a real editor fails the edit
            return
        path.write_text(apply_text_edits(path.read_text(encoding="utf-8"), edits, self.encoding), encoding="utf-8")

    # --- commands and sessions ------------------------------------------------------------------

    async def execute(self, command: str, *arguments: Any) -> Any:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=list(arguments)))

    async def status(self, session_id: str | None = None) -> dict[str, Any]:
        args = {"sessionId": session_id} if session_id else {}
        return _plain(await self.execute("littleCoder.status", args))

    def _finished_future(self, session_id: str) -> asyncio.Future[dict[str, Any]]:
        if session_id not in self.finished:
            self.finished[session_id] = asyncio.get_running_loop().create_future()
        return self.finished[session_id]

    async def wait_finished(self, session_id: str, timeout: float = 10.0) -> dict[str, Any]:
        return await asyncio.wait_for(asyncio.shield(self._finished_future(session_id)), timeout)

    async def wait_event(self, session_id: str | None, predicate: Callable[[dict[str, Any]], bool],
                         timeout: float = 10.0) -> dict[str, Any]:
        """The first littleCoder/event of `session_id` (None: of a session started after this call)
        that satisfies `predicate`."""
        first = 0 if session_id is not None else len(self.events)

        async def poll() -> dict[str, Any]:
            while True:
                for payload in self.events[first:]:
                    if session_id is not None and payload["sessionId"] != session_id:
                        continue
                    if predicate(payload["event"]):
                        return payload
                await asyncio.sleep(0.01)

        return await asyncio.wait_for(poll(), timeout)

    def progress_of(self, session_id: str) -> list[Any]:
        return self.client.progress_reports.get(f"littleCoder/{session_id}", [])

    def kinds(self, session_id: str) -> list[str]:
        return [p["event"]["kind"] for p in self.events if p["sessionId"] == session_id]


def _fs(uri: str) -> str:
    from pygls.uris import to_fs_path

    path = to_fs_path(uri)
    assert path is not None
    return path


def _plain(value: Any) -> Any:
    """Custom notifications and untyped results arrive as namedtuples: turn them into dicts/lists."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


async def start_editor(client: LanguageClient, root: Path, preset: str, experimental: Any = None,
                       **settings: Any) -> Editor:
    editor = Editor(client, root, preset, experimental)
    await editor.initialize(settings)
    return editor


async def start_scripted_editor(client: LanguageClient, model: ScriptedModelServer, root: Path, preset: str,
                                experimental: Any = None, **settings: Any) -> Editor:
    """An editor of `preset` whose sessions talk to the scripted model server, with short timeouts."""
    return await start_editor(client, root, preset, experimental, backend="ollama", baseUrl=model.base_url,
                              model=MODEL, stallTimeout=10, connectTimeout=2, **settings)


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModelServer]:
    """Each module's scripted model server, scripted per test (`replace_replies`); a module with one fixed
    script defines its own `model`."""
    with ScriptedModelServer("ollama", [], model=MODEL) as server:
        yield server
