"""lc_lsp.linediff: a valid line diff for any input, identical to difflib's on small ones, fast on big
ones (the review and the three-way merge of a 10 MB file)."""

from __future__ import annotations

import difflib
import itertools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lc_lsp import linediff
from lc_lsp.merge3 import merge3
from lc_lsp.ranges import split_lines

# Few distinct lines: many repeats, the case that makes difflib slow and patience diff fall back.
lines = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "\n", "}\n", "x = 1\n", "é😋\r\n"]), max_size=40)


def replay(a: list[str], b: list[str], ops: list[linediff.Opcode]) -> list[str]:
    """Apply the opcodes to `a`, checking they tile both sides without gaps."""
    out: list[str] = []
    i = j = 0
    for tag, i1, i2, j1, j2 in ops:
        assert (i1, j1) == (i, j), f"gap before {tag} {i1}:{i2} {j1}:{j2}"
        if tag == "equal":
            assert a[i1:i2] == b[j1:j2]
        out += b[j1:j2]
        i, j = i2, j2
    assert (i, j) == (len(a), len(b))
    return out


@given(a=lines, b=lines)
def test_small_inputs_are_difflibs(a: list[str], b: list[str]) -> None:
    assert linediff.opcodes(a, b) == difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()


@settings(max_examples=300)
@given(a=lines, b=lines, direct=st.integers(0, 6))
def test_big_inputs_get_a_valid_diff(a: list[str], b: list[str], direct: int) -> None:
    # A tiny direct limit sends these through the head/tail, anchor and fallback paths.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(linediff, "DIRECT_LINES", direct)
        ops = linediff.opcodes(a, b)
        blocks = linediff.matching_blocks(a, b)
    assert replay(a, b, ops) == b
    assert blocks[-1] == (len(a), len(b), 0)
    for (i, j, size), (i2, j2, _) in itertools.pairwise(blocks):
        assert a[i : i + size] == b[j : j + size] and i + size <= i2 and j + size <= j2


def test_anchors_find_the_one_changed_line_among_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(linediff, "DIRECT_LINES", 4)
    a = ["{\n", "one\n", "}\n", "{\n", "two\n", "}\n", "{\n", "three\n", "}\n"]
    b = [*a[:4], "TWO\n", *a[5:]]
    assert [op for op in linediff.opcodes(a, b) if op[0] != "equal"] == [("replace", 4, 5, 4, 5)]


def test_a_one_line_change_in_a_10_mb_file_merges_in_seconds() -> None:
    # difflib needed ~20 s for 30,000 lines of this and grew quadratically; 600,000 lines here.
    text = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(200_000)) + "def g():\n    pass\n"
    ours = text.replace("def g():\n    pass\n", "def g():\n    return 1\n")
    theirs = "# the user's note\n" + text
    started = time.monotonic()
    merged = merge3(text, ours, theirs)
    elapsed = time.monotonic() - started
    assert merged.text == "# the user's note\n" + ours and not merged.conflicts
    assert elapsed < 10, f"merge3 took {elapsed:.1f} s"
    assert split_lines(merged.text)[-1] == "    return 1\n"


def test_a_block_split_around_a_repeated_line_is_joined_again() -> None:
    # An LCS may match the last line of an inserted block to the identical line right after it and
    # report two insertions around it (as it did on bench/review.py's corpus); the compaction slides
    # the second one up across that line, leaving one hunk, as SequenceMatcher reports it.
    a = ["x = 1\n", "    for x in items:\n", "y = 2\n"]
    b = ["x = 1\n", "moved()\n", "    for x in items:\n", "    for x in items:\n", "y = 2\n"]
    ops: list[linediff.Opcode] = []
    for op in [("equal", 0, 1, 0, 1), ("insert", 1, 1, 1, 2), ("equal", 1, 2, 2, 3), ("insert", 2, 2, 3, 4),
               ("equal", 2, 3, 4, 5)]:
        linediff._push(ops, op, a, b)
    assert ops == [("equal", 0, 1, 0, 1), ("insert", 1, 1, 1, 3), ("equal", 1, 3, 3, 5)]
    assert replay(a, b, ops) == b
    assert [op for op in ops if op[0] != "equal"] == [
        op for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != "equal"]
