"""The language server's state, in one place, and its view of the editor (`EditorHost`).

Everything a request handler, a command or a job needs to know about the editor lives here: the
workspace folders and which one holds a path, the open documents (their text, versions and a signal
when they change), their parses (`DocumentAnalyses`), the client's capabilities and position encoding,
and the `littleCoder` settings. lc_lsp/server.py adds the handlers and the jobs on top; jobs.py and
commands.py depend on this module, never on the server, so imports run one way.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from agent.settings import LoadedSettings, SettingsError
from lc_lsp.actions import DocumentAnalyses
from lc_lsp.protocol import LcProtocol
from lc_lsp.ranges import Encoding, normalize_encoding
from lc_lsp.settings import SECTION, EditorSettings

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

    def __init__(self, ls: EditorHost) -> None:
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


class EditorHost(LanguageServer):
    """The server's state, in one place, and its view of the editor: folders, open documents, the
    client's capabilities and settings. Jobs and commands are built on it; the handlers live in
    lc_lsp/server.py."""

    protocol: LcProtocol

    def __init__(self) -> None:
        super().__init__(NAME, VERSION, protocol_cls=LcProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.editor_settings = EditorSettings()
        self.analyses = DocumentAnalyses()
        self.documents = DocumentSignal()
        self.buffers = EditorBuffers(self)
        self._background: set[asyncio.Future[Any]] = set()

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

    def in_background(self, future: asyncio.Future[Any]) -> None:
        """Keep a fire-and-forget future alive until it is done, and log its failure."""
        self._background.add(future)

        def finished(done: asyncio.Future[Any]) -> None:
            self._background.discard(done)
            if not done.cancelled() and done.exception() is not None:
                log.warning("background work failed: %s", done.exception())

        future.add_done_callback(finished)
