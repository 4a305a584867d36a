"""Review: turn a session's ChangeSet into one `workspace/applyEdit` the user reviews hunk by hunk.

The flow, per file:

1. `propose` rebases the agent's change onto what the user holds now (they may have kept typing while
   the agent worked) with a three-way merge; agent changes to lines the user also changed are left out
   and reported as conflicts. What remains is split into hunks relative to the current text.
2. `build_edit` makes one `WorkspaceEdit` for all files: `documentChanges` with the buffer version,
   `CreateFile` for new files and one change annotation per hunk with `needsConfirmation`, so VS Code's
   refactor preview offers a checkbox per hunk. Clients without `documentChanges` get the plain
   `changes` map; new files cannot be created that way (`uncreatable` lists them for a fallback).
   Right before the edit is sent, `rebase` moves a proposal onto the document's newest text (a file
   that changed on disk has no version to protect it), so no range is stale.
3. After the client answered, `accepted_hunks` reads which hunks made it into the document from the
   document's text alone, which works for every client and for partly applied edits; `applied_text`
   is exactly what those hunks wrote (what undo later reverts, lc_lsp.undo).
4. `unified_diff` renders the proposal as a patch; lc_lsp.verdict says what became of it.

Spec: https://microsoft.github.io/language-server-protocol/specifications/lsp/3.17/specification/#workspace_applyEdit
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from lsprotocol import types

from agent.workspace import FileChange
from lc_lsp.linediff import matching_blocks, opcodes
from lc_lsp.merge3 import merge3
from lc_lsp.ranges import LineIndex, normalize_encoding, split_lines

_CONTEXT = 3  # context lines around each hunk in unified diffs, as `diff -u` does


# Why a change is a conflict, in the words both the user and the model read.
EDITED_MEANWHILE = "you edited these lines while the agent worked"
EDITED_IN_REVIEW = "you edited these lines during the review"
TYPED_DURING = "it replaces lines you typed during the session"
DELETED_MEANWHILE = "the file was deleted since the agent read it"


@dataclass(frozen=True)
class Hunk:
    """One reviewable change: current lines [start_line, start_line + len(old_lines)) become new_lines.

    Lines keep their terminators and are relative to the proposal's current text. For a conflict,
    old_lines are the user's version and `reason` says why the two collide."""

    id: str
    path: str
    label: str
    start_line: int
    old_lines: tuple[str, ...]
    new_lines: tuple[str, ...]
    reason: str = ""

    @property
    def end_line(self) -> int:
        return self.start_line + len(self.old_lines)


@dataclass
class Proposal:
    path: str
    uri: str
    current_text: str  # what the user's buffer or file holds now ("" when the file does not exist)
    proposed_text: str  # the agent's change rebased onto current_text
    hunks: list[Hunk]
    conflicts: list[Hunk]  # agent changes left out because the user changed the same lines
    created: bool  # the edit must create the file
    version: int | None  # buffer version the edit is against; None when the file is not open
    origin: str | None = None  # the file as the session found it, to tell the user's typing from the agent's


@dataclass(frozen=True)
class ClientEditCaps:
    document_changes: bool
    change_annotations: bool
    create_files: bool
    encoding: str

    @classmethod
    def from_client(cls, capabilities: types.ClientCapabilities, encoding: str) -> ClientEditCaps:
        """Read what a client's `workspace/applyEdit` supports from its initialize capabilities."""
        edit = capabilities.workspace.workspace_edit if capabilities.workspace else None
        if edit is None:
            return cls(False, False, False, encoding)
        return cls(
            document_changes=bool(edit.document_changes),
            change_annotations=edit.change_annotation_support is not None,
            create_files=types.ResourceOperationKind.Create in (edit.resource_operations or ()),
            encoding=encoding,
        )


def where(start_line: int, old_count: int) -> str:
    """Plain words for lines [start_line, start_line + old_count) of a text (0-based in, 1-based out)."""
    if old_count == 0:
        return f"after line {start_line}" if start_line else "at the top"
    if old_count == 1:
        return f"line {start_line + 1}"
    return f"lines {start_line + 1}–{start_line + old_count}"


def _hunk(path: str, number: int, start: int, old: Sequence[str], new: Sequence[str], reason: str = "") -> Hunk:
    label = f"{path}: {where(start, len(old))} (+{len(new)} −{len(old)})"
    return Hunk(f"{path}#{number}", path, label, start, tuple(old), tuple(new), reason)


def _diff_hunks(path: str, current: list[str], proposed: list[str]) -> list[Hunk]:
    changed = [op for op in opcodes(current, proposed) if op[0] != "equal"]
    return [_hunk(path, n + 1, i1, current[i1:i2], proposed[j1:j2]) for n, (_, i1, i2, j1, j2) in enumerate(changed)]


def _typed_spans(origin: str, current: list[str]) -> list[tuple[int, int]]:
    """Lines [start, end) of the current text that the user wrote since the session began."""
    return [(j1, j2) for tag, _, _, j1, j2 in opcodes(split_lines(origin), current) if tag != "equal" and j2 > j1]


def _replaces_typed(hunk: Hunk, spans: Sequence[tuple[int, int]]) -> bool:
    """Whether the hunk removes or rewrites a line the user typed (inserting beside them removes nothing;
    inserting inside their block splits it, which counts)."""
    if not hunk.old_lines:
        return any(start < hunk.start_line < end for start, end in spans)
    return any(start < hunk.end_line and hunk.start_line < end for start, end in spans)


def propose(
    change: FileChange, current_text: str | None, uri: str, version: int | None, origin: str | None = None
) -> Proposal:
    """Rebase one file's change onto the current text and split it into hunks.

    `current_text` None means nothing is at the path now. For a file the agent created that is the
    normal case; for a file the agent edited it means the user deleted it meanwhile, and the whole
    change becomes one conflict. `origin` is the file as the session found it: a hunk that would
    delete or rewrite lines the user typed since then is a conflict too, even when the agent had read
    those lines (an editor that saves as you type shows them to the agent as if they were the file's)."""
    path = change.path
    if current_text is None:
        lines = tuple(split_lines(change.proposed))
        if change.created:
            hunk = Hunk(f"{path}#1", path, f"{path}: new file (+{len(lines)})", 0, (), lines)
            return Proposal(path, uri, "", change.proposed, [hunk], [], True, version, origin)
        gone = Hunk(f"{path}#1", path, f"{path}: deleted since the agent read it (+{len(lines)})", 0, (), lines,
                    DELETED_MEANWHILE)
        return Proposal(path, uri, "", "", [], [gone], False, version, origin)

    # A file the agent created that exists now is merged against an empty base: unless both texts
    # are equal, the user's content wins and the agent's becomes a conflict.
    merged = merge3(change.base or "", change.proposed, current_text)
    current_lines = split_lines(current_text)
    hunks = _diff_hunks(path, current_lines, split_lines(merged.text))
    typed: list[Hunk] = []
    if origin is not None and origin != current_text:
        spans = _typed_spans(origin, current_lines)
        typed = [replace(h, reason=TYPED_DURING) for h in hunks if _replaces_typed(h, spans)]
        hunks = [h for h in hunks if not _replaces_typed(h, spans)]
    conflicts = typed + [
        _hunk(path, 0, c.theirs_start, c.theirs_lines, c.ours_lines, EDITED_MEANWHILE) for c in merged.conflicts
    ]
    conflicts.sort(key=lambda h: h.start_line)
    # Numbered in file order, hunks first: a conflict's number follows every hunk's.
    ordered = [*hunks, *conflicts]
    numbered = [replace(h, id=f"{path}#{n + 1}") for n, h in enumerate(ordered)]
    proposal = Proposal(path, uri, current_text, merged.text, numbered[: len(hunks)], numbered[len(hunks):], False,
                        version, origin)
    if typed:  # what is proposed leaves out the conflicts, as a merge conflict is left out
        proposal.proposed_text = applied_text(proposal, {h.id for h in proposal.hunks})
    return proposal


def numbered_after(proposal: Proposal, taken: Sequence[Proposal]) -> Proposal:
    """`proposal` with its hunks numbered after those of earlier proposals for the same file (review
    `each` proposes a file once per change), so that every hunk id of a session is its own."""
    numbers = [_number(h.id) for p in taken if p.path == proposal.path for h in [*p.hunks, *p.conflicts]]
    shift = max(numbers, default=0)
    if not shift:
        return proposal
    return replace(
        proposal,
        hunks=[replace(h, id=f"{proposal.path}#{_number(h.id) + shift}") for h in proposal.hunks],
        conflicts=[replace(c, id=f"{proposal.path}#{_number(c.id) + shift}") for c in proposal.conflicts],
    )


def _number(hunk_id: str) -> int:
    tail = hunk_id.rpartition("#")[2]
    return int(tail) if tail.isdigit() else 0


def _keep_ids(previous: Proposal, fresh: Proposal) -> Proposal:
    """`fresh` (a rebase of `previous`) with every hunk that is still the same change, or that became a
    conflict over the same agent lines, under its old id; new hunks get numbers after every old one, so
    a client keeps the user's decisions by id."""
    old = [*previous.hunks, *previous.conflicts]
    unused = list(old)
    next_number = max((_number(h.id) for h in old), default=0) + 1

    def same(hunk: Hunk) -> Hunk | None:
        # The same change first; else one over the same agent lines (it became a conflict, or the user
        # typed inside the lines it replaces).
        found = next((h for h in unused if (h.old_lines, h.new_lines) == (hunk.old_lines, hunk.new_lines)), None)
        if found is None and hunk.new_lines:
            found = next((h for h in unused if h.new_lines == hunk.new_lines), None)
        if found is not None:
            unused.remove(found)
        return found

    def renamed(hunks: list[Hunk]) -> list[Hunk]:
        nonlocal next_number
        out: list[Hunk] = []
        for hunk in hunks:
            match = same(hunk)
            if match is None:
                out.append(replace(hunk, id=f"{fresh.path}#{next_number}"))
                next_number += 1
            else:
                out.append(replace(hunk, id=match.id))
        return out

    hunks = renamed(fresh.hunks)
    return replace(fresh, hunks=hunks, conflicts=renamed(fresh.conflicts))


def rebase(proposal: Proposal, current_text: str | None, version: int | None,
           reason: str = EDITED_MEANWHILE) -> Proposal:
    """`proposal` moved onto what the document holds now, if that changed since it was made (an unopened
    file edited on disk meanwhile, a buffer typed in): its ranges would be stale. Hunks that now collide
    with the document's new text become conflicts, keeping their ids; the earlier conflicts stay."""
    before = None if proposal.created else proposal.current_text
    if current_text == before and (proposal.created or version == proposal.version):
        return proposal
    fresh = propose(FileChange(proposal.path, before, proposal.proposed_text), current_text, proposal.uri, version,
                    proposal.origin)
    if reason != EDITED_MEANWHILE:  # the user's edit that made these conflicts happened at another moment
        fresh.conflicts = [replace(c, reason=reason) if c.reason == EDITED_MEANWHILE else c for c in fresh.conflicts]
    # The earlier conflicts were never part of proposed_text: carry them over to where the user's lines
    # they are about are now, or, when the user rewrote those lines again, to what stands there now.
    lines = split_lines(current_text or "")
    previous = split_lines(proposal.current_text)
    taken = [(h.start_line, h.end_line) for h in [*fresh.hunks, *fresh.conflicts]]
    carried: list[Hunk] = []
    for conflict in proposal.conflicts:
        if any(c.new_lines == conflict.new_lines for c in fresh.conflicts):
            continue
        moved_conflict = _relocate(conflict, previous, lines, current_text is None)
        if moved_conflict is not None and not any(
            start < moved_conflict.end_line and moved_conflict.start_line < end for start, end in taken
        ):
            carried.append(moved_conflict)
    moved = replace(fresh, conflicts=sorted([*fresh.conflicts, *carried], key=lambda h: h.start_line))
    return _keep_ids(proposal, moved)


def _relocate(conflict: Hunk, previous: list[str], lines: list[str], gone: bool) -> Hunk | None:
    """A conflict moved onto the new text `lines` (the old one was `previous`): to the occurrence of its
    user lines nearest its old place, else, when the user rewrote them, over what now stands between the
    unchanged lines around it (the agent's version is never dropped). A conflict over a deleted file
    stays while the file is gone; one over a file that is gone now has nothing left to stand on."""
    if gone:
        return conflict if conflict.reason == DELETED_MEANWHILE else None
    old = list(conflict.old_lines)
    if not old:
        return replace(conflict, start_line=min(conflict.start_line, len(lines)))
    starts = [i for i in range(len(lines) - len(old) + 1) if lines[i : i + len(old)] == old]
    if starts:
        start = min(starts, key=lambda i: abs(i - conflict.start_line))
        end = start + len(old)
    else:
        mapped = {a + d: b + d for a, b, size in matching_blocks(previous, lines) for d in range(size)}
        before = next((mapped[i] for i in range(conflict.start_line - 1, -1, -1) if i in mapped), -1)
        end = next((mapped[i] for i in range(conflict.end_line, len(previous)) if i in mapped), len(lines))
        start = before + 1
    mine = tuple(lines[start:end])
    label = f"{conflict.path}: {where(start, len(mine))} (+{len(conflict.new_lines)} −{len(mine)})"
    return replace(conflict, start_line=start, old_lines=mine, label=label)


def applied_text(proposal: Proposal, hunk_ids: set[str]) -> str:
    """The proposal's current text with exactly the hunks `hunk_ids` applied: what the edit wrote, as
    opposed to whatever the user typed into the document right after."""
    if proposal.created:
        return proposal.proposed_text if hunk_ids else ""
    lines = split_lines(proposal.current_text)
    for hunk in sorted(proposal.hunks, key=lambda h: h.start_line, reverse=True):
        if hunk.id in hunk_ids:
            lines[hunk.start_line : hunk.start_line + len(hunk.old_lines)] = hunk.new_lines
    return "".join(lines)


def _span(index: LineIndex, hunk: Hunk) -> tuple[int, int]:
    """String offsets in the current text that a hunk replaces."""
    start = index.line_start(hunk.start_line)
    return start, start + sum(len(line) for line in hunk.old_lines)


def uncreatable(proposals: Sequence[Proposal], caps: ClientEditCaps) -> list[Proposal]:
    """New files the client's applyEdit cannot create; `build_edit` leaves them out."""
    if caps.document_changes and caps.create_files:
        return []
    return [p for p in proposals if p.created]


def build_edit(
    proposals: Sequence[Proposal], caps: ClientEditCaps, *, session_label: str,
    notes: Mapping[str, str] | None = None,
) -> tuple[types.WorkspaceEdit, dict[str, str]]:
    """One WorkspaceEdit for every proposal, and the map annotation id → hunk id.

    All ranges refer to the current text, in the client's position encoding; the edits of one document
    never overlap. Files in `uncreatable(proposals, caps)` are not part of the edit. `notes` adds a
    hunk's note to its annotation's description (what needs it)."""
    encoding = normalize_encoding(caps.encoding)
    annotate = caps.document_changes and caps.change_annotations
    skipped = {p.path for p in uncreatable(proposals, caps)}
    annotations: dict[str, types.ChangeAnnotation] = {}
    hunk_of: dict[str, str] = {}

    def annotation_for(hunk: Hunk) -> str | None:
        if not annotate:
            return None
        annotation_id = f"lc-hunk-{len(annotations) + 1}"
        note = (notes or {}).get(hunk.id)
        annotations[annotation_id] = types.ChangeAnnotation(
            label=hunk.label, needs_confirmation=True,
            description=f"{session_label} · {note}" if note else session_label,
        )
        hunk_of[annotation_id] = hunk.id
        return annotation_id

    document_changes: list[types.TextDocumentEdit | types.CreateFile] = []
    changes: dict[str, list[types.TextEdit]] = {}
    for proposal in proposals:
        if not proposal.hunks or proposal.path in skipped:
            continue
        index = LineIndex(proposal.current_text)
        hunks = sorted(proposal.hunks, key=lambda h: h.start_line)
        spans = [(index.range_of(*_span(index, h), encoding), "".join(h.new_lines)) for h in hunks]
        if not caps.document_changes:
            changes[proposal.uri] = [types.TextEdit(range=r, new_text=text) for r, text in spans]
            continue
        ids = [annotation_for(hunk) for hunk in hunks]
        edits: list[types.TextEdit | types.AnnotatedTextEdit | types.SnippetTextEdit] = [
            types.TextEdit(range=r, new_text=text)
            if annotation_id is None
            else types.AnnotatedTextEdit(range=r, new_text=text, annotation_id=annotation_id)
            for (r, text), annotation_id in zip(spans, ids, strict=True)
        ]
        if proposal.created:
            document_changes.append(
                types.CreateFile(
                    uri=proposal.uri,
                    options=types.CreateFileOptions(overwrite=False, ignore_if_exists=False),
                    annotation_id=ids[0],
                )
            )
            if not proposal.proposed_text:
                continue  # an empty new file needs no text edit
        document_changes.append(
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=proposal.uri, version=None if proposal.created else proposal.version
                ),
                edits=edits,
            )
        )

    if caps.document_changes:
        edit = types.WorkspaceEdit(document_changes=document_changes, change_annotations=annotations or None)
    else:
        edit = types.WorkspaceEdit(changes=changes)
    return edit, hunk_of


def _eol_blind(line: str) -> str:
    """A line with its terminator unified: clients may normalize line endings while applying."""
    content = line.rstrip("\r\n")
    return content + "\n" if len(content) < len(line) else content


def _parse_subset(
    gaps: list[list[str]], alternatives: list[tuple[list[str], list[str]]], result: list[str]
) -> list[bool] | None:
    """Read `result` as gap0 X1 gap1 … Xk gapk with each Xi either hunk i's old or new lines.

    Returns which hunks took their new lines, or None when the result is not such a text. Every
    reachable line offset is tracked at once, so the search is linear in hunks × result lines."""

    def at(offset: int, lines: list[str]) -> bool:
        return result[offset : offset + len(lines)] == lines

    if not at(0, gaps[0]):
        return None
    frontier: dict[int, tuple[bool, ...]] = {len(gaps[0]): ()}
    for (old, new), gap in zip(alternatives, gaps[1:], strict=True):
        reached: dict[int, tuple[bool, ...]] = {}
        for offset, chosen in frontier.items():
            for accepted, lines in ((True, new), (False, old)):
                end = offset + len(lines)
                if at(offset, lines) and at(end, gap):
                    reached.setdefault(end + len(gap), (*chosen, accepted))
        frontier = reached
    found = frontier.get(len(result))
    return list(found) if found is not None else None


def _contains(region: list[str], lines: list[str]) -> bool:
    return any(region[i : i + len(lines)] == lines for i in range(len(region) - len(lines) + 1))


def _judge_by_anchors(current: list[str], hunks: list[Hunk], result: list[str]) -> list[bool]:
    """For a result the user edited further: find the result lines between the unchanged lines
    around each hunk, and see whether they hold the hunk's new lines or its old ones."""
    mapped: dict[int, int] = {}
    for a, b, size in matching_blocks(current, result):
        for d in range(size):
            mapped[a + d] = b + d
    verdicts: list[bool] = []
    for hunk in hunks:
        end = hunk.start_line + len(hunk.old_lines)
        before = next((mapped[i] for i in range(hunk.start_line - 1, -1, -1) if i in mapped), -1)
        after = next((mapped[i] for i in range(end, len(current)) if i in mapped), len(result))
        region = result[before + 1 : after]
        old = [_eol_blind(line) for line in hunk.old_lines]
        new = [_eol_blind(line) for line in hunk.new_lines]
        # Non-empty lines found verbatim decide; an empty side says nothing by being "found".
        has_old = bool(old) and _contains(region, old)
        has_new = bool(new) and _contains(region, new)
        if has_new != has_old:
            verdicts.append(has_new)
        elif has_new:
            verdicts.append(len(new) > len(old))  # the longer one holds the shorter
        else:
            # Edited beyond both: clearly closer to the new lines than to the old ones?
            text = "".join(region)
            to_new = difflib.SequenceMatcher(None, text, "".join(new)).ratio()
            to_old = difflib.SequenceMatcher(None, text, "".join(old)).ratio()
            verdicts.append(to_new >= 0.5 and to_new > to_old)
    return verdicts


def accepted_hunks(proposal: Proposal, resulting_text: str | None) -> tuple[set[str], set[str]]:
    """Which of the proposal's hunks are in the document after the client applied the edit.

    Returns (accepted ids, rejected ids). `resulting_text` is the document's text now, or None when
    the file does not exist. An exact reading of the text as "current text with some hunks applied"
    is tried first, then the same ignoring line-ending differences, and last a per-hunk look at the
    region between unchanged lines, for a document the user has edited since."""
    hunks = sorted(proposal.hunks, key=lambda h: h.start_line)
    ids = [h.id for h in hunks]
    if resulting_text is None:
        return set(), set(ids)
    if proposal.created and resulting_text == proposal.proposed_text:
        return set(ids), set()  # also covers an empty new file, where text alone tells nothing

    current = split_lines(proposal.current_text)
    result = split_lines(resulting_text)
    gaps: list[list[str]] = []
    at = 0
    for hunk in hunks:
        gaps.append(current[at : hunk.start_line])
        at = hunk.start_line + len(hunk.old_lines)
    gaps.append(current[at:])
    alternatives = [(list(h.old_lines), list(h.new_lines)) for h in hunks]

    verdicts = _parse_subset(gaps, alternatives, result)
    if verdicts is None:
        blind = [[_eol_blind(line) for line in lines] for lines in gaps]
        blind_alternatives = [([_eol_blind(x) for x in old], [_eol_blind(x) for x in new]) for old, new in alternatives]
        verdicts = _parse_subset(blind, blind_alternatives, [_eol_blind(line) for line in result])
    if verdicts is None:
        verdicts = _judge_by_anchors(
            [_eol_blind(line) for line in current], hunks, [_eol_blind(line) for line in result]
        )
    accepted = {hunk_id for hunk_id, ok in zip(ids, verdicts, strict=True) if ok}
    return accepted, set(ids) - accepted


def _range_text(start: int, length: int) -> str:
    """A unified-diff range: 1-based start, with the line before it when the range is empty."""
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _diff_lines(prefix: str, lines: Sequence[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if line.endswith(("\n", "\r")):
            out.append(prefix + line)
        else:
            out.append(prefix + line + "\n")
            out.append("\\ No newline at end of file\n")
    return out


def _file_diff(proposal: Proposal) -> list[str]:
    current = split_lines(proposal.current_text)
    old_name = "/dev/null" if proposal.created else f"a/{proposal.path}"
    out = [f"--- {old_name}\n", f"+++ b/{proposal.path}\n"]
    hunks = sorted(proposal.hunks, key=lambda h: h.start_line)
    # Hunks whose context would touch are shown in one block, so the patch still applies.
    groups: list[list[Hunk]] = []
    for hunk in hunks:
        if groups:
            last = groups[-1][-1]
            if hunk.start_line - (last.start_line + len(last.old_lines)) <= 2 * _CONTEXT:
                groups[-1].append(hunk)
                continue
        groups.append([hunk])
    shift = 0  # new-side line number minus old-side line number before the current group
    for group in groups:
        first, last = group[0], group[-1]
        start = max(0, first.start_line - _CONTEXT)
        stop = min(len(current), last.start_line + len(last.old_lines) + _CONTEXT)
        body: list[str] = []
        at = start
        old_count = new_count = 0
        for hunk in group:
            body += _diff_lines(" ", current[at : hunk.start_line])
            body += _diff_lines("-", hunk.old_lines)
            body += _diff_lines("+", hunk.new_lines)
            old_count += hunk.start_line - at + len(hunk.old_lines)
            new_count += hunk.start_line - at + len(hunk.new_lines)
            at = hunk.start_line + len(hunk.old_lines)
        body += _diff_lines(" ", current[at:stop])
        old_count += stop - at
        new_count += stop - at
        names = " ".join(h.id for h in group)
        out.append(f"@@ -{_range_text(start, old_count)} +{_range_text(start + shift, new_count)} @@ {names}\n")
        out += body
        shift += new_count - old_count
    return out


def unified_diff(proposals: Sequence[Proposal]) -> str:
    """A readable, applicable patch of every hunk, for clients that review through a diff document.

    Changes left out as conflicts are listed in a preamble, which patch tools skip."""
    out: list[str] = []
    conflicts = [c for p in proposals for c in p.conflicts]
    if conflicts:
        out.append("Left out because these lines were edited while the agent worked:\n")
        out += [f"  {c.id}  {c.label}\n" for c in conflicts]
        out.append("\n")
    for proposal in proposals:
        if proposal.hunks:
            out += _file_diff(proposal)
    return "".join(out)
