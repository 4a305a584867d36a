"""The little-coder language server (pygls 2.1.1): the server object, its state, and feature registration.

Handlers here are thin: code actions live in lc_lsp.actions, commands in lc_lsp.commands, sessions in
lc_lsp.jobs, progress in lc_lsp.progress, settings in lc_lsp.settings, ranges in lc_lsp.ranges. All
state hangs off the `LcServer` instance — one per process, built by `create_server()`.

Start it with `little-coder lsp` or `python -m lc_lsp` (stdio). Stdout carries JSON-RPC only: the
server keeps a private copy of it and points file descriptor 1 at stderr, so a stray print, a C
library or a child process cannot corrupt the stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from agent import tokens
from agent.backend import ModelMemory
from agent.settings import LoadedSettings, SettingsError
from lc_lsp import actions
from lc_lsp.actions import DocumentAnalyses
from lc_lsp.commands import ASK, CANCEL, IMPLEMENT, REVISE, STATUS, UNDO, CommandError, Commands
from lc_lsp.jobs import Jobs
from lc_lsp.protocol import LcProtocol, bounded_stdin
from lc_lsp.ranges import Encoding, normalize_encoding
from lc_lsp.review import ClientEditCaps
from lc_lsp.settings import SECTION, EditorSettings
from lc_lsp.shadow import sweep_orphans

log = logging.getLogger(__name__)

NAME = "little-coder"
VERSION = "0.1.0"


class DocumentSignal:
    """Wakes whoever waits for the editor's documents to change (didOpen / didChange / didClose)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        # Waiters hold the old event, which is now set; later waiters get a fresh one.
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """True when a document changed within `timeout` seconds."""
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True


class EditorBuffers:
    """`BufferSource` for EditorWorkspace: the text and version of a path the editor has open."""

    def __init__(self, ls: LcServer) -> None:
        self._ls = ls

    def buffer(self, path: Path) -> tuple[str, int | None] | None:
        documents = self._ls.workspace.text_documents
        uri = from_fs_path(str(path))
        document = documents.get(unquote(uri)) if uri else None
        if document is None:
            resolved = path.resolve()
            for candidate in documents.values():
                if candidate.path and _resolves_to(candidate.path, resolved):
                    document = candidate
                    break
        if document is None:
            return None
        return document.source, document.version

    def open_paths(self) -> list[Path]:
        return [Path(document.path) for document in self._ls.workspace.text_documents.values() if document.path]


def _resolves_to(path: str, target: Path) -> bool:
    try:
        return Path(path).resolve() == target
    except (OSError, ValueError):  # an editor's URI may hold anything, a NUL included
        return False


class LcServer(LanguageServer):
    protocol: LcProtocol

    def __init__(self) -> None:
        super().__init__(NAME, VERSION, protocol_cls=LcProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.memory = ModelMemory()  # what this server learnt about models, shared by its sessions
        self.editor_settings = EditorSettings()
        self.analyses = DocumentAnalyses()
        self.documents = DocumentSignal()
        self.buffers = EditorBuffers(self)
        self.jobs = Jobs(self)
        self.commands = Commands(self)
        self._background: set[asyncio.Future[Any]] = set()
        self._terminating: asyncio.Task[None] | None = None

    # --- where things are -----------------------------------------------------------------------

    def roots(self) -> list[Path]:
        """The workspace folders, then the root the client named; empty in single-file mode."""
        roots = [Path(p) for uri in self.workspace.folders if (p := to_fs_path(uri))]
        if self.workspace.root_path:
            roots.append(Path(self.workspace.root_path))
        return roots

    def root_for(self, path: Path | None) -> Path:
        """Where a session about `path` works: the innermost workspace folder (or root) holding it, else
        the file's own folder — the agent can only touch files under its root. Without a path: the
        workspace root, else the first folder, else the current directory."""
        roots = self.roots()
        if path is None:
            return roots[-1] if self.workspace.root_path else (roots[0] if roots else Path.cwd())
        resolved = path.resolve()
        holding = [root for root in roots if resolved.is_relative_to(root.resolve())]
        return max(holding, key=lambda root: len(root.resolve().parts)) if holding else resolved.parent

    def outside_workspace(self, path: Path) -> bool:
        """Whether the editor has workspace folders and none of them holds `path` (symlinks resolved);
        a path that cannot be resolved (a NUL in it) counts as outside."""
        try:
            resolved = path.resolve()
        except (OSError, ValueError):
            return True
        roots = self.roots()
        return bool(roots) and not any(resolved.is_relative_to(root.resolve()) for root in roots)

    @staticmethod
    def uri_for(path: Path) -> str:
        return from_fs_path(str(path)) or path.as_uri()

    @staticmethod
    def path_for(uri: str) -> Path | None:
        path = to_fs_path(uri)
        return Path(path) if path else None

    def current_text(self, uri: str) -> tuple[str | None, int | None]:
        """What the user holds at `uri` now: the open buffer (with its version), else the file, else None."""
        document = self.workspace.text_documents.get(unquote(uri))
        if document is not None:
            return document.source, document.version
        path = self.path_for(uri)
        if path is None or not path.is_file():
            return None, None
        try:
            return path.read_text(encoding="utf-8"), None
        except (OSError, UnicodeDecodeError):
            return None, None

    # --- what the client can do -----------------------------------------------------------------

    @property
    def encoding(self) -> Encoding:
        """The position encoding negotiated at initialize (UTF-16 unless the client offered another)."""
        return normalize_encoding(self.workspace.position_encoding or "utf-16")

    def edit_caps(self) -> ClientEditCaps:
        return ClientEditCaps.from_client(self.client_capabilities, self.encoding)

    def can_delete_files(self) -> bool:
        operations = get_capability(self.client_capabilities, "workspace.workspace_edit.resource_operations", None)
        return types.ResourceOperationKind.Delete in (operations or ())

    def resolves_commands(self) -> bool:
        properties = get_capability(self.client_capabilities, "text_document.code_action.resolve_support.properties",
                                    None)
        return "command" in (properties or ())

    # --- settings -------------------------------------------------------------------------------

    async def pull_settings(self) -> None:
        """Ask the client for the `littleCoder` section, then report invalid values once."""
        if get_capability(self.client_capabilities, "workspace.configuration", False):
            try:
                values = await self.workspace_configuration_async(types.ConfigurationParams(
                    items=[types.ConfigurationItem(section=SECTION, scope_uri=self.workspace.root_uri)]
                ))
            except Exception as exc:  # the editor may not answer; its initializationOptions still count
                log.warning("workspace/configuration failed: %s", exc)
            else:
                self.editor_settings.set_pulled(values[0] if values else None)
        self.report_settings()

    def report_settings(self) -> None:
        root = Path(self.workspace.root_path) if self.workspace.root_path else None
        problem = self.editor_settings.problem(root)
        if problem is not None:
            self.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=problem))
            return
        try:
            loaded = self.editor_settings.resolve(root)
        except SettingsError:  # the project file changed since problem() read it; the next pull reports it
            return
        self.report_trust(loaded)

    def report_trust(self, loaded: LoadedSettings) -> None:
        """Tell the user, once per distinct notice, which project settings were ignored as untrusted."""
        notice = self.editor_settings.notice(loaded)
        if notice is not None:
            log.warning("%s", notice)
            self.window_log_message(types.LogMessageParams(type=types.MessageType.Warning, message=notice))
            self.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=notice))

    # --- the process ------------------------------------------------------------------------------

    def report_server_error(self, error: Exception, source: Any) -> None:
        # A body that is not JSON (or not UTF-8) is the client's mistake: JSON-RPC answers it with a
        # ParseError, not the "Error in server" message pygls would show the user.
        if source is JsonRpcException and isinstance(error, (json.JSONDecodeError, UnicodeDecodeError)):
            self.protocol.send_parse_error(error)
            return
        super().report_server_error(error, source)

    def stop_on_signals(self) -> None:
        """End the sessions before exiting on SIGTERM or SIGHUP (an editor stopping or restarting its
        server): Python's default would exit on the spot and leave their commands and shadow trees."""
        loop = asyncio.get_running_loop()
        for name in ("SIGTERM", "SIGHUP"):
            number = getattr(signal, name, None)
            if number is None:
                continue  # Windows has no SIGHUP
            try:
                loop.add_signal_handler(number, self._terminate, number)
            except NotImplementedError:  # event loops without signal support (Windows)
                return

    def _terminate(self, number: int) -> None:
        if self._terminating is not None:
            os._exit(128 + number)  # asked again while winding down: go now
        log.warning("signal %d: ending the running sessions, then exiting", number)
        self._terminating = asyncio.ensure_future(self._exit_after_cleanup(number))

    async def _exit_after_cleanup(self, number: int) -> None:
        try:
            await self.jobs.aclose()
        finally:
            # Not sys.exit: pygls's reader thread sits in a blocking read of stdin, which the editor may
            # keep open, and interpreter exit would wait for it for ever. Everything is written by now.
            logging.shutdown()
            os._exit(128 + number)

    def in_background(self, future: asyncio.Future[Any]) -> None:
        """Keep a fire-and-forget future alive until it is done, and log its failure."""
        self._background.add(future)

        def finished(done: asyncio.Future[Any]) -> None:
            self._background.discard(done)
            if not done.cancelled() and done.exception() is not None:
                log.warning("background work failed: %s", done.exception())

        future.add_done_callback(finished)


def create_server() -> LcServer:
    server = LcServer()

    @server.feature(types.INITIALIZE)
    def on_initialize(ls: LcServer, params: types.InitializeParams) -> None:
        ls.editor_settings.set_initialization_options(params.initialization_options)
        ls.stop_on_signals()

    @server.feature(types.INITIALIZED)
    async def on_initialized(ls: LcServer, params: types.InitializedParams) -> None:
        # tiktoken takes ~0.7 s to load: do it now, off the event loop, not in the first session.
        loop = asyncio.get_running_loop()
        ls.in_background(loop.run_in_executor(None, tokens.encoding))
        # Shadow trees (and their commands) of a server that was killed outright, e.g. by an editor restart.
        ls.in_background(loop.run_in_executor(None, sweep_orphans))
        await ls.pull_settings()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_configuration(ls: LcServer, params: types.DidChangeConfigurationParams) -> None:
        if get_capability(ls.client_capabilities, "workspace.configuration", False):
            await ls.pull_settings()
        else:
            ls.editor_settings.set_pulled(params.settings)
            ls.report_settings()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def on_open(ls: LcServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.documents.notify()

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(ls: LcServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.documents.notify()

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def on_close(ls: LcServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.analyses.forget(params.text_document.uri)
        ls.documents.notify()

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[actions.KIND_IMPLEMENT, actions.KIND_FIX], resolve_provider=True),
    )
    def on_code_action(ls: LcServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        uri = params.text_document.uri
        path = ls.path_for(uri)
        if path is not None and ls.outside_workspace(path):
            return None  # the command would be refused: offer nothing
        document = ls.workspace.get_text_document(uri)
        try:
            text = document.source
        except (OSError, UnicodeDecodeError):
            return None
        analysis = ls.analyses.get(uri, document.version, text, document.language_id, document.path)
        found = actions.code_actions(params, analysis, ls.encoding, lazy=ls.resolves_commands())
        return found or None

    @server.feature(types.CODE_ACTION_RESOLVE)
    def on_code_action_resolve(ls: LcServer, action: types.CodeAction) -> types.CodeAction:
        return actions.resolve(action)

    @server.command(IMPLEMENT)
    async def implement(ls: LcServer, *arguments: Any) -> dict[str, Any]:
        return await ls.commands.implement(arguments)

    @server.command(ASK)
    async def ask(ls: LcServer, *arguments: Any) -> dict[str, Any]:
        return await ls.commands.ask(arguments)

    @server.command(CANCEL)
    def cancel(ls: LcServer, *arguments: Any) -> dict[str, Any]:
        return ls.commands.cancel(arguments)

    @server.command(UNDO)
    async def undo(ls: LcServer, *arguments: Any) -> dict[str, Any]:
        return await ls.commands.undo(arguments)

    @server.command(REVISE)
    async def revise(ls: LcServer, *arguments: Any) -> dict[str, Any]:
        return await ls.commands.revise(arguments)

    @server.command(STATUS)
    def status(ls: LcServer, *arguments: Any) -> dict[str, Any]:
        return ls.commands.status(arguments)

    @server.feature(types.SHUTDOWN)
    async def on_shutdown(ls: LcServer, params: None) -> None:
        await ls.jobs.aclose()

    return server


def main(argv: Sequence[str] | None = None) -> int:
    """`little-coder lsp` / `python -m lc_lsp`: serve LSP on stdio until the client says exit."""
    parser = argparse.ArgumentParser(prog="little-coder lsp", description="Run the little-coder language server.")
    parser.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the default; accepted "
                        "because vscode-languageclient passes it)")
    parser.add_argument("--log-level", default=os.environ.get("LITTLE_CODER_LOG_LEVEL", "WARNING"),
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper, help="stderr log level")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    # At INFO pygls logs every message body it sends, whole files included.
    logging.getLogger("pygls").setLevel(logging.WARNING)
    for name in ("pygls.protocol.json_rpc", "pygls.server"):
        logging.getLogger(name).addFilter(ExpectedErrors())
    rpc_out = claim_stdout()
    create_server().start_io(bounded_stdin(), rpc_out)
    return 0


class ExpectedErrors(logging.Filter):
    """pygls logs every error answer, and every message it cannot read, with a traceback. A bad argument,
    an impossible request or an unreadable message is the caller's mistake: it is answered with its
    reason and LcProtocol logs it in one line; a traceback of it would only bury real errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, (JsonRpcInvalidParams, CommandError, json.JSONDecodeError, UnicodeDecodeError)):
            return False
        return not record.getMessage().startswith("Unable to deserialize message")


def claim_stdout() -> BinaryIO:
    """Give JSON-RPC a private duplicate of stdout and point descriptor 1 at stderr, so anything else
    that writes to stdout (print, a C library, a child process) lands in the log instead of the stream."""
    sys.stdout.flush()
    rpc = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return rpc
