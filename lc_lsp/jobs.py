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
import dataclasses
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

from lsprotocol import types
from pygls.capabilities import get_capability

from agent.backend import ModelMemory
from agent.events import SessionFinished
from agent.messages import Message
from agent.session import Session
from agent.settings import Settings
from agent.workspace import ChangeSet, FileChange
from lc_lsp import tasks, undo
from lc_lsp.editor_workspace import ChangeHook, EditorWorkspace
from lc_lsp.host import EditorHost
from lc_lsp.hunk_links import Need, defined_in, left_out, needs
from lc_lsp.progress import SessionReporter, change_summary
from lc_lsp.review import (
    EDITED_IN_REVIEW,
    EDITED_MEANWHILE,
    ClientEditCaps,
    Hunk,
    Proposal,
    accepted_hunks,
    applied_text,
    build_edit,
    numbered_after,
    propose,
    rebase,
    uncreatable,
    unified_diff,
)
from lc_lsp.review_wire import (
    CAPABILITY,
    REVIEW_REQUEST,
    REVIEW_UPDATE,
    Choice,
    ReviewParams,
    ReviewResult,
    Selection,
    SelectionTest,
    plain,
    review_file,
)
from lc_lsp.selection import last_test_command, narrowed, run_selection_tests
from lc_lsp.undo import AppliedFile, AppliedStep
from lc_lsp.verdict import Verdict, feedback, record_choices, summary


log = logging.getLogger(__name__)

JobState = Literal[
    "running",  # the agent works
    "reviewing",  # the edit (or the question about it) is with the user
    "applied",  # every hunk was accepted
    "partial",  # some hunks were accepted, or the editor applied only some of them
    "rejected",  # the user turned every hunk down
    "discarded",  # the user chose Discard without looking at hunks
    "refused",  # the client did not apply the edit (e.g. stale version); the proposal is kept
    "closed",  # the review was closed without applying: nothing applied or rejected, it can be reopened
    "conflicted",  # every change collided with the user's own edits
    "no_changes",
    "cancelled",
    "error",
    "undone",
]
FINISHED: frozenset[str] = frozenset(
    {"applied", "partial", "rejected", "discarded", "refused", "closed", "conflicted", "no_changes", "cancelled",
     "error", "undone"}
)
# How long to wait, after the client said it applied an edit, for the documents to show it (the
# didChange/didOpen that follows), and how long they must then stay quiet.
SETTLE_TIMEOUT_S = 1.0
# Clients may debounce didChange (Neovim by 150 ms): a document counts as settled after this much quiet.
QUIET_S = 0.2
DIFF_FOLDER = ".little-coder"
APPLY, SHOW_DIFF, DISCARD = "Apply", "Show diff", "Discard"
KEEP_MINE, TAKE_AGENT, KEEP_BOTH = "Keep mine", "Take the agent's", "Keep both"
# An in-editor review is brought up to date this long after the user's last keystroke in its files.
UPDATE_DELAY_S = 0.1
# Lines of each side a conflict question shows (a message request is no diff viewer).
CONFLICT_LINES = 8
# An editor that never answers window/showDocument (Eglot before Emacs 30 answers null) must not hang it.
SHOW_DOCUMENT_TIMEOUT_S = 5.0


class CannotAsk(Exception):
    """The editor cannot show a question (no window/showMessageRequest)."""
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
    verdict: Verdict = field(default_factory=Verdict)  # what became of every hunk (lc_lsp.verdict)
    applied: list[AppliedFile] = field(default_factory=list)
    # The open documents as the session found them (unquoted uri → text), to tell what the user typed
    # during the session from what the agent proposes (lc_lsp.review.propose).
    origins: dict[str, str] = field(default_factory=dict)
    reviewing: set[str] = field(default_factory=set)  # unquoted uris of an in-editor review now open
    update_task: asyncio.Task[None] | None = None
    update_again: bool = False
    message: str = ""
    notes: list[str] = field(default_factory=list)  # what the user was told about applying and undoing
    started: float = field(default_factory=time.monotonic)
    in_session: bool = False  # inside session.run(): cancel through the session

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def accepted(self) -> set[str]:
        return self.verdict.applied()

    @property
    def rejected(self) -> set[str]:
        return self.verdict.rejected

    @property
    def failed(self) -> set[str]:
        return self.verdict.failed  # hunks the editor did not apply

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
            "undecided": sorted(self.verdict.undecided),
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
        caps = self._edit_caps()
        plain = ClientEditCaps(caps.document_changes, False, caps.create_files, caps.encoding)
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
        job.proposals = [await self._propose(job, change) for change in changes.changes.values()]
        if self.reviews_in_editor():
            await self._review_in_editor(job)
            return
        reviewable = [p for p in job.proposals if p.hunks]
        job.state = "reviewing"
        caps = self._edit_caps()
        outcome: set[str] | str = set()
        if not reviewable:
            pass
        elif caps.document_changes and caps.change_annotations:
            outcome = await self._apply(job, reviewable, caps)
        elif (choice := await self._ask_to_apply(job, reviewable)) is True:
            outcome = await self._apply(job, reviewable, _plain(caps))
        elif choice is False:
            job.verdict.rejected.update(h.id for p in reviewable for h in p.hunks)
            job.verdict.discarded = True
            outcome = "discarded"
        else:
            # The editor cannot ask (Helix 25.07 has no message requests): nothing is applied or rejected;
            # the patch is left where the user can take it.
            path = await self._write_diff(job, job.proposals)
            job.verdict.undecided.update(h.id for p in job.proposals for h in [*p.hunks, *p.conflicts])
            job.verdict.closed = True
            job.verdict.closed_note = (f"Your editor cannot ask whether to apply them: the patch is in {path} "
                                       "(git apply takes it), or ask little-coder to revise.")
            outcome = "closed"
        if outcome not in ("discarded", "closed"):
            await self._resolve_conflicts(job, job.proposals)
        job.state = "discarded" if outcome == "discarded" else _verdict(job)
        await self._note_broken(job)
        self._show_summary(job)

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
            return
        self._show_summary(job)

    def _show_summary(self, job: Job) -> None:
        """Tell the user what became of the changes, in the words revise quotes to the model."""
        text = summary(job.proposals, job.verdict)
        if not text:
            return
        job.message = text
        # A warning when something did not go as the user decided, or left code without what it needs;
        # their own choices are news, not alarms.
        verdict = job.verdict
        alarm = verdict.failed or verdict.mine or verdict.broken
        kind = types.MessageType.Warning if alarm else types.MessageType.Info
        self._show(f"little-coder: {job.title} — {text}", kind)

    # --- the review in the editor (clients announcing experimental.littleCoder.review) ---------------

    def reviews_in_editor(self) -> bool:
        experimental = plain(self._ls.client_capabilities.experimental)
        mine = experimental.get(CAPABILITY) if isinstance(experimental, dict) else None
        return isinstance(mine, dict) and bool(mine.get("review"))

    async def _review_in_editor(self, job: Job) -> None:
        """Send `littleCoder/review` and act on the reply: apply the selection, discard, or keep the
        proposal for later. While the review is open, edits to its files are rebased and pushed."""
        proposals = [p for p in await self._rebase(job, job.proposals) if p.hunks or p.conflicts]
        if not proposals:
            job.state = "no_changes"
            return
        job.state = "reviewing"
        job.verdict = Verdict()
        params = ReviewParams(
            session_id=job.id, title=job.title, label=f"little-coder: {job.title}", unfinished=_unfinished(job),
            test_command=last_test_command(job.session.history) if job.session else None,
            files=await self._review_files(job, proposals),
        )
        job.reviewing = {unquote(p.uri) for p in proposals}
        try:
            reply = await self._ls.protocol.send_request_async(REVIEW_REQUEST, params.model_dump(by_alias=True))
            result = ReviewResult.model_validate(plain(reply))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # no answer, or not one we can read: nothing is applied, nothing lost
            log.warning("%s failed: %s", REVIEW_REQUEST, exc)
            result = ReviewResult(action="close")
        finally:
            job.reviewing = set()
            if job.update_task is not None:
                job.update_task.cancel()
                job.update_task = None
        every = {h.id for p in job.proposals for h in [*p.hunks, *p.conflicts]}
        if result.action == "discard":
            job.verdict.rejected.update(every)
            job.verdict.discarded = True
            job.state = "discarded"
        elif result.action == "close":
            job.verdict.undecided.update(every)
            job.verdict.closed = True
            job.state = "closed"
        else:
            await self._apply_selection(job, result)
            job.state = _verdict(job)
            await self._note_broken(job)
        self._show_summary(job)

    async def _note_broken(self, job: Job) -> None:
        """Record the applied hunks that need a hunk which was not applied (told to user and model)."""
        labels = {h.id: h.label for p in job.proposals for h in [*p.hunks, *p.conflicts]}
        job.verdict.broken = left_out(await self._needs(job), job.verdict.applied(), labels)

    async def _review_files(self, job: Job, proposals: Sequence[Proposal]) -> list[Any]:
        found = await self._needs(job)
        return [review_file(p, found) for p in proposals]

    async def _needs(self, job: Job) -> list[Need]:
        proposals = list(job.proposals)

        def work() -> list[Need]:
            names = {p.path: defined_in(p.current_text) for p in proposals}
            return needs([h for p in proposals for h in [*p.hunks, *p.conflicts]], names)

        return await asyncio.to_thread(work)

    def document_changed(self, uri: str) -> None:
        """A document changed in the editor: bring every open review of it up to date, shortly."""
        key = unquote(uri)
        for job in self._jobs.values():
            if key not in job.reviewing:
                continue
            if job.update_task is None or job.update_task.done():
                job.update_task = asyncio.create_task(self._push_updates(job))
            else:
                job.update_again = True

    def document_opened(self, uri: str, text: str) -> None:
        """A document opened while sessions run: what it held then is the user's starting point."""
        for job in self._jobs.values():
            if not job.finished:
                job.origins.setdefault(unquote(uri), text)

    async def _push_updates(self, job: Job) -> None:
        """Rebase the reviewed files the user changed and send each its new ReviewFile; the hunk ids stay,
        so the client keeps the user's decisions."""
        while True:
            job.update_again = False
            await asyncio.sleep(UPDATE_DELAY_S)
            for proposal in list(job.proposals):
                if unquote(proposal.uri) not in job.reviewing:
                    continue
                moved = await asyncio.to_thread(self._rebased, proposal, EDITED_IN_REVIEW)
                if moved is proposal:
                    continue
                job.proposals = [moved if p is proposal else p for p in job.proposals]
                file = review_file(moved, await self._needs(job))
                self._ls.protocol.notify(REVIEW_UPDATE, {"sessionId": job.id, "file": file.model_dump(by_alias=True)})
            if not job.update_again:
                return

    async def _apply_selection(self, job: Job, selection: Selection) -> None:
        """Apply exactly what the user chose, as one plain edit, and book per hunk what landed."""
        proposals = await self._rebase(job, [p for p in job.proposals if p.hunks or p.conflicts], EDITED_IN_REVIEW)
        choices, texts = selection.choices(), selection.texts()
        landed = await self._apply_choices(job, proposals, choices, texts)
        record_choices(job.verdict, proposals, dict(choices), texts, landed)

    async def _apply_choices(self, job: Job, proposals: Sequence[Proposal], choices: dict[str, Choice],
                             texts: dict[str, str]) -> set[str]:
        """Send one plain edit with the chosen hunks (their chosen text) and return the ids that landed.
        What landed is recorded for undo; why the editor refused, if it did, goes to the verdict."""
        chosen = [n for p in proposals if (n := narrowed(p, choices, texts)) is not None]
        if not chosen:
            return set()
        caps = _plain(self._edit_caps())
        edit, _ = build_edit(chosen, caps, session_label=f"little-coder: {job.title} · session {job.id}")
        result = await self._ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label=_edit_label(job))
        )
        if result.applied:
            for proposal in uncreatable(chosen, caps):
                self._write_new_file(job.root, proposal)
        else:
            job.verdict.failure = result.failure_reason or "it refused the edit"
        now = await self._settled_texts(chosen)
        landed: set[str] = set()
        for proposal in chosen:
            yes, _ = self._landed(proposal, now[proposal.uri], result.applied)
            landed |= yes
            if yes:
                self._record_applied(job, proposal, applied_text(proposal, yes))
        return landed

    def reopen(self, job: Job) -> None:
        """Open a closed review again (`littleCoder.review`)."""
        job.runner = asyncio.create_task(self._reopened(job), name=f"little-coder review {job.id}")

    async def _reopened(self, job: Job) -> None:
        try:
            await self._review_in_editor(job)
        except asyncio.CancelledError:
            job.state = "closed"
        finally:
            self._ls.protocol.notify("littleCoder/sessionFinished", job.status())

    async def test_selection(self, job: Job, selection: Selection) -> SelectionTest:
        """The session's last test command, re-run in the sandbox on exactly this selection."""
        history = job.session.history if job.session is not None else []
        proposals = await self._rebase(job, [p for p in job.proposals if p.hunks or p.conflicts], EDITED_IN_REVIEW)
        return await run_selection_tests(job.root, self._ls.buffers, job.settings, history, proposals,
                                         selection.choices(), selection.texts())

    # --- the fallback review (any other client) ---------------------------------------------------

    async def _resolve_conflicts(self, job: Job, proposals: Sequence[Proposal]) -> set[str]:
        """Ask about each conflict (mine, the agent's, or both) with a message request any client shows,
        then apply what the user picked; the ids that landed. Unanswered keeps the user's version."""
        conflicts = [(p, c) for p in proposals for c in p.conflicts]
        if not conflicts:
            return set()
        choices: dict[str, Choice] = {}
        for _, conflict in conflicts:
            answer = await self._ask(_conflict_question(conflict), [KEEP_MINE, TAKE_AGENT, KEEP_BOTH],
                                     types.MessageType.Warning)
            choices[conflict.id] = "agent" if answer == TAKE_AGENT else "both" if answer == KEEP_BOTH else "mine"
        # The edit before moved the texts; job.proposals keeps the hunks it applied, for the summary.
        files = {id(p): p for p, _ in conflicts}.values()
        only = [await asyncio.to_thread(self._rebased, _only_conflicts(p)) for p in files]
        landed = await self._apply_choices(job, only, choices, {})
        record_choices(job.verdict, only, dict(choices), {}, landed)
        return landed

    # --- applying edits -------------------------------------------------------------------------

    async def _propose(self, job: Job, change: FileChange) -> Proposal:
        """A file's proposal, off the event loop: reading an unopened file and diffing it take time. One
        file per hop, so the loop answers the editor between files."""
        uri = self._ls.uri_for(job.root / change.path)
        origin = job.origins.get(unquote(uri))

        def work() -> Proposal:
            current, version = self._ls.current_text(uri)
            return propose(change, current, uri, version, origin)

        return await asyncio.to_thread(work)

    async def _apply(
        self, job: Job, proposals: list[Proposal], caps: ClientEditCaps
    ) -> set[str] | Literal["refused", "discarded"]:
        """Send one edit for `proposals`; the ids of the hunks that landed, or why nothing was applied:
        "refused" by the client (kept for revise) or "discarded" by the user in the editor's preview."""
        proposals = [p for p in await self._rebase(job, proposals) if p.hunks]
        if not proposals:
            return set()
        # The session id in every annotation's description lets a client tie the edit to its session; a
        # hunk others need says so before the user leaves it out.
        labels = {h.id: h.label for p in proposals for h in p.hunks}
        notes: dict[str, str] = {}
        for need in await self._needs(job):
            if need.hunk in labels and need.on in labels:
                notes[need.on] = f"needed by {labels[need.hunk]} (uses {', '.join(need.names)})"
        edit, _ = build_edit(proposals, caps, session_label=f"little-coder: {job.title} · session {job.id}",
                             notes=notes)
        missing = uncreatable(proposals, caps)
        result = await self._ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label=_edit_label(job))
        )
        if not result.applied and _user_discarded(result.failure_reason):
            # VS Code can only answer applied=false when the user discards its refactor preview: that is
            # the user's decision, not an editor failure. Every hunk counts as rejected (revise works).
            job.verdict.rejected.update(h.id for p in proposals for h in p.hunks)
            job.verdict.discarded = True
            return "discarded"
        if result.applied:
            # The client cannot create these files (no documentChanges): the user said Apply, so write them.
            for proposal in missing:
                self._write_new_file(job.root, proposal)
        else:
            job.verdict.failure = result.failure_reason or "it refused the edit"
        # Read back even when the client says it failed: it may have stopped partway, after some files.
        texts = await self._settled_texts(proposals)
        # Only a preview with a checkbox per hunk lets the user leave hunks out; anywhere else a hunk that
        # did not land is the editor's failure.
        user_chose = result.applied and caps.document_changes and caps.change_annotations
        landed: set[str] = set()
        for proposal in proposals:
            yes, no = self._landed(proposal, texts[proposal.uri], result.applied and not user_chose)
            landed |= yes
            (job.verdict.rejected if user_chose else job.verdict.failed).update(no)
            if yes:
                self._record_applied(job, proposal, applied_text(proposal, yes))
        job.verdict.accepted.update(landed)
        return landed if landed or user_chose else "refused"

    @staticmethod
    def _landed(proposal: Proposal, text: str | None, said_applied: bool) -> tuple[set[str], set[str]]:
        """(landed, not landed) hunk ids of a proposal, read from the document's text now. An open buffer
        that still shows its old text after the editor said it applied the whole edit has not reported
        it yet (Eglot sends didChange when the user is next idle, which after a question may be minutes):
        the editor's word is taken. A file on disk shows at once what was written to it."""
        unchanged = text == (None if proposal.created else proposal.current_text)
        if said_applied and unchanged and proposal.version is not None:
            return {h.id for h in proposal.hunks}, set()
        return accepted_hunks(proposal, text)

    async def _rebase(self, job: Job, proposals: list[Proposal], reason: str = EDITED_MEANWHILE) -> list[Proposal]:
        """The proposals moved onto what their documents hold right now (an unopened file has no
        version to guard it, so its disk text is compared): no edit is sent against a stale text.
        `job.proposals` follows."""
        fresh: list[Proposal] = []
        for proposal in proposals:
            moved = await asyncio.to_thread(self._rebased, proposal, reason)
            if moved is not proposal:
                job.proposals = [moved if p is proposal else p for p in job.proposals]
            fresh.append(moved)
        return fresh

    def _rebased(self, proposal: Proposal, reason: str = EDITED_MEANWHILE) -> Proposal:
        current, version = self._ls.current_text(proposal.uri)
        return rebase(proposal, current, version, reason)

    async def _settled_texts(self, proposals: Sequence[Proposal]) -> dict[str, str | None]:
        """The documents' texts once the client's update has arrived: as soon as any of them differs
        from before the edit (then after a short quiet spell), or after SETTLE_TIMEOUT_S when nothing
        changed (every hunk declined)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_TIMEOUT_S
        before = {p.uri: (None if p.created else p.current_text) for p in proposals}

        def read() -> dict[str, str | None]:  # an unopened file is read from disk: off the loop
            return {uri: self._ls.current_text(uri)[0] for uri in before}

        while True:
            texts = await asyncio.to_thread(read)
            if any(texts[uri] != text for uri, text in before.items()):
                while await self._ls.documents.wait(QUIET_S):
                    pass
                return await asyncio.to_thread(read)
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

    async def _ask_to_apply(self, job: Job, proposals: list[Proposal]) -> bool | None:
        """Apply / Show diff / Discard, for clients that cannot review hunks in an edit preview; None when
        the client cannot ask at all."""
        added = sum(len(h.new_lines) for p in proposals for h in p.hunks)
        removed = sum(len(h.old_lines) for p in proposals for h in p.hunks)
        summary_text = change_summary(len(proposals), added, removed)
        question = f"little-coder: {job.title} — {summary_text}. Apply?"
        try:
            choice = await self._ask(question, [APPLY, SHOW_DIFF, DISCARD], cannot_ask=CannotAsk)
            if choice == SHOW_DIFF:
                path = await self._write_diff(job, proposals)
                if not await self._show_document(job.root, path):
                    question = f"{question} The diff is in {path}."
                choice = await self._ask(question, [APPLY, DISCARD], cannot_ask=CannotAsk)
        except CannotAsk:
            return None
        return choice == APPLY

    async def _write_diff(self, job: Job, proposals: Sequence[Proposal]) -> str:
        """The proposal as a patch in the workspace's .little-coder folder; its path, relative to the root."""
        folder = job.root / DIFF_FOLDER
        path = folder / f"{job.id}.diff"

        def write() -> None:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(unified_diff(proposals), encoding="utf-8")

        await asyncio.to_thread(write)
        return f"{DIFF_FOLDER}/{path.name}"

    async def _show_document(self, root: Path, relative: str) -> bool:
        """Open a workspace file in the editor, when it can (window/showDocument); whether it did. An
        editor that answers badly or not at all must not hold up the review."""
        if not get_capability(self._ls.client_capabilities, "window.show_document.support", False):
            return False
        uri = self._ls.uri_for(root / relative)
        try:
            shown = await asyncio.wait_for(self._ls.window_show_document_async(
                types.ShowDocumentParams(uri=uri, take_focus=True)), SHOW_DOCUMENT_TIMEOUT_S)
        except Exception as exc:  # any failure means "not shown": the question then says where it is
            log.warning("window/showDocument failed: %s", exc)
            return False
        return bool(shown.success)

    def _on_change(self, job: Job) -> ChangeHook:
        """The EditorWorkspace hook for review modes `each` and `direct`: True when the change is in."""

        async def on_change(name: str, base: str | None, proposed: str) -> bool:
            proposal = numbered_after(await self._propose(job, FileChange(name, base, proposed)), job.proposals)
            job.proposals.append(proposal)
            if not proposal.hunks:
                # Only lines the user changed meanwhile: their answer decides; the agent's text stays its own.
                return bool(await self._resolve_conflicts(job, [proposal]))
            if proposal.conflicts:
                await self._resolve_conflicts(job, [dataclasses.replace(proposal, hunks=[])])
                proposal = await asyncio.to_thread(self._rebased, proposal)
            caps = self._edit_caps()
            if job.settings.review == "direct":
                accepted = await self._apply(job, [proposal], _plain(caps))
            elif caps.document_changes and caps.change_annotations:
                accepted = await self._apply(job, [proposal], caps)
            elif await self._ask_to_apply(job, [proposal]):
                accepted = await self._apply(job, [proposal], _plain(caps))
            else:
                job.verdict.rejected.update(h.id for h in proposal.hunks)
                return False
            return isinstance(accepted, set) and bool(accepted)  # not "refused" / "discarded"

        return on_change

    # --- talking to the user --------------------------------------------------------------------

    async def _confirm(self, command: str) -> bool:
        """Bash outside the allow-list, with the `bash` setting at `ask`."""
        choice = await self._ask(f"little-coder wants to run: {command}", [ALLOW, DENY], types.MessageType.Warning)
        return choice == ALLOW

    async def _ask(self, message: str, options: list[str], kind: types.MessageType = types.MessageType.Info,
                   cannot_ask: type[Exception] | None = None) -> str | None:
        """The user's choice among `options`, None when they dismissed the question. A client that cannot
        ask counts as dismissed, or raises `cannot_ask` where that must be told apart."""
        try:
            reply = await self._ls.window_show_message_request_async(
                types.ShowMessageRequestParams(type=kind, message=message,
                                               actions=[types.MessageActionItem(title=o) for o in options])
            )
        except Exception as exc:
            log.warning("window/showMessageRequest failed: %s", exc)
            if cannot_ask is not None:
                raise cannot_ask(str(exc)) from exc
            return None
        return reply.title if reply is not None else None

    def _show(self, message: str, kind: types.MessageType) -> None:
        self._ls.window_show_message(types.ShowMessageParams(type=kind, message=message))

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
    verdict = job.verdict
    if verdict.applied():
        left = verdict.rejected or verdict.failed or verdict.undecided or verdict.mine or verdict.edited
        return "partial" if left else "applied"
    if verdict.rejected:
        return "rejected"
    if verdict.failed:
        return "refused"
    return "closed" if verdict.undecided else "conflicted"


def _plain(caps: ClientEditCaps) -> ClientEditCaps:
    """An edit the client applies at once: no annotation asks for a confirmation."""
    return ClientEditCaps(caps.document_changes, False, caps.create_files, caps.encoding)


def _unfinished(job: Job) -> str | None:
    outcome = job.result.outcome if job.result is not None else "done"
    return None if outcome == "done" else outcome


def _only_conflicts(proposal: Proposal) -> Proposal:
    return dataclasses.replace(proposal, hunks=[])


def _conflict_question(conflict: Hunk) -> str:
    def side(lines: Sequence[str]) -> str:
        shown = [line.rstrip("\r\n") for line in lines[:CONFLICT_LINES]]
        more = len(lines) - CONFLICT_LINES
        return "\n".join(shown + ([f"… {more} more lines"] if more > 0 else [])) or "(nothing)"

    return (f"little-coder: you and the agent both changed {conflict.label} ({conflict.reason}).\n"
            f"Yours:\n{side(conflict.old_lines)}\nThe agent's:\n{side(conflict.new_lines)}")


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
