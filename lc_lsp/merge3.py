"""Three-way, line-based merge: rebase the agent's proposal onto what the user has now.

`base` is the text the agent first read, `ours` the agent's proposal, `theirs` the user's current
buffer. Each side's changes against `base` are found with a line diff (lc_lsp.linediff). Changes that
touch different base lines combine; the same change made on both sides is taken once; different changes
to the same base lines are a conflict. In a conflict the user always wins: the merged text keeps their
version of the region and the conflict records the agent's version, to be reported and left out. The
user's lines are therefore never lost.

Lines keep their terminators ("\\n", "\\r\\n", "\\r"), so line endings survive the merge untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

from lc_lsp.linediff import opcodes
from lc_lsp.ranges import split_lines


@dataclass(frozen=True)
class Conflict:
    """Base lines [base_start, base_end) that both sides changed differently.

    `theirs_start` is the line index in `theirs` where the user's version of the region begins."""

    base_start: int
    base_end: int
    base_lines: tuple[str, ...]
    ours_lines: tuple[str, ...]
    theirs_lines: tuple[str, ...]
    theirs_start: int


@dataclass(frozen=True)
class MergeResult:
    text: str
    conflicts: list[Conflict]


@dataclass(frozen=True)
class _Change:
    """Base lines [start, end) replaced by `lines` on one side."""

    start: int
    end: int
    lines: tuple[str, ...]
    theirs: bool


def _changes(base: list[str], other: list[str], *, theirs: bool) -> list[_Change]:
    return [
        _Change(i1, i2, tuple(other[j1:j2]), theirs) for tag, i1, i2, j1, j2 in opcodes(base, other) if tag != "equal"
    ]


def _collide(first: _Change, second: _Change) -> bool:
    """Whether two changes from different sides (first sorted before second) must be decided together."""
    if first.start < second.end and second.start < first.end:
        return True  # they rewrite a common base line
    # Two insertions at one spot: no order between them is right.
    return first.start == first.end == second.start == second.end


def _glued(line: str, following: str) -> bool:
    """Whether `following` placed after `line` would not start a line of its own: `line` has no
    terminator, or ends with a lone "\\r" that a leading "\\n" would turn into "\\r\\n"."""
    return not line.endswith(("\n", "\r")) or (line.endswith("\r") and following.startswith("\n"))


def _apply(base: list[str], start: int, end: int, changes: list[_Change]) -> tuple[str, ...]:
    """One side's version of base[start:end], given that side's changes inside the span."""
    out: list[str] = []
    at = start
    for change in changes:
        out.extend(base[at : change.start])
        out.extend(change.lines)
        at = change.end
    out.extend(base[at:end])
    return tuple(out)


def _assemble(base: list[str], clusters: list[list[_Change]]) -> tuple[list[str], list[int | None], list[Conflict]]:
    """Merged lines, the cluster each merged line came from (None: unchanged base), and conflicts."""
    merged: list[str] = []
    owners: list[int | None] = []
    conflicts: list[Conflict] = []
    at = 0
    theirs_at = 0  # line index in `theirs` that corresponds to base line `at`
    for number, cluster in enumerate(clusters):
        start = min(c.start for c in cluster)
        end = max(c.end for c in cluster)
        merged.extend(base[at:start])
        owners.extend([None] * (start - at))
        theirs_at += start - at
        mine = [c for c in cluster if not c.theirs]
        yours = [c for c in cluster if c.theirs]
        ours_version = _apply(base, start, end, mine)
        theirs_version = _apply(base, start, end, yours)
        if mine and yours and ours_version != theirs_version:
            conflicts.append(Conflict(start, end, tuple(base[start:end]), ours_version, theirs_version, theirs_at))
        chosen = theirs_version if yours else ours_version
        merged.extend(chosen)
        owners.extend([number] * len(chosen))
        theirs_at += len(theirs_version)
        at = end
    merged.extend(base[at:])
    owners.extend([None] * (len(base) - at))
    return merged, owners, conflicts


def _nearest_owner(owners: list[int | None], start: int, step: int) -> int | None:
    at = start
    while 0 <= at < len(owners):
        if owners[at] is not None:
            return owners[at]
        at += step
    return None


def _first_seam(merged: list[str], owners: list[int | None], cluster_count: int) -> tuple[int, int] | None:
    """The clusters to fuse at the first place where two merged lines would run together, if any.

    Each side's own text splits cleanly, so a seam only opens between pieces from different clusters;
    fusing them decides the region as one (a conflict unless both sides agree)."""
    for i in range(len(merged) - 1):
        line = merged[i]
        if line.endswith("\n"):
            continue  # never glued; the common case, checked first because this runs over every line
        if _glued(line, merged[i + 1]):
            left = _nearest_owner(owners, i, -1)
            right = _nearest_owner(owners, i + 1, 1)
            first = 0 if left is None else left
            last = cluster_count - 1 if right is None else right
            return first, max(last, first + 1)
    return None


def merge3(base: str, ours: str, theirs: str) -> MergeResult:
    base_lines = split_lines(base)
    changes = sorted(
        _changes(base_lines, split_lines(ours), theirs=False) + _changes(base_lines, split_lines(theirs), theirs=True),
        key=lambda c: (c.start, c.end, c.theirs),
    )

    # Group changes that collide, directly or through a chain, into clusters.
    clusters: list[list[_Change]] = []
    for change in changes:
        if clusters and any(member.theirs != change.theirs and _collide(member, change) for member in clusters[-1]):
            clusters[-1].append(change)
        else:
            clusters.append([change])

    while True:
        merged, owners, conflicts = _assemble(base_lines, clusters)
        seam = _first_seam(merged, owners, len(clusters))
        if seam is None or seam[1] >= len(clusters):
            return MergeResult("".join(merged), conflicts)
        first, last = seam
        clusters[first : last + 1] = [[c for cluster in clusters[first : last + 1] for c in cluster]]
