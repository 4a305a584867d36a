"""Incremental parsing: a new version of a document parsed from the syntax tree of the one before.

The edit is found by comparing the two versions' bytes — their common head and tail, by a binary search
over slice comparisons, so the scanning happens in C — rather than taken from the editor's didChange
events: whatever happened between two analysed versions (one keystroke, several, a paste, an undo)
becomes one edit, independent of the position encoding and of how the client batched its changes.
tree-sitter then re-parses only around it: about a millisecond for a keystroke in a 10,000-line file,
against ~30 ms from scratch.

The edit tree-sitter is told of is wider than the bytes that changed (`edit_span`). Grammars with an
indentation scanner (Python) end a block with zero-width NEWLINE/DEDENT tokens at the end of its last
token, where the next definition starts too. tree-sitter compares the scanner's state before it looks
at whether a node changed, and on a mismatch skips the node for good rather than descending into it;
the parser reaches that shared position before it has read the zero-width tokens, so after a change at
the end of a block every later definition mismatched and was re-read: a keystroke there cost a full
parse (~25 ms at 10,000 lines). Covering the token before the change and, when the change ends a line,
the first byte of the next line's token, puts that position inside the edit, where the parser descends.

Big inputs are parsed through a read callback. tree-sitter holds the GIL for the whole parse of a bytes
object, but it calls back into Python for every chunk it reads, and there a waiting thread can take the
GIL: a parse in a worker thread then leaves the language server's event loop running.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import AnyStr

import tree_sitter

from lc_lsp.languages import Grammar

# Inputs from this size up are read in chunks of CHUNK bytes (see the module doc).
CHUNKED_FROM = 1 << 16
CHUNK = 1 << 14
_BLANK = (b" ", b"\t", b"\r", b"\n", b"\f")
# The rest of a blank line and the blank lines and indentation after it.
_LINE_END = re.compile(rb"[ \t\r\f]*(?:\n[ \t\r\n\f]*|\Z)")


def reparse(grammar: Grammar, src: bytes, old_src: bytes | None, old_tree: tree_sitter.Tree | None) -> tree_sitter.Tree:
    """The tree of `src`; given the previous version's bytes and tree, re-parsed incrementally."""
    base: tree_sitter.Tree | None = None
    if old_tree is not None and old_src is not None:
        if old_src == src:
            return old_tree
        base = old_tree.copy()  # the old tree may still be read by another request: edit a copy
        start, old_end, new_end = edit_span(old_src, src)
        base.edit(
            start_byte=start, old_end_byte=old_end, new_end_byte=new_end,
            start_point=point_at(src, start), old_end_point=point_at(old_src, old_end),
            new_end_point=point_at(src, new_end),
        )
    parser = grammar.parser()
    source: bytes | Callable[[int, tree_sitter.Point], bytes] = src
    if len(src) >= CHUNKED_FROM:
        source = lambda offset, _point: src[offset : offset + CHUNK]  # noqa: E731
    return parser.parse(source) if base is None else parser.parse(source, base)


def edit_span(old: bytes, new: bytes) -> tuple[int, int, int]:
    """The edit to give tree-sitter: the changed span (`changed_span`), widened back to the last
    non-blank byte before it and, when it ends a line, forward over the blank run after it and one
    byte more (see the module doc). The widened parts are the same in both versions."""
    start, old_end, new_end = changed_span(old, new)
    back = start
    while back > 0 and old[back - 1 : back] in _BLANK:
        back -= 1
    line_end = _LINE_END.match(new, new_end)
    more = min(line_end.end() + 1, len(new)) - new_end if line_end else 0
    return max(back - 1, 0), old_end + more, new_end + more


def changed_span(old: AnyStr, new: AnyStr) -> tuple[int, int, int]:
    """(start, old_end, new_end): old[start:old_end] became new[start:new_end]; the rest is shared."""
    head = _common(old, new, min(len(old), len(new)), from_end=False)
    tail = _common(old, new, min(len(old), len(new)) - head, from_end=True)
    return head, len(old) - tail, len(new) - tail


def _common(a: AnyStr, b: AnyStr, limit: int, *, from_end: bool) -> int:
    """Length of the longest common head (or tail) of a and b, at most `limit`. Each probe compares
    only the part not yet known equal, so the bytes compared add up to about twice the answer."""
    low, high = 0, limit
    while low < high:
        mid = (low + high + 1) // 2
        if from_end:
            same = a[len(a) - mid : len(a) - low] == b[len(b) - mid : len(b) - low]
        else:
            same = a[low:mid] == b[low:mid]
        if same:
            low = mid
        else:
            high = mid - 1
    return low


def point_at(src: bytes, offset: int) -> tuple[int, int]:
    """tree-sitter's (row, byte column) of a byte offset: rows are counted at "\\n", as tree-sitter does."""
    return src.count(b"\n", 0, offset), offset - (src.rfind(b"\n", 0, offset) + 1)
