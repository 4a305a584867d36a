"""`textDocument/hover`: what little-coder is doing about the code under the cursor.

On the lines of a stub, a TODO or a selection that a session works on (or worked on), the hover
shows that session: its state, turn, the last step reported, how long it has run, and how it ended.
Elsewhere it answers nothing, so the editor's other hovers stay as they were. No parse and no model
call: it reads the jobs' state, so it answers in microseconds even while a session streams.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from lc_lsp.job import Job

_STATE_WORDS = {
    "running": "working",
    "reviewing": "waiting for your review",
    "applied": "applied",
    "partial": "partly applied",
    "rejected": "rejected by you",
    "discarded": "discarded by you",
    "refused": "not applied by the editor (the proposal is kept)",
    "closed": "review closed without applying (the proposal is kept: reopen the review, or revise)",
    "conflicted": "every change collided with your edits",
    "no_changes": "finished without changes",
    "cancelled": "cancelled",
    "error": "stopped by an error",
    "undone": "undone",
}


def session_hover(jobs: Sequence[Job], uri: str, line: int) -> types.Hover | None:
    """The newest session anchored on `line` of `uri`, as a hover; None when there is none."""
    for job in reversed(jobs):
        anchor = job.anchor
        if anchor is None or anchor.uri != uri or not anchor.start_line <= line <= anchor.end_line:
            continue
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=describe(job)),
            range=types.Range(start=types.Position(line=anchor.start_line, character=0),
                              end=types.Position(line=anchor.end_line + 1, character=0)),
        )
    return None


def describe(job: Job) -> str:
    status = job.status()
    lines = [f"**little-coder** · {job.title}", "", f"Session `{job.id}`: {_STATE_WORDS[job.state]}"]
    if job.state == "running":
        step = job.reporter.last_report or f"turn {status['turn']}/{status['cap']}"
        lines.append(f"{step} · {round(time.monotonic() - job.started)} s")
    elif status["message"]:
        lines.append(str(status["message"]))
    changed = status["changedFiles"]
    if changed:
        lines.append("Files: " + ", ".join(f"`{name}`" for name in changed))
    return "\n\n".join(lines)
