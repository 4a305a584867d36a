"""Line diffs that stay fast on big files: what review and the three-way merge compare texts with.

`difflib.SequenceMatcher(autojunk=False)` is quadratic in the lines that repeat (blank lines, lone
braces): a one-line change in a 30,000-line file took it 20 s, and the review ran it on the event
loop, so the editor's every request waited. Small inputs still go to SequenceMatcher unchanged. Big
ones are split first, the way patience diff does: the common head and tail match as they are, lines
that occur exactly once on each side anchor the rest (the longest run of them in the same order), and
only the stretches between anchors — small, for a real edit — go to SequenceMatcher. A stretch that is
still too big and has no anchor becomes one replacement: a coarser diff, never a wrong one.
"""

from __future__ import annotations

import bisect
import difflib
from collections import Counter
from collections.abc import Sequence

# Inputs up to this many lines on each side go to SequenceMatcher as a whole (well under 0.1 s).
DIRECT_LINES = 2000

Opcode = tuple[str, int, int, int, int]
Block = tuple[int, int, int]  # a[i:i+size] == b[j:j+size]


def matching_blocks(a: Sequence[str], b: Sequence[str]) -> list[Block]:
    """Like `SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()`: ascending, ending with
    the dummy block (len(a), len(b), 0)."""
    if len(a) <= DIRECT_LINES and len(b) <= DIRECT_LINES:
        return [(m.a, m.b, m.size) for m in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()]
    found: list[Block] = []
    pending = [(0, len(a), 0, len(b))]
    while pending:
        alo, ahi, blo, bhi = pending.pop()
        found += _match_range(a, alo, ahi, b, blo, bhi, pending)
    return [*_merged(sorted(found)), (len(a), len(b), 0)]


def opcodes(a: Sequence[str], b: Sequence[str]) -> list[Opcode]:
    """Like `SequenceMatcher(None, a, b, autojunk=False).get_opcodes()`."""
    ops: list[Opcode] = []
    i = j = 0
    for ai, bj, size in matching_blocks(a, b):
        if i < ai and j < bj:
            ops.append(("replace", i, ai, j, bj))
        elif i < ai:
            ops.append(("delete", i, ai, j, bj))
        elif j < bj:
            ops.append(("insert", i, ai, j, bj))
        if size:
            ops.append(("equal", ai, ai + size, bj, bj + size))
        i, j = ai + size, bj + size
    return ops


def _match_range(
    a: Sequence[str], alo: int, ahi: int, b: Sequence[str], blo: int, bhi: int,
    pending: list[tuple[int, int, int, int]],
) -> list[Block]:
    """Blocks matched in a[alo:ahi] vs b[blo:bhi]; stretches left to match go onto `pending`."""
    blocks: list[Block] = []
    head = _common_run(a, alo, b, blo, min(ahi - alo, bhi - blo), 1)
    if head:
        blocks.append((alo, blo, head))
        alo, blo = alo + head, blo + head
    tail = _common_run(a, ahi - 1, b, bhi - 1, min(ahi - alo, bhi - blo), -1)
    if tail:
        blocks.append((ahi - tail, bhi - tail, tail))
        ahi, bhi = ahi - tail, bhi - tail
    if alo == ahi or blo == bhi:
        return blocks
    if ahi - alo <= DIRECT_LINES and bhi - blo <= DIRECT_LINES:
        matcher = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
        blocks += [(alo + i, blo + j, size) for i, j, size in matcher.get_matching_blocks() if size]
        return blocks
    anchors = _anchors(a, alo, ahi, b, blo, bhi)
    if not anchors:
        return blocks  # nothing to hold on to: the stretch is one replacement
    previous_a, previous_b = alo, blo
    for i, j in anchors:
        blocks.append((i, j, 1))
        pending.append((previous_a, i, previous_b, j))
        previous_a, previous_b = i + 1, j + 1
    pending.append((previous_a, ahi, previous_b, bhi))
    return blocks


_RUN_CHUNK = 256


def _common_run(a: Sequence[str], i: int, b: Sequence[str], j: int, limit: int, step: int) -> int:
    """How many lines match from a[i] and b[j] on, walking by `step` (1 or -1), at most `limit`.
    Whole chunks are compared as slices (in C); only the chunk holding the first difference is walked."""
    run = 0
    while run < limit:
        size = min(_RUN_CHUNK, limit - run)
        if step > 0:
            same = a[i + run : i + run + size] == b[j + run : j + run + size]
        else:
            same = a[i - run - size + 1 : i - run + 1] == b[j - run - size + 1 : j - run + 1]
        if not same:
            break
        run += size
    while run < limit and a[i + step * run] == b[j + step * run]:
        run += 1
    return run


def _anchors(a: Sequence[str], alo: int, ahi: int, b: Sequence[str], blo: int, bhi: int) -> list[tuple[int, int]]:
    """Pairs (i, j) of lines unique on both sides, the longest chain increasing in both i and j."""
    counts_a = Counter(a[alo:ahi])
    counts_b = Counter(b[blo:bhi])
    where_b = {b[j]: j for j in range(blo, bhi) if counts_b[b[j]] == 1}
    pairs = [(i, where_b[a[i]]) for i in range(alo, ahi) if counts_a[a[i]] == 1 and a[i] in where_b]
    return _longest_increasing(pairs)


def _longest_increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest subsequence of `pairs` (ascending in i) that also ascends in j (patience sorting)."""
    tails: list[int] = []  # tails[k]: smallest j ending an increasing run of length k + 1
    ends: list[int] = []  # index into pairs of that run's last pair
    back: list[int] = []  # index of the previous pair in the run ending at each pair
    for index, (_, j) in enumerate(pairs):
        k = bisect.bisect_left(tails, j)
        if k == len(tails):
            tails.append(j)
            ends.append(index)
        else:
            tails[k] = j
            ends[k] = index
        back.append(ends[k - 1] if k else -1)
    chain: list[tuple[int, int]] = []
    at = ends[-1] if ends else -1
    while at >= 0:
        chain.append(pairs[at])
        at = back[at]
    chain.reverse()
    return chain


def _merged(blocks: list[Block]) -> list[Block]:
    """Adjacent blocks joined, as SequenceMatcher reports them."""
    out: list[Block] = []
    for i, j, size in blocks:
        if out and out[-1][0] + out[-1][2] == i and out[-1][1] + out[-1][2] == j:
            out[-1] = (out[-1][0], out[-1][1], out[-1][2] + size)
        else:
            out.append((i, j, size))
    return out
