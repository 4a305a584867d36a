"""Handing a session's changes to the user, and booking what became of each hunk (lc_lsp.verdict).

- A client that reviews in the file (`experimental.littleCoder.review`) gets `littleCoder/review`: per
  file the current text and its hunks with stable ids (lc_lsp.review_wire). While it is open, edits to
  its files are rebased and pushed as `littleCoder/reviewUpdate`; the reply's selection is applied with
  one plain `workspace/applyEdit`; `littleCoder.testSelection` re-runs the session's tests on a selection
  in the sandbox (lc_lsp.selection).
- Any other client gets one `workspace/applyEdit` with a change annotation per hunk that needs
  confirmation, or, without annotations, `window/showMessageRequest` Apply / Show diff / Discard and a
  plain edit; then a question per conflict (mine, the agent's, both). An editor that cannot ask keeps the
  proposal as a patch.
- Review `each` / `direct` (the `on_change` hook): every Write/Edit is proposed, or applied, as it is made.

Right before an edit is sent, every target is read again (an unopened file may have changed on disk,
a buffer may have been typed in) and the hunks are rebased on it, so no range is ever stale. What
landed is read back from the documents after the client answered, so any client works, including one
that applied only some hunks or stopped partway. Every outcome ends in one summary, which revise later
quotes to the model word for word.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

from lsprotocol import types
from pygls.capabilities import get_capability

from agent.workspace import FileChange
from lc_lsp.editor_workspace import ChangeHook
from lc_lsp.host import EditorHost
from lc_lsp.hunk_links import Need, defined_in, left_out, needs
from lc_lsp.job import Job
from lc_lsp.progress import change_summary
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
from lc_lsp.verdict import Verdict, record_choices, summary

log = logging.getLogger(__name__)

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


class Reviews:
    """The review side of every job of one server: the host is the editor it talks to."""

    def __init__(self, ls: EditorHost) -> None:
        self._ls = ls

    def edit_caps(self) -> ClientEditCaps:
        return ClientEditCaps.from_client(self._ls.client_capabilities, self._ls.encoding)

    async def review(self, job: Job, changes: Sequence[FileChange]) -> None:
        """Hand a finished session's changes to the user: in the editor when the client reviews there, else
        as an annotated edit (or the Apply question), conflicts asked one by one; then say what became of them."""
        job.proposals = [await self._propose(job, change) for change in changes]
        if self.reviews_in_editor():
            await self.review_in_editor(job)
            return
        reviewable = [p for p in job.proposals if p.hunks]
        job.state = "reviewing"
        caps = self.edit_caps()
        outcome: set[str] | str = set()
        if not reviewable:
            pass
        elif caps.document_changes and caps.change_annotations:
            outcome = await self._apply(job, reviewable, caps)
        elif (choice := await self._ask_to_apply(job, reviewable)) is True:
            outcome = await self._apply(job, reviewable, plain_caps(caps))
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
            await self.resolve_conflicts(job, job.proposals)
        job.state = "discarded" if outcome == "discarded" else job.settled_state()
        await self.note_broken(job)
        self.show_summary(job)

    def show_summary(self, job: Job) -> None:
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
        self.show(f"little-coder: {job.title} — {text}", kind)


    # --- the review in the editor (clients announcing experimental.littleCoder.review) ---------------

    def reviews_in_editor(self) -> bool:
        experimental = plain(self._ls.client_capabilities.experimental)
        mine = experimental.get(CAPABILITY) if isinstance(experimental, dict) else None
        return isinstance(mine, dict) and bool(mine.get("review"))


    async def review_in_editor(self, job: Job) -> None:
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
            await self.apply_selection(job, result)
            job.state = job.settled_state()
            await self.note_broken(job)
        self.show_summary(job)


    async def note_broken(self, job: Job) -> None:
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


    async def push_updates(self, job: Job) -> None:
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


    async def apply_selection(self, job: Job, selection: Selection) -> None:
        """Apply exactly what the user chose, as one plain edit, and book per hunk what landed."""
        proposals = await self._rebase(job, [p for p in job.proposals if p.hunks or p.conflicts], EDITED_IN_REVIEW)
        choices, texts = selection.choices(), selection.texts()
        landed = await self.apply_choices(job, proposals, choices, texts)
        record_choices(job.verdict, proposals, dict(choices), texts, landed)


    async def apply_choices(self, job: Job, proposals: Sequence[Proposal], choices: dict[str, Choice],
                             texts: dict[str, str]) -> set[str]:
        """Send one plain edit with the chosen hunks (their chosen text) and return the ids that landed.
        What landed is recorded for undo; why the editor refused, if it did, goes to the verdict."""
        chosen = [n for p in proposals if (n := narrowed(p, choices, texts)) is not None]
        if not chosen:
            return set()
        caps = plain_caps(self.edit_caps())
        edit, _ = build_edit(chosen, caps, session_label=f"little-coder: {job.title} · session {job.id}")
        result = await self._ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label=_edit_label(job))
        )
        if result.applied:
            for proposal in uncreatable(chosen, caps):
                self._write_new_file(job.root, proposal)
        else:
            job.verdict.failure = result.failure_reason or "it refused the edit"
        now = await self.settled_texts(chosen)
        landed: set[str] = set()
        for proposal in chosen:
            yes, _ = self._landed(proposal, now[proposal.uri], result.applied)
            landed |= yes
            if yes:
                self.record_applied(job, proposal, applied_text(proposal, yes))
        return landed


    async def test_selection(self, job: Job, selection: Selection) -> SelectionTest:
        """The session's last test command, re-run in the sandbox on exactly this selection."""
        history = job.session.history if job.session is not None else []
        proposals = await self._rebase(job, [p for p in job.proposals if p.hunks or p.conflicts], EDITED_IN_REVIEW)
        return await run_selection_tests(job.root, self._ls.buffers, job.settings, history, proposals,
                                         selection.choices(), selection.texts())


    # --- the fallback review (any other client) ---------------------------------------------------

    async def resolve_conflicts(self, job: Job, proposals: Sequence[Proposal]) -> set[str]:
        """Ask about each conflict (mine, the agent's, or both) with a message request any client shows,
        then apply what the user picked; the ids that landed. Unanswered keeps the user's version."""
        conflicts = [(p, c) for p in proposals for c in p.conflicts]
        if not conflicts:
            return set()
        choices: dict[str, Choice] = {}
        for _, conflict in conflicts:
            answer = await self.ask(_conflict_question(conflict), [KEEP_MINE, TAKE_AGENT, KEEP_BOTH],
                                     types.MessageType.Warning)
            choices[conflict.id] = "agent" if answer == TAKE_AGENT else "both" if answer == KEEP_BOTH else "mine"
        # The edit before moved the texts; job.proposals keeps the hunks it applied, for the summary.
        files = {id(p): p for p, _ in conflicts}.values()
        only = [await asyncio.to_thread(self._rebased, _only_conflicts(p)) for p in files]
        landed = await self.apply_choices(job, only, choices, {})
        record_choices(job.verdict, only, dict(choices), {}, landed)
        return landed


    async def _ask_to_apply(self, job: Job, proposals: list[Proposal]) -> bool | None:
        """Apply / Show diff / Discard, for clients that cannot review hunks in an edit preview; None when
        the client cannot ask at all."""
        added = sum(len(h.new_lines) for p in proposals for h in p.hunks)
        removed = sum(len(h.old_lines) for p in proposals for h in p.hunks)
        summary_text = change_summary(len(proposals), added, removed)
        question = f"little-coder: {job.title} — {summary_text}. Apply?"
        try:
            choice = await self.ask(question, [APPLY, SHOW_DIFF, DISCARD], cannot_ask=CannotAsk)
            if choice == SHOW_DIFF:
                path = await self._write_diff(job, proposals)
                if not await self._show_document(job.root, path):
                    question = f"{question} The diff is in {path}."
                choice = await self.ask(question, [APPLY, DISCARD], cannot_ask=CannotAsk)
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
        texts = await self.settled_texts(proposals)
        # Only a preview with a checkbox per hunk lets the user leave hunks out; anywhere else a hunk that
        # did not land is the editor's failure.
        user_chose = result.applied and caps.document_changes and caps.change_annotations
        landed: set[str] = set()
        for proposal in proposals:
            yes, no = self._landed(proposal, texts[proposal.uri], result.applied and not user_chose)
            landed |= yes
            (job.verdict.rejected if user_chose else job.verdict.failed).update(no)
            if yes:
                self.record_applied(job, proposal, applied_text(proposal, yes))
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


    async def settled_texts(self, proposals: Sequence[Proposal]) -> dict[str, str | None]:
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


    def record_applied(self, job: Job, proposal: Proposal, after: str) -> None:
        step = AppliedStep(None if proposal.created else proposal.current_text, after)
        for applied in job.applied:
            if applied.uri == proposal.uri and not applied.undone:
                applied.steps.append(step)
                return
        job.applied.append(AppliedFile(proposal.path, proposal.uri, [step]))


    def on_change(self, job: Job) -> ChangeHook:
        """The EditorWorkspace hook for review modes `each` and `direct`: True when the change is in."""

        async def on_change(name: str, base: str | None, proposed: str) -> bool:
            proposal = numbered_after(await self._propose(job, FileChange(name, base, proposed)), job.proposals)
            job.proposals.append(proposal)
            if not proposal.hunks:
                # Only lines the user changed meanwhile: their answer decides; the agent's text stays its own.
                return bool(await self.resolve_conflicts(job, [proposal]))
            if proposal.conflicts:
                await self.resolve_conflicts(job, [dataclasses.replace(proposal, hunks=[])])
                proposal = await asyncio.to_thread(self._rebased, proposal)
            caps = self.edit_caps()
            if job.settings.review == "direct":
                accepted = await self._apply(job, [proposal], plain_caps(caps))
            elif caps.document_changes and caps.change_annotations:
                accepted = await self._apply(job, [proposal], caps)
            elif await self._ask_to_apply(job, [proposal]):
                accepted = await self._apply(job, [proposal], plain_caps(caps))
            else:
                job.verdict.rejected.update(h.id for h in proposal.hunks)
                return False
            return isinstance(accepted, set) and bool(accepted)  # not "refused" / "discarded"

        return on_change


    # --- talking to the user --------------------------------------------------------------------

    async def ask(self, message: str, options: list[str], kind: types.MessageType = types.MessageType.Info,
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


    def show(self, message: str, kind: types.MessageType) -> None:
        self._ls.window_show_message(types.ShowMessageParams(type=kind, message=message))


    def _write_new_file(self, root: Path, proposal: Proposal) -> None:
        target = root / proposal.path
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(proposal.proposed_text, encoding="utf-8")


def plain_caps(caps: ClientEditCaps) -> ClientEditCaps:
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


def _user_discarded(failure_reason: str | None) -> bool:
    """The client's way of saying the user discarded the preview (our VS Code extension words it so)."""
    return "discarded" in (failure_reason or "").lower()


def _edit_label(job: Job) -> str:
    """The review's title; a session that did not finish normally says so, so its partial work is
    never mistaken for a finished change."""
    label = f"little-coder: {job.title}"
    outcome = job.result.outcome if job.result is not None else "done"
    return label if outcome == "done" else f"{label} (unfinished: {outcome})"
