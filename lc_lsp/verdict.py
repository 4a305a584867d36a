"""One truth about a review: what became of every hunk, said once, in sentences the user reads and
the model reads back verbatim when the user asks for a revision.

A session's hunks end in exactly one of these: applied as proposed, applied with the user's edits,
rejected, left undecided (a review closed without applying), not applied by the editor (failed), or,
for a conflict with the user's own text, resolved as the user's version, the agent's, or both.
`summary` is the message the editor shows; `feedback` is what revise sends the model: the same
summary, quoted, then the diffs the model needs and what to do about each group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lc_lsp.review import Hunk, Proposal
from lc_lsp.review_wire import both_text


@dataclass
class Verdict:
    """What became of a session's hunks (ids), as the review and the editor left them."""

    accepted: set[str] = field(default_factory=set)  # applied as proposed (a conflict: the agent's version)
    edited: dict[str, str] = field(default_factory=dict)  # applied with the user's text for it
    rejected: set[str] = field(default_factory=set)
    undecided: set[str] = field(default_factory=set)  # neither applied nor rejected
    failed: set[str] = field(default_factory=set)  # the editor did not apply it
    mine: set[str] = field(default_factory=set)  # conflict: the user's version stays
    both: set[str] = field(default_factory=set)  # conflict: the user's lines, then the agent's
    discarded: bool = False  # the user discarded the whole proposal
    closed: bool = False  # the review was closed without applying
    closed_note: str = ""  # what the user can do with a closed review, when not "reopen it"
    failure: str = ""  # why the editor did not apply (its words)
    broken: list[str] = field(default_factory=list)  # applied hunks that need one left out (lc_lsp.hunk_links)

    def applied(self) -> set[str]:
        return self.accepted | set(self.edited) | self.both


def _labels(hunks: Sequence[Hunk], ids: set[str] | dict[str, str]) -> str:
    return "; ".join(h.label for h in hunks if h.id in ids)


def summary(proposals: Sequence[Proposal], verdict: Verdict) -> str:
    """The review's outcome for the user, in sentences that are also quoted to the model."""
    hunks = [h for p in proposals for h in p.hunks]
    conflicts = [c for p in proposals for c in p.conflicts]
    everything = [*hunks, *conflicts]
    total = len(everything)
    applied = verdict.applied()
    parts: list[str] = []
    one = total == 1
    if verdict.discarded:
        parts.append("You discarded the change; it was not applied." if one
                     else f"You discarded all {total} changes; none was applied.")
    elif verdict.closed and not applied:
        parts.append(
            ("The review was closed: the change was not applied, nor rejected. " if one else
             f"The review was closed: none of the {total} changes was applied, and none was rejected. ")
            + (verdict.closed_note or f"{'It is' if one else 'They are'} kept: reopen the review, or ask "
               "little-coder to revise.")
        )
    elif applied and len(applied) == total and not verdict.edited:
        parts.append("Applied the change." if one else f"Applied all {total} changes.")
    elif applied:
        parts.append(f"Applied {len(applied)} of {total} changes.")
    elif not verdict.failed:
        parts.append("The change was not applied." if one else f"None of the {total} changes was applied.")
    if not verdict.discarded:
        if verdict.edited:
            parts.append(f"Applied with your edits: {_labels(everything, verdict.edited)}.")
        if verdict.rejected:
            parts.append(f"Rejected: {_labels(everything, verdict.rejected)}.")
        if verdict.undecided and not verdict.closed:
            parts.append(f"Not applied, not rejected: {_labels(everything, verdict.undecided)}.")
        if verdict.mine:
            parts.append(f"Your version kept where you and the agent changed the same lines: "
                         f"{_labels(conflicts, verdict.mine)}.")
        if conflicts and (took := {c.id for c in conflicts} & verdict.accepted):
            parts.append(f"The agent's version taken over yours: {_labels(conflicts, took)}.")
        if verdict.both:
            parts.append(f"Both versions kept, yours first: {_labels(conflicts, verdict.both)}.")
        if verdict.failed:
            why = f" ({verdict.failure})" if verdict.failure else ""
            parts.append(f"The editor did not apply{why}: {_labels(everything, verdict.failed)}. "
                         "They are kept: ask little-coder to revise to redo them on the current files.")
        parts += [f"Beware: {sentence}." for sentence in verdict.broken]
    return " ".join(parts)


def _diff(old: Sequence[str], new: Sequence[str]) -> str:
    lines = ["-" + line.rstrip("\r\n") for line in old] + ["+" + line.rstrip("\r\n") for line in new]
    return "```diff\n" + "\n".join(lines) + "\n```"


def _section(title: str, hunks: Sequence[Hunk], new_text: dict[str, str] | None = None) -> str:
    parts = [title]
    for hunk in hunks:
        new = (new_text[hunk.id].splitlines(keepends=True) if new_text and hunk.id in new_text
               else list(hunk.new_lines))
        parts.append(f"{hunk.id} ({hunk.label}):\n{_diff(hunk.old_lines, new)}")
    return "\n\n".join(parts)


def feedback(
    proposals: Sequence[Proposal], verdict: Verdict, comment: str | None, notes: Sequence[str] = ()
) -> str:
    """The revise message: what the user was told, verbatim, and per group the diffs and what to do."""
    everything = [h for p in proposals for h in [*p.hunks, *p.conflicts]]

    def picked(ids: set[str] | dict[str, str]) -> list[Hunk]:
        return [h for h in everything if h.id in ids]

    parts = [f"The user reviewed your changes and was told: \u201c{summary(proposals, verdict)}\u201d"]
    if verdict.discarded:
        parts.append(_section("They discarded all of it; the files keep their text. What you proposed:",
                              everything))
    else:
        groups = (
            ("Rejected: the files keep their text there. Do not make these changes again as they were:",
             picked(verdict.rejected), None),
            ("Applied with the user's own edits; the diff shows the text now in the file. Build on it, do not "
             "undo it:", picked(verdict.edited), verdict.edited),
            ("The user kept their own version of these lines, which they changed while you worked; yours is "
             "not applied. Do not overwrite their text:", picked(verdict.mine), None),
            ("The user kept both versions (theirs, then yours) at:", picked(verdict.both), None),
            ("Neither applied nor rejected: the review was closed before applying. They are not in the "
             "files; keep what is right in them:", picked(verdict.undecided), None),
            ("The editor did not apply these; the files keep their old text there. Redo them on the current "
             "files:", picked(verdict.failed), None),
        )
        parts += [_section(title, hunks, texts) for title, hunks, texts in groups if hunks]
    parts += [f"The user was told since: \u201c{note}\u201d" for note in notes]
    if comment and comment.strip():
        parts.append(f"The user's comment: {comment.strip()}")
    else:
        parts.append("The user left no comment.")
    parts.append("Read the files again before changing them.")
    return "\n\n".join(parts)


def record_choices(
    verdict: Verdict, proposals: Sequence[Proposal], choices: dict[str, str], texts: dict[str, str],
    landed: set[str],
) -> None:
    """Book what the user chose in a review, and what of it the editor applied (`landed`), per hunk.
    A conflict without "agent" or "both" keeps the user's version (a change accepted before the user
    typed over its lines included); a change without a decision is undecided."""
    for proposal in proposals:
        for hunk in proposal.hunks:
            choice = choices.get(hunk.id)
            if choice == "accept":
                _book_applied(verdict, hunk, texts.get(hunk.id), "".join(hunk.new_lines), landed, verdict.accepted)
            elif choice == "reject":
                verdict.rejected.add(hunk.id)
            else:
                verdict.undecided.add(hunk.id)
        for conflict in proposal.conflicts:
            choice = choices.get(conflict.id)
            if choice == "agent":
                _book_applied(verdict, conflict, texts.get(conflict.id), "".join(conflict.new_lines), landed,
                              verdict.accepted)
            elif choice == "both":
                _book_applied(verdict, conflict, texts.get(conflict.id), both_text(conflict), landed, verdict.both)
            else:
                verdict.mine.add(conflict.id)


def _book_applied(verdict: Verdict, hunk: Hunk, text: str | None, proposed: str, landed: set[str],
                  as_proposed: set[str]) -> None:
    if hunk.id not in landed:
        verdict.failed.add(hunk.id)
    elif text is not None and text != proposed:
        verdict.edited[hunk.id] = text
    else:
        as_proposed.add(hunk.id)
