"""Undo of what a session applied, never over what the user changed since.

A job records, per file, each step it applied: the text before and exactly the text the edit wrote
(computed from the hunks that landed, not read back from the document, which may already hold the
user's next keystrokes). Undo replays the steps backwards, each as a three-way merge against the
document's text now: base = what the step wrote, ours = what was there before it, theirs = the text
now. Lines nobody touched since go back; a region the user changed since collides, and merge3 keeps
the user's version there: that region is kept and reported. A file the agent created is deleted only
while it still holds exactly what the agent wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from lc_lsp.merge3 import merge3
from lc_lsp.review import where

WHOLE_FILE = "the whole file"


@dataclass(frozen=True)
class AppliedStep:
    before: str | None  # None: this step created the file
    after: str  # exactly what the edit wrote


@dataclass
class AppliedFile:
    """One file a job changed: its applied steps, oldest first."""

    path: str
    uri: str
    steps: list[AppliedStep] = field(default_factory=list)
    undone: bool = False

    @property
    def before(self) -> str | None:
        return self.steps[0].before

    @property
    def after(self) -> str:
        return self.steps[-1].after


class _Payload(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class Kept(_Payload):
    """A region (or a whole file) undo left alone, and why."""

    path: str
    where: str  # "lines 3–5", or WHOLE_FILE
    reason: str


class UndoResult(_Payload):
    """What `littleCoder.undo` answers; `message` is also what the user is shown."""

    session_id: str
    state: str
    undone: bool  # the session counts as undone: nothing of it is left to undo
    files: list[str]  # files the undo changed or deleted
    kept: list[Kept]
    not_undone: list[str]  # files where the editor did not apply the undo; still undoable
    message: str


@dataclass(frozen=True)
class FilePlan:
    """What undo does to one file: `current` (None: absent) becomes `target` (None: delete it)."""

    applied: AppliedFile
    current: str | None
    target: str | None
    kept: list[Kept]

    @property
    def changes(self) -> bool:
        return self.current != self.target


def plan(applied: AppliedFile, current: str | None) -> FilePlan:
    """The inverse of `applied`'s steps, rebased on `current`, the document's text now."""
    path = applied.path
    text = current
    kept: list[Kept] = []
    for step in reversed(applied.steps):
        if text is None:
            if step.before is not None:  # a file the agent only edited is gone: the user deleted it
                kept.append(Kept(path=path, where=WHOLE_FILE, reason="you deleted it since"))
            break
        if step.before is None:
            if text == step.after:
                text = None
            else:
                kept.append(Kept(path=path, where=WHOLE_FILE,
                                 reason="you edited it since little-coder created it, so it was not deleted"))
            break
        merged = merge3(step.after, step.before, text)
        kept += [Kept(path=path, where=where(c.theirs_start, len(c.theirs_lines)), reason="you changed them since")
                 for c in merged.conflicts]
        text = merged.text
    return FilePlan(applied, current, text, kept)


def message(title: str, undone: Sequence[str], kept: Sequence[Kept], not_undone: Sequence[str],
            reason: str | None = None) -> str:
    """One plain sentence of what undo did, kept and failed to do, in that order."""
    parts: list[str] = []
    regions: dict[str, list[str]] = {}
    for k in kept:
        if k.where == WHOLE_FILE:
            parts.append(f"kept {k.path}: {k.reason}")
        else:
            regions.setdefault(k.path, []).append(k.where)
    parts[:0] = [f"kept your edits in {path} {', '.join(spans)}" for path, spans in regions.items()]
    if undone:
        parts.append("undid the rest" if parts else f"undid its changes to {', '.join(undone)}")
    if not_undone:
        why = f" ({reason})" if reason else ""
        parts.append(f"the editor did not apply the undo to {', '.join(not_undone)}{why}; "
                     "they are unchanged and still undoable")
    if not parts:
        parts.append("nothing was left to undo")
    return f"little-coder: undo of {title}: {'; '.join(parts)}."
