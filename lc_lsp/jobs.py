"""Running sessions: one `Job` (lc_lsp.job) per agent session, in the background, and what happens to
its changes.

A job runs `agent.session.Session` on an `EditorWorkspace` (open buffers first; changes recorded, the
user's files untouched) and reports it through a `SessionReporter`; when the session ends, its changes
go to the user's review (lc_lsp.review_flow) according to the `review` setting — `session` (default: one
review at the end), `each` (every Write/Edit proposed as it is made; a rejection goes back to the model
as the tool's result) or `direct` (applied as made, still undoable). The jobs keep their proposals,
what became of every hunk, the conversation (for `revise`), what the user was told, and every step they
applied (for `undo`, lc_lsp.undo).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lsprotocol import types

from agent.backend import ModelMemory
from agent.events import SessionFinished
from agent.messages import Message
from agent.session import Session
from agent.settings import Settings
from agent.workspace import ChangeSet, FileChange
from lc_lsp import tasks, undo
from lc_lsp.editor_workspace import EditorWorkspace
from lc_lsp.host import EditorHost
from lc_lsp.job import Anchor, Job
from lc_lsp.progress import SessionReporter, change_summary
from lc_lsp.review import Proposal, accepted_hunks, build_edit, propose
from lc_lsp.review_flow import Reviews, plain_caps
from lc_lsp.review_wire import Selection, SelectionTest
from lc_lsp.undo import AppliedFile
from lc_lsp.verdict import feedback

log = logging.getLogger(__name__)

ALLOW, DENY = "Allow", "Deny"


class Jobs:
    """Every job of this server, in start order. State lives here, never in module globals."""

    def __init__(self, ls: EditorHost) -> None:
        self._ls = ls
        self.memory = ModelMemory()  # what this server learnt about models, shared by its sessions
        self.reviews = Reviews(ls)
        self._jobs: dict[str, Job] = {}

    # --- registry -------------------------------------------------------------------------------

    def all(self) -> list[Job]:
        return list(self._jobs.values())


    def get(self, session_id: str) -> Job | None:
        return self._jobs.get(session_id)


    def start(self, *, title: str, task: str, root: Path, settings: Settings,
              history: Sequence[Message] = (), parent: str | None = None, anchor: Anchor | None = None) -> Job:
        session_id = uuid.uuid4().hex[:12]
        loop = asyncio.get_running_loop()
        job = Job(
            id=session_id, title=title, task=task, root=root, settings=settings, history=list(history),
            reporter=SessionReporter(self._ls, session_id, title), done=loop.create_future(), parent=parent,
            anchor=anchor,
            # References to the buffers' current strings: nothing is copied.
            origins={unquote(uri): doc.source for uri, doc in self._ls.workspace.text_documents.items()},
        )
        self._jobs[session_id] = job
        job.runner = asyncio.create_task(self._run(job), name=f"little-coder {session_id}")
        return job


    def cancel(self, session_id: str) -> list[str]:
        job = self._jobs.get(session_id)
        return [session_id] if job is not None and job.cancel() else []


    def cancel_all(self) -> list[str]:
        return [job.id for job in self.all() if job.cancel()]


    async def aclose(self) -> None:
        """Cancel everything still running and wait for it to wind down (server shutdown)."""
        self.cancel_all()
        pending = [job.done for job in self.all() if not job.done.done()]
        if pending:
            await asyncio.wait(pending, timeout=5)


    # --- revise and undo ------------------------------------------------------------------------

    def revise_problem(self, previous: Job, comment: str | None) -> str | None:
        """Why `previous` cannot be revised now, or None."""
        if not previous.finished:
            return "it is still running; wait for it or cancel it first"
        if previous.session is None or not previous.session.history:
            return "it never reached the model"
        every = {h.id for p in previous.proposals for h in [*p.hunks, *p.conflicts]}
        all_taken = previous.verdict.accepted >= every and not previous.notes
        if all_taken and not (comment and comment.strip()):
            return "all its changes were applied as proposed; add a comment saying what to change"
        return None


    def revise(self, previous: Job, comment: str | None, settings: Settings) -> Job:
        """Continue `previous`'s conversation with the user's verdict on its changes."""
        assert previous.session is not None
        text = feedback(previous.proposals, previous.verdict, comment, previous.notes)
        return self.start(
            title=tasks.revise_title(previous.title), task=text, root=previous.root, settings=settings,
            history=previous.session.history, parent=previous.id, anchor=previous.anchor,
        )


    def undoable(self, session_id: str | None) -> Job | None:
        if session_id is not None:
            job = self._jobs.get(session_id)
            return job if job is not None and _has_undo(job) else None
        for job in reversed(self.all()):
            if _has_undo(job):
                return job
        return None


    async def undo(self, job: Job) -> dict[str, Any]:
        """Put back what `job` applied, as one edit, never over what the user changed since (lc_lsp.undo).
        What landed is read back, like any edit: a file the editor did not revert stays undoable."""
        caps = self.reviews.edit_caps()
        plain = plain_caps(caps)
        delete_in_edit = caps.document_changes and self._ls.can_delete_files()
        plans: list[undo.FilePlan] = []
        proposals: dict[str, Proposal] = {}
        for applied in job.applied:
            if applied.undone:
                continue
            current, version = await asyncio.to_thread(self._ls.current_text, applied.uri)
            plan = await asyncio.to_thread(undo.plan, applied, current)
            plans.append(plan)
            if plan.changes and plan.target is not None:
                proposals[applied.uri] = await asyncio.to_thread(
                    propose, FileChange(applied.path, current, plan.target), current, applied.uri, version)
        deletions = [p.applied for p in plans if p.changes and p.target is None]
        edit, _ = build_edit(list(proposals.values()), plain, session_label=f"undo little-coder: {job.title}")
        if delete_in_edit and deletions:
            edit.document_changes = [
                *(edit.document_changes or []),
                *(types.DeleteFile(uri=f.uri, options=types.DeleteFileOptions(ignore_if_not_exists=True))
                  for f in deletions),
            ]
        reason: str | None = None
        texts: dict[str, str | None] = {}
        if edit.document_changes or edit.changes:
            result = await self._ls.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=edit, label=f"Undo little-coder: {job.title}")
            )
            reason = None if result.applied else (result.failure_reason or "it refused the edit")
            texts = await self.reviews.settled_texts(list(proposals.values()))
        kept = [k for p in plans for k in p.kept]
        reverted: list[str] = []
        not_undone: list[str] = []
        for plan in plans:
            applied = plan.applied
            if not plan.changes:
                applied.undone = True  # nothing of it left to undo: as before already, or all the user's now
                continue
            if plan.target is not None:
                done = not accepted_hunks(proposals[applied.uri], texts[applied.uri])[1]
            elif delete_in_edit:
                path = self._ls.path_for(applied.uri)
                done = path is None or not path.exists()
            else:
                done = self._delete_created(applied)
                if not done:
                    kept.append(undo.Kept(path=applied.path, where=undo.WHOLE_FILE,
                                          reason="it is open in your editor, which cannot delete files; close it "
                                                 "and undo again"))
                    continue
            applied.undone = done
            (reverted if done else not_undone).append(applied.path)
        if not _has_undo(job):
            job.state = "undone"
        message = undo.message(job.title, reverted, kept, not_undone, reason)
        job.message = message.removeprefix("little-coder: ")
        job.notes.append(job.message)
        self.reviews.show(message, types.MessageType.Warning if kept or not_undone else types.MessageType.Info)
        return undo.UndoResult(
            session_id=job.id, state=job.state, undone=job.state == "undone", files=reverted, kept=kept,
            not_undone=not_undone, message=message,
        ).model_dump(by_alias=True)


    # --- the job ----------------------------------------------------------------------------------

    async def _run(self, job: Job) -> None:
        reporter = job.reporter
        workspace: EditorWorkspace | None = None
        try:
            await reporter.start(on_cancel=job.cancel)
            on_change = self.reviews.on_change(job) if job.settings.review in ("each", "direct") else None
            workspace = EditorWorkspace(job.root, self._ls.buffers, on_change=on_change)
            session = Session(job.task, workspace, job.settings, memory=self.memory, history=job.history,
                              confirm=self._confirm, session_id=job.id,
                              task_origin="revise" if job.parent else "task")
            job.session = session
            final: SessionFinished | None = None
            job.in_session = True
            try:
                async for event in session.run():
                    reporter.event(event)
                    if isinstance(event, SessionFinished):
                        final = event
            finally:
                job.in_session = False
            job.result = final or session.result
            await self._finish(job, workspace)
        except asyncio.CancelledError:
            job.state = "cancelled"
            reporter.end("cancelled")
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
        except Exception as exc:  # a bug of ours must end the job visibly, not hang it
            log.exception("session %s failed", job.id)
            job.state = "error"
            job.message = f"internal error: {type(exc).__name__}: {exc}"
            reporter.end(f"failed: {job.message}")
            self.reviews.show(f"little-coder: {job.message}", types.MessageType.Error)
        finally:
            if workspace is not None:
                await workspace.aclose()
            if not job.done.done():
                job.done.set_result(None)
            self._ls.protocol.notify("littleCoder/sessionFinished", job.status())


    async def _finish(self, job: Job, workspace: EditorWorkspace) -> None:
        final = job.result
        reporter = job.reporter
        if final is None or final.outcome == "cancelled":
            job.state = "cancelled"
            reporter.end("cancelled")
            return
        if final.outcome == "error":
            self.reviews.show(f"little-coder: {final.message}", types.MessageType.Error)
        elif final.outcome in ("turn_cap", "stuck"):
            # The work may be unfinished: say why it stopped before offering what there is.
            self.reviews.show(f"little-coder stopped: {final.message}", types.MessageType.Warning)
        if job.settings.review != "session":
            self._end_applied_as_it_went(job)
            return
        changes = workspace.changes
        if not changes:
            job.state = "error" if final.outcome == "error" else "no_changes"
            reporter.end(f"failed: {final.message}" if final.outcome == "error" else "finished, no changes")
            return
        added, removed = changes.line_stats()
        reporter.end(f"{change_summary(len(changes.paths()), added, removed)} — review")
        await self.reviews.review(job, list(changes.changes.values()))

    def _end_applied_as_it_went(self, job: Job) -> None:
        final = job.result
        assert final is not None
        if job.accepted:
            job.state = job.settled_state()
            files = {f.path for f in job.applied}
            job.reporter.end(f"{change_summary(len(files), *_line_stats(job.applied))} — applied")
        elif job.rejected or job.failed:
            job.state = job.settled_state()
            job.reporter.end("every change was rejected" if job.rejected else "the editor applied no change")
        else:
            job.state = "error" if final.outcome == "error" else "no_changes"
            job.reporter.end(f"failed: {final.message}" if final.outcome == "error" else "finished, no changes")
            return
        self.reviews.show_summary(job)


    # --- reviews: kept up to date, reopened, tested ----------------------------------------------

    def document_changed(self, uri: str) -> None:
        """A document changed in the editor: bring every open review of it up to date, shortly."""
        key = unquote(uri)
        for job in self._jobs.values():
            if key not in job.reviewing:
                continue
            if job.update_task is None or job.update_task.done():
                job.update_task = asyncio.create_task(self.reviews.push_updates(job))
            else:
                job.update_again = True


    def document_opened(self, uri: str, text: str) -> None:
        """A document opened while sessions run: what it held then is the user's starting point."""
        for job in self._jobs.values():
            if not job.finished:
                job.origins.setdefault(unquote(uri), text)


    def reopen(self, job: Job) -> None:
        """Open a closed review again (`littleCoder.review`)."""
        job.runner = asyncio.create_task(self._reopened(job), name=f"little-coder review {job.id}")


    async def _reopened(self, job: Job) -> None:
        try:
            await self.reviews.review_in_editor(job)
        except asyncio.CancelledError:
            job.state = "closed"
        finally:
            self._ls.protocol.notify("littleCoder/sessionFinished", job.status())


    async def test_selection(self, job: Job, selection: Selection) -> SelectionTest:
        return await self.reviews.test_selection(job, selection)

    # --- talking to the user, files ------------------------------------------------------------

    async def _confirm(self, command: str) -> bool:
        """Bash outside the allow-list, with the `bash` setting at `ask`."""
        question = f"little-coder wants to run: {command}"
        choice = await self.reviews.ask(question, [ALLOW, DENY], types.MessageType.Warning)
        return choice == ALLOW


    def _delete_created(self, applied: AppliedFile) -> bool:
        """Undo of a created file on a client that cannot delete through an edit: remove it from disk,
        unless the editor has it open (its buffer would live on). True when it is gone."""
        if self._ls.current_text(applied.uri)[1] is not None:
            return False
        path = self._ls.path_for(applied.uri)
        if path is not None:
            path.unlink(missing_ok=True)
        return True


def _line_stats(applied: Sequence[AppliedFile]) -> tuple[int, int]:
    changes = ChangeSet()
    for f in applied:
        changes.record(f.path, f.before, f.after)
    return changes.line_stats()


def _has_undo(job: Job) -> bool:
    return any(not f.undone for f in job.applied)
