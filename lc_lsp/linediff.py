"""Line diffs that stay fast on big files: what review and the three-way merge compare texts with.

`difflib.SequenceMatcher(autojunk=False)` is quadratic, and worse in the lines that repeat (blank
lines, lone braces): 20 files of 2,000 lines with 100 changed lines each took it 3.8 s. Here:

- the common head and tail of a stretch match as they are (compared a chunk at a time, in C);
- a stretch too big for a direct diff is split where lines occur exactly once on each side (the
  longest run of them in the same order, as patience diff does);
- what is left is diffed directly: tiny stretches (≤ DIFFLIB_LINES a side) by SequenceMatcher, so
  small diffs are difflib's exactly; bigger ones by rapidfuzz's `Indel` (a bit-parallel longest common
  subsequence in C++), a minimal diff that differs from difflib's only where a change could sit at
  several places among identical lines (bench/review.py measures how often, on realistic edits).

A stretch too big for a direct diff that has no anchor becomes one replacement: a coarser diff, never
a wrong one.
"""

from __future__ import annotations

import bisect
import difflib
from collections import Counter
from collections.abc import Sequence

from rapidfuzz.distance import Indel

# Stretches up to this many lines on a side are diffed directly (rapidfuzz: well under 10 ms);
# bigger ones are split at anchors first (the bit matrix grows with the product of the sides).
DIRECT_LINES = 4000
# Stretches up to this many lines on a side go to SequenceMatcher (negligible at this size).
DIFFLIB_LINES = 64
# The longest run of equal lines a change may slide across to join its neighbour (see `_push`).
_SLIDE_LINES = 8

Opcode = tuple[str, int, int, int, int]
Block = tuple[int, int, int]  # a[i:i+size] == b[j:j+size]


def matching_blocks(a: Sequence[str], b: Sequence[str]) -> list[Block]:
    """Like `SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()`: ascending, ending with
    the dummy block (len(a), len(b), 0)."""
    if len(a) <= DIFFLIB_LINES and len(b) <= DIFFLIB_LINES:
        return [(m.a, m.b, m.size) for m in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()]
    found: list[Block] = []
    pending = [(0, len(a), 0, len(b))]
    while pending:
        alo, ahi, blo, bhi = pending.pop()
        found += _match_range(a, alo, ahi, b, blo, bhi, pending)
    return [*_merged(sorted(found)), (len(a), len(b), 0)]


def opcodes(a: Sequence[str], b: Sequence[str]) -> list[Opcode]:
    """Like `SequenceMatcher(None, a, b, autojunk=False).get_opcodes()`."""
    if len(a) <= DIFFLIB_LINES and len(b) <= DIFFLIB_LINES:
        return list(difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes())
    ops: list[Opcode] = []
    i = j = 0
    for ai, bj, size in matching_blocks(a, b):
        if i < ai and j < bj:
            _push(ops, ("replace", i, ai, j, bj), a, b)
        elif i < ai:
            _push(ops, ("delete", i, ai, j, bj), a, b)
        elif j < bj:
            _push(ops, ("insert", i, ai, j, bj), a, b)
        if size:
            _push(ops, ("equal", ai, ai + size, bj, bj + size), a, b)
        i, j = ai + size, bj + size
    return ops


def _push(ops: list[Opcode], op: Opcode, a: Sequence[str], b: Sequence[str]) -> None:
    """Append `op`, then join two changes that a short run of equal lines separates when one of them is
    a pure insertion or deletion that can slide across that run (its lines repeat there), as git's diff
    compaction does. A longest common subsequence happily matches a line in the middle of a pasted
    block to an identical line nearby and splits the block in two; SequenceMatcher, and a reader,
    see one block."""
    if ops and ops[-1][0] == "equal" == op[0]:
        ops[-1] = ("equal", ops[-1][1], op[2], ops[-1][3], op[4])
        return
    ops.append(op)
    while len(ops) >= 3 and ops[-1][0] != "equal" and ops[-2][0] == "equal" and ops[-3][0] != "equal":
        joined = _slid(ops[-3], ops[-2], ops[-1], a, b)
        if joined is None:
            return
        del ops[-3:]
        for piece in joined:
            if ops and ops[-1][0] == "equal" == piece[0]:
                ops[-1] = ("equal", ops[-1][1], piece[2], ops[-1][3], piece[4])
            else:
                ops.append(piece)


def _slid(x: Opcode, e: Opcode, y: Opcode, a: Sequence[str], b: Sequence[str]) -> list[Opcode] | None:
    """x, e (equal), y with x and y joined by sliding one of them across e; None when neither slides."""
    size = e[2] - e[1]
    if size > _SLIDE_LINES:
        return None
    _, xi1, xi2, xj1, xj2 = x
    _, yi1, yi2, yj1, yj2 = y
    if y[0] == "insert" and b[yj1 - size : yj1] == b[yj2 - size : yj2]:  # y slides up
        return [_change(xi1, xi2, xj1, xj2 + (yj2 - yj1)), ("equal", xi2, yi1, xj2 + (yj2 - yj1), yj2)]
    if y[0] == "delete" and a[yi1 - size : yi1] == a[yi2 - size : yi2]:
        return [_change(xi1, xi2 + (yi2 - yi1), xj1, xj2), ("equal", xi2 + (yi2 - yi1), yi2, xj2, yj1)]
    if x[0] == "insert" and b[xj1 : xj1 + size] == b[xj2 : xj2 + size]:  # x slides down
        return [("equal", xi1, yi1, xj1, xj1 + size), _change(yi1, yi2, xj1 + size, yj2)]
    if x[0] == "delete" and a[xi1 : xi1 + size] == a[xi2 : xi2 + size]:
        return [("equal", xi1, xi1 + size, xj1, yj1), _change(xi1 + size, yi2, yj1, yj2)]
    return None


def _change(i1: int, i2: int, j1: int, j2: int) -> Opcode:
    return ("replace" if i1 < i2 and j1 < j2 else "delete" if i1 < i2 else "insert", i1, i2, j1, j2)


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
    if ahi - alo <= DIFFLIB_LINES and bhi - blo <= DIFFLIB_LINES:
        matcher = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
        blocks += [(alo + i, blo + j, size) for i, j, size in matcher.get_matching_blocks() if size]
        return blocks
    if ahi - alo <= DIRECT_LINES and bhi - blo <= DIRECT_LINES:
        common = Indel.opcodes(a[alo:ahi], b[blo:bhi])
        blocks += [(alo + op.src_start, blo + op.dest_start, op.src_end - op.src_start)
                   for op in common if op.tag == "equal"]
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
