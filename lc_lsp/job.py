"""A session in the editor: its record (`Job`), its states, and what its review left (lc_lsp.verdict).

Jobs (lc_lsp.jobs) runs sessions and keeps them; lc_lsp.review_flow hands their changes to the user.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent.events import SessionFinished
from agent.messages import Message
from agent.session import Session
from agent.settings import Settings
from lc_lsp.progress import SessionReporter
from lc_lsp.review import Proposal
from lc_lsp.undo import AppliedFile
from lc_lsp.verdict import Verdict

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

    def settled_state(self) -> JobState:
        """A reviewed job's state from which of its hunks landed, were turned down or failed."""
        verdict = self.verdict
        if verdict.applied():
            left = verdict.rejected or verdict.failed or verdict.undecided or verdict.mine or verdict.edited
            return "partial" if left else "applied"
        if verdict.rejected:
            return "rejected"
        if verdict.failed:
            return "refused"
        return "closed" if verdict.undecided else "conflicted"

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
