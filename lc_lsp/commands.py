"""`workspace/executeCommand`: the arguments of each little-coder command, validated, and what it does.

Every command takes ONE JSON object (camelCase keys; snake_case is accepted too) and is validated here
with pydantic, so a bad call gets InvalidParams naming the field — pygls's own attrs structuring would
silently ignore a misspelt key. `implement`, `ask` and `revise` return `{"sessionId": ...}` at once
and the session runs in the background; with `"wait": true` the request stays open until the
session ends (and `$/cancelRequest` on it stops the session, see lc_lsp.protocol).

    littleCoder.implement {uri, position | range, symbol?, kind?, diagnostic?, instruction?, wait?}
    littleCoder.ask       {instruction, uri?, range?, wait?}
    littleCoder.cancel    {sessionId} | {all: true}
    littleCoder.undo      {sessionId?}            (default: the last session with applied changes left to undo)
    littleCoder.revise    {sessionId, comment?, wait?}
    littleCoder.status    {sessionId?}
    littleCoder.review    {sessionId}             (reopen a review that was closed; clients with the in-editor review)
    littleCoder.testSelection {sessionId, decisions, edited}   (lc_lsp.review_wire.Selection → SelectionTest)

A session's status (what `wait`, `status` and the `littleCoder/sessionFinished` notification carry):
{sessionId, title, state, turn, cap, outcome, message, changedFiles, accepted, rejected, failed, parent,
elapsed}; `failed` lists the hunks the editor did not apply. Its events stream as `littleCoder/event`
notifications (lc_lsp.progress). `undo` answers lc_lsp.undo.UndoResult: {sessionId, state, undone, files,
kept: [{path, where, reason}], notUndone, message}; the message is also shown to the user.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from lsprotocol import types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path

from agent.settings import Settings, SettingsError
from lc_lsp import tasks
from lc_lsp.actions import Analysis
from lc_lsp.command_names import ASK, CANCEL, IMPLEMENT, REVIEW, REVISE, STATUS, TEST_SELECTION, UNDO, CommandError
from lc_lsp.host import EditorHost
from lc_lsp.job import Anchor, Job
from lc_lsp.jobs import Jobs
from lc_lsp.ranges import Encoding, point
from lc_lsp.review_wire import Decision, EditedHunk, Selection
from lc_lsp.settings import settings_message
from lc_lsp.stubs import Target, TextRange


class _Args(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class PositionArg(_Args):
    line: int = Field(ge=0)
    character: int = Field(ge=0)

    def lsp(self) -> types.Position:
        return types.Position(line=self.line, character=self.character)


class RangeArg(_Args):
    start: PositionArg
    end: PositionArg

    def lsp(self) -> types.Range:
        return types.Range(start=self.start.lsp(), end=self.end.lsp())


class DiagnosticArg(_Args):
    message: str = Field(min_length=1)
    range: RangeArg
    source: str | None = None
    code: str | int | None = None


class ImplementArgs(_Args):
    uri: str = Field(min_length=1)
    position: PositionArg | None = None
    range: RangeArg | None = None
    symbol: str | None = None
    kind: Literal["stub", "todo", "selection"] | None = None
    diagnostic: DiagnosticArg | None = None
    instruction: str | None = None
    wait: bool = False

    @model_validator(mode="after")
    def _somewhere(self) -> ImplementArgs:
        if self.position is None and self.range is None and self.diagnostic is None:
            raise ValueError("give a position or a range")
        return self


class AskArgs(_Args):
    instruction: str = Field(min_length=1, pattern=r"\S")
    uri: str | None = None
    range: RangeArg | None = None
    wait: bool = False


class CancelArgs(_Args):
    session_id: str | None = None
    all: bool = False

    @model_validator(mode="after")
    def _which(self) -> CancelArgs:
        if self.session_id is None and not self.all:
            raise ValueError("give sessionId, or all: true")
        return self


class UndoArgs(_Args):
    session_id: str | None = None


class ReviseArgs(_Args):
    session_id: str = Field(min_length=1)
    comment: str | None = None
    wait: bool = False


class StatusArgs(_Args):
    session_id: str | None = None


class ReviewArgs(_Args):
    session_id: str = Field(min_length=1)


class TestSelectionArgs(_Args):
    session_id: str = Field(min_length=1)
    decisions: list[Decision] = Field(default_factory=list)
    edited: list[EditedHunk] = Field(default_factory=list)


A = TypeVar("A", bound=_Args)


def parse(command: str, model: type[A], arguments: Sequence[Any]) -> A:
    """Validate a command's arguments: none (when every field is optional) or one JSON object."""
    if len(arguments) == 0:
        raw: Any = {}
    elif len(arguments) == 1:
        raw = arguments[0]
    else:
        raise JsonRpcInvalidParams(f"{command} takes one JSON object argument, got {len(arguments)} arguments")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise JsonRpcInvalidParams(f"{command} takes one JSON object argument, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "arguments"
        message = first["msg"].removeprefix("Value error, ")
        raise JsonRpcInvalidParams(
            f"{command}: invalid argument '{field}': {message}", data={"field": field}
        ) from None


class Commands:
    """The command implementations; server.py registers thin handlers that call these."""

    def __init__(self, ls: EditorHost, jobs: Jobs) -> None:
        self._ls = ls
        self._jobs = jobs

    async def implement(self, arguments: Sequence[Any]) -> dict[str, Any]:
        args = parse(IMPLEMENT, ImplementArgs, arguments)
        path, text, language_id, version = self._document(args.uri)
        root = self._ls.root_for(path)
        relative = _relative(path, root)
        encoding = self._ls.encoding
        analysis = await self._ls.analyses.analysis(args.uri, version, text, language_id, str(path))
        if args.diagnostic is not None:
            start = point(analysis.index, args.diagnostic.range.start.lsp(), encoding)
            end = point(analysis.index, args.diagnostic.range.end.lsp(), encoding)
            code = None if args.diagnostic.code is None else str(args.diagnostic.code)
            problem = tasks.Problem(args.diagnostic.message, start[0], end[0], args.diagnostic.source, code)
            language = analysis.document.language
            task = tasks.fix_task(problem, relative, text, language, args.instruction)
            title = tasks.fix_title(problem)
            anchor = Anchor(args.uri, start[0], end[0])
        else:
            target = self._target(args, analysis, encoding)
            task = tasks.implement_task(target, relative, text, args.instruction)
            title = tasks.implement_title(target)
            anchor = Anchor(args.uri, target.range.start.line, target.range.end.line)
        job = self._jobs.start(title=title, task=task, root=root, settings=self._settings(root), anchor=anchor)
        return await self._answer(job, args.wait)

    async def ask(self, arguments: Sequence[Any]) -> dict[str, Any]:
        args = parse(ASK, AskArgs, arguments)
        anchor: Anchor | None = None
        if args.uri is None:
            root = self._ls.root_for(None)
            task = tasks.ask_task(args.instruction)
        else:
            path, text, language_id, version = self._document(args.uri)
            root = self._ls.root_for(path)
            span = None
            language = ""
            if args.range is not None:
                analysis = await self._ls.analyses.analysis(args.uri, version, text, language_id, str(path))
                encoding = self._ls.encoding
                start = point(analysis.index, args.range.start.lsp(), encoding)
                end = point(analysis.index, args.range.end.lsp(), encoding)
                span = _text_range(start, end)
                language = analysis.document.language
                anchor = Anchor(args.uri, start[0], end[0])
            task = tasks.ask_task(args.instruction, _relative(path, root), text, span, language)
        job = self._jobs.start(
            title=tasks.ask_title(args.instruction), task=task, root=root, settings=self._settings(root),
            anchor=anchor,
        )
        return await self._answer(job, args.wait)

    def cancel(self, arguments: Sequence[Any]) -> dict[str, Any]:
        args = parse(CANCEL, CancelArgs, arguments)
        if args.all:
            return {"cancelled": self._jobs.cancel_all()}
        assert args.session_id is not None
        self._job(args.session_id)
        return {"cancelled": self._jobs.cancel(args.session_id)}

    async def undo(self, arguments: Sequence[Any]) -> dict[str, Any]:
        args = parse(UNDO, UndoArgs, arguments)
        if args.session_id is not None:
            self._job(args.session_id)
        job = self._jobs.undoable(args.session_id)
        if job is None:
            which = f"session {args.session_id}" if args.session_id else "any session"
            raise CommandError(f"little-coder: nothing to undo: no applied changes from {which}")
        return await self._jobs.undo(job)

    async def revise(self, arguments: Sequence[Any]) -> dict[str, Any]:
        args = parse(REVISE, ReviseArgs, arguments)
        previous = self._job(args.session_id)
        problem = self._jobs.revise_problem(previous, args.comment)
        if problem is not None:
            raise CommandError(f"little-coder: cannot revise session {previous.id}: {problem}")
        job = self._jobs.revise(previous, args.comment, self._settings(previous.root))
        return await self._answer(job, args.wait)

    def status(self, arguments: Sequence[Any]) -> dict[str, Any]:
        args = parse(STATUS, StatusArgs, arguments)
        if args.session_id is not None:
            return self._job(args.session_id).status()
        return {"sessions": [job.status() for job in self._jobs.all()]}

    async def review(self, arguments: Sequence[Any]) -> dict[str, Any]:
        args = parse(REVIEW, ReviewArgs, arguments)
        job = self._job(args.session_id)
        if not self._jobs.reviews.reviews_in_editor():
            raise CommandError("little-coder: this editor reviews changes when a session ends; there is no "
                               "review to reopen")
        if job.state != "closed":
            raise CommandError(f"little-coder: session {job.id} has no closed review to reopen (it is {job.state})")
        self._jobs.reopen(job)
        return {"sessionId": job.id}

    async def test_selection(self, arguments: Sequence[Any]) -> dict[str, Any]:
        args = parse(TEST_SELECTION, TestSelectionArgs, arguments)
        job = self._job(args.session_id)
        if not job.proposals:
            raise CommandError(f"little-coder: session {job.id} proposes no changes to test")
        selection = Selection(decisions=args.decisions, edited=args.edited)
        result = await self._jobs.test_selection(job, selection)
        return result.model_dump(by_alias=True)

    # --- helpers --------------------------------------------------------------------------------

    async def _answer(self, job: Job, wait: bool) -> dict[str, Any]:
        if not wait:
            return {"sessionId": job.id}
        msg_id = self._ls.protocol.msg_id
        if msg_id is not None:
            self._ls.protocol.request_cancellers[msg_id] = lambda: self._jobs.cancel(job.id)
        try:
            await asyncio.shield(job.done)
        except asyncio.CancelledError:
            # A command that ends in CancelledError is never answered by pygls 2.1.1: answer anyway.
            pass
        finally:
            if msg_id is not None:
                self._ls.protocol.request_cancellers.pop(msg_id, None)
        return job.status()

    def _document(self, uri: str) -> tuple[Path, str, str | None, int | None]:
        if not uri.startswith("file:"):
            raise JsonRpcInvalidParams(f"invalid argument 'uri': only file: URIs are supported, got {uri!r}",
                                       data={"field": "uri"})
        path_text = to_fs_path(uri)
        # A relative path would be read against the server's working folder, a NUL cannot be opened.
        if not path_text or "\0" in path_text or not os.path.isabs(path_text):
            raise JsonRpcInvalidParams(f"invalid argument 'uri': {uri!r} is not an absolute file path",
                                       data={"field": "uri"})
        path = Path(path_text)
        if self._ls.outside_workspace(path):
            # The session would read, and run commands, beside a file the user did not open a folder for.
            raise JsonRpcInvalidParams(
                f"invalid argument 'uri': {path} is outside the workspace folders; little-coder only works on "
                "files inside them (open the file's folder as a workspace folder to work on it)",
                data={"field": "uri"},
            )
        buffer = self._ls.buffers.buffer(path)
        if buffer is not None:
            document = self._ls.workspace.get_text_document(uri)
            return path, buffer[0], document.language_id, buffer[1]
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise JsonRpcInvalidParams(f"invalid argument 'uri': cannot read {path}: {exc}",
                                       data={"field": "uri"}) from None
        return path, text, None, None

    def _target(self, args: ImplementArgs, analysis: Analysis, encoding: Encoding) -> Target:
        index = analysis.index
        if args.range is not None:
            start = point(index, args.range.start.lsp(), encoding)
            end: tuple[int, int] | None = point(index, args.range.end.lsp(), encoding)
        else:
            assert args.position is not None
            start = point(index, args.position.lsp(), encoding)
            end = None
        if end == start:
            end = None
        targets = analysis.document.targets_at(start[0], start[1], end)
        if args.kind is not None:
            targets = [t for t in targets if t.kind == args.kind]
        if args.symbol:
            named = [t for t in targets if t.name == args.symbol]
            targets = named or [t for t in targets if t.kind == "selection"]
        if not targets:
            where = f"line {start[0] + 1}"
            wanted = f" named `{args.symbol}`" if args.symbol else ""
            raise JsonRpcInvalidParams(
                f"{IMPLEMENT}: nothing to implement{wanted} at {where}: put the cursor on a stub function or a "
                "TODO comment, or select the code to implement",
                data={"field": "range" if args.range is not None else "position"},
            )
        return targets[0]

    def _job(self, session_id: str) -> Job:
        job = self._jobs.get(session_id)
        if job is None:
            raise JsonRpcInvalidParams(f"invalid argument 'sessionId': no session {session_id!r}",
                                       data={"field": "sessionId"})
        return job

    def _settings(self, root: Path) -> Settings:
        try:
            loaded = self._ls.editor_settings.resolve(root)
        except SettingsError as exc:
            message = settings_message(exc)
            self._ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))
            raise CommandError(message) from None
        self._ls.report_trust(loaded)  # a session's root may differ from the workspace root reported at start
        return loaded.settings


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _text_range(start: tuple[int, int], end: tuple[int, int]) -> TextRange:
    return TextRange.model_validate(
        {"start": {"line": start[0], "column": start[1]}, "end": {"line": end[0], "column": end[1]}}
    )

