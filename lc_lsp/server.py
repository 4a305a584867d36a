"""The little-coder language server (pygls 2.1.1): the server object and its request handlers.

Each handler is a few lines, defined once here, that call the module doing the work: code actions
lc_lsp.actions, hover lc_lsp.hover, commands lc_lsp.commands, sessions lc_lsp.jobs, their review
lc_lsp.review_flow. The server's state lives in `EditorHost` (lc_lsp/host.py); ranges and position
encodings in lc_lsp.ranges.

Start-up is kept to what the first code action needs: the agent, the jobs and the commands are imported
when the first command runs, and the tokenizer when the first session starts.

Start it with `little-coder lsp` or `python -m lc_lsp` (stdio). Stdout carries JSON-RPC only: the
server keeps a private copy of it and points file descriptor 1 at stderr, so a stray print, a C
library or a child process cannot corrupt the stream.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcInvalidParams

from lc_lsp import actions, hover
from lc_lsp.command_names import ASK, CANCEL, IMPLEMENT, REVIEW, REVISE, STATUS, TEST_SELECTION, UNDO, CommandError
from lc_lsp.host import EditorHost
from lc_lsp.protocol import bounded_stdin

if TYPE_CHECKING:
    from lc_lsp.commands import Commands
    from lc_lsp.jobs import Jobs

log = logging.getLogger(__name__)

# The sweep of a killed server's leftovers waits until the editor has had its first answers.
WARM_UP_DELAY_S = 2.0


class LcServer(EditorHost):
    def __init__(self) -> None:
        super().__init__()
        self._terminating: asyncio.Task[None] | None = None

    @functools.cached_property
    def jobs(self) -> Jobs:
        from lc_lsp.jobs import Jobs  # the agent and its sessions: imported by the first command

        return Jobs(self)

    @functools.cached_property
    def commands(self) -> Commands:
        from lc_lsp.commands import Commands

        return Commands(self, self.jobs)

    def warm_up(self) -> None:
        """Off the event loop: sweep the state folders of a server that was killed outright (an editor
        restart), with any commands still running in them. The tokenizer is not loaded here: it costs
        ~55 MB, and a server that never runs a session should not pay it (agent.session loads it)."""
        loop = asyncio.get_running_loop()
        self.in_background(loop.run_in_executor(None, _sweep_orphans))

    def started_jobs(self) -> Jobs | None:
        """The jobs, if a command has created them; None keeps the agent unimported."""
        jobs: Jobs | None = self.__dict__.get("jobs")
        return jobs

    async def close_jobs(self) -> None:
        jobs = self.started_jobs()
        if jobs is not None:
            await jobs.aclose()

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
            await self.close_jobs()
        finally:
            # Not sys.exit: pygls's reader thread sits in a blocking read of stdin, which the editor may
            # keep open, and interpreter exit would wait for it for ever. Everything is written by now.
            logging.shutdown()
            os._exit(128 + number)


def _sweep_orphans() -> None:
    from lc_lsp.shadow import sweep_orphans  # imported here, in the worker thread, not on the loop

    sweep_orphans()


def create_server() -> LcServer:
    server = LcServer()

    @server.feature(types.INITIALIZE)
    def on_initialize(ls: LcServer, params: types.InitializeParams) -> None:
        ls.editor_settings.set_initialization_options(params.initialization_options)
        ls.stop_on_signals()

    @server.feature(types.INITIALIZED)
    async def on_initialized(ls: LcServer, params: types.InitializedParams) -> None:
        asyncio.get_running_loop().call_later(WARM_UP_DELAY_S, ls.warm_up)
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
        if (jobs := ls.started_jobs()) is not None:
            jobs.document_opened(params.text_document.uri, params.text_document.text)
            jobs.document_changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(ls: LcServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.documents.notify()
        if (jobs := ls.started_jobs()) is not None:
            jobs.document_changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def on_close(ls: LcServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.analyses.forget(params.text_document.uri)
        ls.documents.notify()

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[actions.KIND_IMPLEMENT, actions.KIND_FIX], resolve_provider=True),
    )
    async def on_code_action(ls: LcServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        uri = params.text_document.uri
        path = ls.path_for(uri)
        if path is not None and ls.outside_workspace(path):
            return None  # the command would be refused: offer nothing
        document = ls.workspace.get_text_document(uri)
        try:
            text = document.source
        except (OSError, UnicodeDecodeError):
            return None
        analysis = await ls.analyses.analysis(uri, document.version, text, document.language_id, document.path)
        found = actions.code_actions(params, analysis, ls.encoding, lazy=ls.resolves_commands())
        return found or None

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: LcServer, params: types.HoverParams) -> types.Hover | None:
        jobs = ls.started_jobs()
        if jobs is None:
            return None  # no session has started: nothing to say
        return hover.session_hover(jobs.all(), params.text_document.uri, params.position.line)

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

    @server.command(REVIEW)
    async def review(ls: LcServer, *arguments: Any) -> dict[str, Any]:
        return await ls.commands.review(arguments)

    @server.command(TEST_SELECTION)
    async def test_selection(ls: LcServer, *arguments: Any) -> dict[str, Any]:
        return await ls.commands.test_selection(arguments)

    @server.feature(types.SHUTDOWN)
    async def on_shutdown(ls: LcServer, params: None) -> None:
        await ls.close_jobs()

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
