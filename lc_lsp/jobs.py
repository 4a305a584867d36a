"""Running sessions: one `Job` per agent session, in the background, and what happens to its changes.

A job runs `agent.session.Session` on an `EditorWorkspace` (open buffers first; changes recorded,
the user's files untouched), reports it through a `SessionReporter`, and then hands the changes to
the user according to the `review` setting:

- `session` (default): one `workspace/applyEdit` at the end, one change annotation per hunk with
  `needsConfirmation`, rebased on whatever the user typed meanwhile. Clients without documentChanges
  and annotations get `window/showMessageRequest` Apply / Show diff / Discard instead.
- `each`: every Write/Edit is proposed the moment it is made; a rejection goes back to the model as
  the tool's result.
- `direct`: every change is applied as it is made, still undoable.

Right before an edit is sent, every target is read again (an unopened file may have changed on disk,
a buffer may have been typed in) and the hunks are rebased on it, so no range is ever stale. What
landed is read back from the documents after the client answered, so any client works, including one
that applied only some hunks or stopped partway (a partial apply is reported and undoable). The job
keeps its proposals, the accepted, rejected and failed hunks, the conversation (for `revise`), what the
user was told, and every step it applied (for `undo`, lc_lsp.undo).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lsprotocol import types

from agent.backend import ModelMemory
from agent.events import SessionFinished
from agent.messages import Message
from agent.session import Session
from agent.settings import Settings
from agent.workspace import ChangeSet, FileChange
from lc_lsp import tasks, undo
from lc_lsp.editor_workspace import ChangeHook, EditorWorkspace
from lc_lsp.host import EditorHost
from lc_lsp.progress import SessionReporter, change_summary
from lc_lsp.review import (
    ClientEditCaps,
    Hunk,
    Proposal,
    accepted_hunks,
    applied_text,
    build_edit,
    propose,
    rebase,
    rejected_feedback,
    uncreatable,
    unified_diff,
)
from lc_lsp.undo import AppliedFile, AppliedStep


log = logging.getLogger(__name__)

JobState = Literal[
    "running",  # the agent works
    "reviewing",  # the edit (or the question about it) is with the user
    "applied",  # every hunk was accepted
    "partial",  # some hunks were accepted, or the editor applied only some of them
    "rejected",  # the user turned every hunk down
    "discarded",  # the user chose Discard without looking at hunks
    "refused",  # the client did not apply the edit (e.g. stale version); the proposal is kept
    "conflicted",  # every change collided with the user's own edits
    "no_changes",
    "cancelled",
    "error",
    "undone",
]
FINISHED: frozenset[str] = frozenset(
    {"applied", "partial", "rejected", "discarded", "refused", "conflicted", "no_changes", "cancelled", "error",
     "undone"}
)
# How long to wait, after the client said it applied an edit, for the documents to show it (the
# didChange/didOpen that follows), and how long they must then stay quiet.
SETTLE_TIMEOUT_S = 1.0
# Clients may debounce didChange (Neovim by 150 ms): a document counts as settled after this much quiet.
QUIET_S = 0.2
DIFF_FOLDER = ".little-coder"
APPLY, SHOW_DIFF, DISCARD = "Apply", "Show diff", "Discard"
ALLOW, DENY = "Allow", "Deny"


@dataclass(frozen=True)
class Anchor:
    """The lines a session is about (0-based, inclusive), shown by hover while and after it runs."""

    uri: str
    start_line: int
    end_line: int


@dataclass
class Job:
    id: str
    title: str
    task: str
    root: Path
    settings: Settings
    history: list[Message]
    reporter: SessionReporter
    done: asyncio.Future[None]
    parent: str | None = None
    anchor: Anchor | None = None
    state: JobState = "running"
    session: Session | None = None
    runner: asyncio.Task[None] | None = None
    result: SessionFinished | None = None
    proposals: list[Proposal] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)
    rejected: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)  # hunks the editor did not apply
    applied: list[AppliedFile] = field(default_factory=list)
    message: str = ""
    notes: list[str] = field(default_factory=list)  # what the user was told about applying and undoing
    started: float = field(default_factory=time.monotonic)
    in_session: bool = False  # inside session.run(): cancel through the session

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def cancel(self) -> bool:
        """Stop the job wherever it is: the model stream, a tool, or the review. False if it had ended."""
        if self.finished or self.runner is None or self.runner.done():
            return False
        if self.in_session and self.session is not None:
            self.session.cancel()  # run() then reports the cancelled session itself
        else:
            self.runner.cancel()
        return True

    def status(self) -> dict[str, Any]:
        result = self.result
        return {
            "sessionId": self.id,
            "title": self.title,
            "state": self.state,
            "turn": self.reporter.turn,
            "cap": self.reporter.cap or self.settings.max_turns,
            "outcome": result.outcome if result else None,
            "message": self.message or (result.message if result else ""),
            "changedFiles": sorted({p.path for p in self.proposals} | {f.path for f in self.applied}),
            "accepted": sorted(self.accepted),
            "rejected": sorted(self.rejected),
            "failed": sorted(self.failed),
            "parent": self.parent,
            "elapsed": round(time.monotonic() - self.started, 3),
        }


class Jobs:
    """Every job of this server, in start order. State lives here, never in module globals."""

    def __init__(self, ls: EditorHost) -> None:
        self._ls = ls
        self.memory = ModelMemory()  # what this server learnt about models, shared by its sessions
        self._jobs: dict[str, Job] = {}

    # --- registry -------------------------------------------------------------------------------

    def _edit_caps(self) -> ClientEditCaps:
        return ClientEditCaps.from_client(self._ls.client_capabilities, self._ls.encoding)

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
        turned_down = previous.rejected | previous.failed
        conflicts = any(p.conflicts for p in previous.proposals)
        if not turned_down and not conflicts and not (comment and comment.strip()):
            return "no hunk was rejected; add a comment saying what to change"
        return None

    def revise(self, previous: Job, comment: str | None, settings: Settings) -> Job:
        """Continue `previous`'s conversation with the user's verdict on its changes."""
        assert previous.session is not None
        feedback = rejected_feedback(previous.proposals, set(previous.rejected), comment,
                                     failed=frozenset(previous.failed), notes=previous.notes)
        return self.start(
            title=tasks.revise_title(previous.title), task=feedback, root=previous.root, settings=settings,
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
        caps = self._edit_caps()
        plain = ClientEditCaps(caps.document_changes, False, caps.create_files, caps.encoding)
        delete_in_edit = caps.document_changes and self._ls.can_delete_files()
        plans: list[undo.FilePlan] = []
        proposals: dict[str, Proposal] = {}
        for applied in job.applied:
            if applied.undone:
                continue
            current, version = self._ls.current_text(applied.uri)
            plan = undo.plan(applied, current)
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
            texts = await self._settled_texts(list(proposals.values()))
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
        self._show(message, types.MessageType.Warning if kept or not_undone else types.MessageType.Info)
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
            on_change = self._on_change(job) if job.settings.review in ("each", "direct") else None
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
            self._show(f"little-coder: {job.message}", types.MessageType.Error)
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
            self._show(f"little-coder: {final.message}", types.MessageType.Error)
        elif final.outcome in ("turn_cap", "stuck"):
            # The work may be unfinished: say why it stopped before offering what there is.
            self._show(f"little-coder stopped: {final.message}", types.MessageType.Warning)
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
        job.proposals = [await self._propose(job.root, change) for change in changes.changes.values()]
        self._report_conflicts([c for p in job.proposals for c in p.conflicts])
        reviewable = [p for p in job.proposals if p.hunks]
        if not reviewable:
            job.state = "conflicted"
            return
        job.state = "reviewing"
        caps = self._edit_caps()
        if caps.document_changes and caps.change_annotations:
            outcome = await self._apply(job, reviewable, caps)
        elif await self._ask_to_apply(job, reviewable):
            plain = ClientEditCaps(caps.document_changes, False, caps.create_files, caps.encoding)
            outcome = await self._apply(job, reviewable, plain)
        else:
            job.rejected |= {h.id for p in reviewable for h in p.hunks}
            job.state = "discarded"
            return
        job.state = outcome if isinstance(outcome, str) else _verdict(job)

    def _end_applied_as_it_went(self, job: Job) -> None:
        final = job.result
        assert final is not None
        if job.accepted:
            job.state = _verdict(job)
            files = {f.path for f in job.applied}
            job.reporter.end(f"{change_summary(len(files), *_line_stats(job.applied))} — applied")
        elif job.rejected or job.failed:
            job.state = _verdict(job)
            job.reporter.end("every change was rejected" if job.rejected else "the editor applied no change")
        else:
            job.state = "error" if final.outcome == "error" else "no_changes"
            job.reporter.end(f"failed: {final.message}" if final.outcome == "error" else "finished, no changes")

    # --- applying edits -------------------------------------------------------------------------

    async def _propose(self, root: Path, change: FileChange) -> Proposal:
        """A file's proposal, off the event loop: reading an unopened file and diffing it take time. One
        file per hop, so the loop answers the editor between files."""
        uri = self._ls.uri_for(root / change.path)

        def work() -> Proposal:
            current, version = self._ls.current_text(uri)
            return propose(change, current, uri, version)

        return await asyncio.to_thread(work)

    async def _apply(
        self, job: Job, proposals: list[Proposal], caps: ClientEditCaps
    ) -> set[str] | Literal["refused", "discarded"]:
        """Send one edit for `proposals`; the ids of the hunks that landed, or why nothing was applied:
        "refused" by the client (kept for revise) or "discarded" by the user in the editor's preview."""
        proposals = [p for p in await self._rebase(job, proposals) if p.hunks]
        if not proposals:
            return set()
        # The session id in every annotation's description lets a client tie the edit to its session.
        edit, _ = build_edit(proposals, caps, session_label=f"little-coder: {job.title} · session {job.id}")
        missing = uncreatable(proposals, caps)
        result = await self._ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label=_edit_label(job))
        )
        if not result.applied and _user_discarded(result.failure_reason):
            # VS Code can only answer applied=false when the user discards its refactor preview: that is
            # the user's decision, not an editor failure. Every hunk counts as rejected (revise works).
            job.rejected |= {h.id for p in proposals for h in p.hunks}
            job.message = "discarded in the editor's preview"
            return "discarded"
        if result.applied:
            # The client cannot create these files (no documentChanges): the user said Apply, so write them.
            for proposal in missing:
                self._write_new_file(job.root, proposal)
        # Read back even when the client says it failed: it may have stopped partway, after some files.
        texts = await self._settled_texts(proposals)
        # Only a preview with a checkbox per hunk lets the user leave hunks out; anywhere else a hunk that
        # did not land is the editor's failure.
        user_chose = result.applied and caps.document_changes and caps.change_annotations
        landed: list[Hunk] = []
        lost: list[Hunk] = []
        for proposal in proposals:
            yes, no = accepted_hunks(proposal, texts[proposal.uri])
            landed += [h for h in proposal.hunks if h.id in yes]
            lost += [h for h in proposal.hunks if h.id in no]
            if yes:
                self._record_applied(job, proposal, applied_text(proposal, yes))
        job.accepted |= {h.id for h in landed}
        if user_chose:
            job.rejected |= {h.id for h in lost}
            return {h.id for h in landed}
        job.failed |= {h.id for h in lost}
        reason = "" if result.applied else f" ({result.failure_reason or 'it refused the edit'})"
        if not landed:
            job.message = f"the editor did not apply the changes{reason}"
            self._show(
                f"little-coder: {job.message}. They are kept: ask little-coder to revise session {job.id} "
                "(littleCoder.revise) to redo them on the current files.",
                types.MessageType.Warning,
            )
            job.notes.append(job.message)
            return "refused"
        if lost:
            job.message = (
                f"the editor applied only part of the changes{reason}. Applied: {_labels(landed)}. "
                f"Not applied: {_labels(lost)}"
            )
            self._show(
                f"little-coder: {job.message}. littleCoder.undo reverts what was applied; littleCoder.revise "
                f"redoes the rest (session {job.id}).",
                types.MessageType.Warning,
            )
            job.notes.append(job.message)
        return {h.id for h in landed}

    async def _rebase(self, job: Job, proposals: list[Proposal]) -> list[Proposal]:
        """The proposals moved onto what their documents hold right now (an unopened file has no
        version to guard it, so its disk text is compared): no edit is sent against a stale text.
        `job.proposals` follows; what now collides with the user's text is reported."""
        fresh: list[Proposal] = []
        for proposal in proposals:
            moved = await asyncio.to_thread(self._rebased, proposal)
            if moved is not proposal:
                job.proposals = [moved if p is proposal else p for p in job.proposals]
                self._report_conflicts(moved.conflicts[len(proposal.conflicts):])
            fresh.append(moved)
        return fresh

    def _rebased(self, proposal: Proposal) -> Proposal:
        current, version = self._ls.current_text(proposal.uri)
        return rebase(proposal, current, version)

    async def _settled_texts(self, proposals: Sequence[Proposal]) -> dict[str, str | None]:
        """The documents' texts once the client's update has arrived: as soon as any of them differs
        from before the edit (then after a short quiet spell), or after SETTLE_TIMEOUT_S when nothing
        changed (every hunk declined)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_TIMEOUT_S
        before = {p.uri: (None if p.created else p.current_text) for p in proposals}
        while True:
            texts = {uri: self._ls.current_text(uri)[0] for uri in before}
            if any(texts[uri] != text for uri, text in before.items()):
                while await self._ls.documents.wait(QUIET_S):
                    pass
                return {uri: self._ls.current_text(uri)[0] for uri in before}
            remaining = deadline - loop.time()
            if remaining <= 0:
                return texts
            await self._ls.documents.wait(min(remaining, QUIET_S))

    def _record_applied(self, job: Job, proposal: Proposal, after: str) -> None:
        step = AppliedStep(None if proposal.created else proposal.current_text, after)
        for applied in job.applied:
            if applied.uri == proposal.uri and not applied.undone:
                applied.steps.append(step)
                return
        job.applied.append(AppliedFile(proposal.path, proposal.uri, [step]))

    async def _ask_to_apply(self, job: Job, proposals: list[Proposal]) -> bool:
        """Apply / Show diff / Discard, for clients that cannot review hunks in an edit preview."""
        added = sum(len(h.new_lines) for p in proposals for h in p.hunks)
        removed = sum(len(h.old_lines) for p in proposals for h in p.hunks)
        summary = change_summary(len(proposals), added, removed)
        question = f"little-coder: {job.title} — {summary}. Apply?"
        choice = await self._ask(question, [APPLY, SHOW_DIFF, DISCARD])
        if choice == SHOW_DIFF:
            await self._show_diff(job, proposals)
            choice = await self._ask(question, [APPLY, DISCARD])
        return choice == APPLY

    async def _show_diff(self, job: Job, proposals: list[Proposal]) -> None:
        folder = job.root / DIFF_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{job.id}.diff"
        path.write_text(unified_diff(proposals), encoding="utf-8")
        await self._ls.window_show_document_async(
            types.ShowDocumentParams(uri=self._ls.uri_for(path), take_focus=True)
        )

    def _on_change(self, job: Job) -> ChangeHook:
        """The EditorWorkspace hook for review modes `each` and `direct`: True when the change is in."""

        async def on_change(name: str, base: str | None, proposed: str) -> bool:
            proposal = await self._propose(job.root, FileChange(name, base, proposed))
            job.proposals.append(proposal)
            self._report_conflicts(proposal.conflicts)
            if not proposal.hunks:
                return not proposal.conflicts
            caps = self._edit_caps()
            plain = ClientEditCaps(caps.document_changes, False, caps.create_files, caps.encoding)
            if job.settings.review == "direct":
                accepted = await self._apply(job, [proposal], plain)
            elif caps.document_changes and caps.change_annotations:
                accepted = await self._apply(job, [proposal], caps)
            elif await self._ask_to_apply(job, [proposal]):
                accepted = await self._apply(job, [proposal], plain)
            else:
                job.rejected |= {h.id for h in proposal.hunks}
                return False
            return isinstance(accepted, set) and bool(accepted)  # not "refused" / "discarded"

        return on_change

    # --- talking to the user --------------------------------------------------------------------

    async def _confirm(self, command: str) -> bool:
        """Bash outside the allow-list, with the `bash` setting at `ask`."""
        choice = await self._ask(f"little-coder wants to run: {command}", [ALLOW, DENY], types.MessageType.Warning)
        return choice == ALLOW

    async def _ask(self, message: str, options: list[str],
                   kind: types.MessageType = types.MessageType.Info) -> str | None:
        try:
            reply = await self._ls.window_show_message_request_async(
                types.ShowMessageRequestParams(type=kind, message=message,
                                               actions=[types.MessageActionItem(title=o) for o in options])
            )
        except Exception as exc:  # a client without message requests counts as "no"
            log.warning("window/showMessageRequest failed: %s", exc)
            return None
        return reply.title if reply is not None else None

    def _show(self, message: str, kind: types.MessageType) -> None:
        self._ls.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def _report_conflicts(self, conflicts: Sequence[Hunk]) -> None:
        if conflicts:
            self._show(
                f"little-coder: {len(conflicts)} change(s) left out because you edited the same lines while the "
                f"agent worked: {', '.join(c.label for c in conflicts)}",
                types.MessageType.Warning,
            )

    # --- files ----------------------------------------------------------------------------------

    def _write_new_file(self, root: Path, proposal: Proposal) -> None:
        target = root / proposal.path
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(proposal.proposed_text, encoding="utf-8")

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


def _verdict(job: Job) -> JobState:
    """A reviewed job's state from which of its hunks landed, were turned down or failed."""
    if job.accepted:
        return "partial" if job.rejected or job.failed else "applied"
    if job.rejected:
        return "rejected"
    return "refused" if job.failed else "conflicted"


def _labels(hunks: Sequence[Hunk]) -> str:
    return ", ".join(h.label for h in hunks)


def _has_undo(job: Job) -> bool:
    return any(not f.undone for f in job.applied)


def _user_discarded(failure_reason: str | None) -> bool:
    """The client's way of saying the user discarded the preview (our VS Code extension words it so)."""
    return "discarded" in (failure_reason or "").lower()


def _edit_label(job: Job) -> str:
    """The review's title; a session that did not finish normally says so, so its partial work is
    never mistaken for a finished change."""
    label = f"little-coder: {job.title}"
    outcome = job.result.outcome if job.result is not None else "done"
    return label if outcome == "done" else f"{label} (unfinished: {outcome})"
