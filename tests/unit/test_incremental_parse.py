"""Incremental analysis: a document edited version after version, each re-parsed from the tree of the
one before (lc_lsp.reparse), reads exactly as a fresh analysis of the same text — every stub, and the
targets on every line — in each tree-sitter language, for edits an editor makes: typing, deleting
lines, pasting blocks, multi-byte characters, CRLF files."""

from __future__ import annotations

import pytest
import tree_sitter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lc_lsp.actions import DocumentAnalyses
from lc_lsp import tree_targets
from lc_lsp.languages import Grammar, resolve
from lc_lsp.ranges import LineIndex, line_bounds
from lc_lsp.reparse import changed_span, edit_span, point_at, reparse
from lc_lsp.stubs import analyze
from tests.unit.test_stubs import SAMPLES, Sample

PIECES = ["x", " ", "\n", "(", ")", "{", "}", ":", "    ", "pass", "é", "😀", "// TODO: later\n", "# TODO\n",
          "raise NotImplementedError\n", "return 0;\n", "\r\n", "\"", "'''"]


@st.composite
def edits(draw: st.DrawFn, text: str) -> list[tuple[int, int, str]]:
    """Edits as (start, end, inserted) against the text as it is when each applies."""
    out: list[tuple[int, int, str]] = []
    size = len(text)
    for _ in range(draw(st.integers(1, 6))):
        start = draw(st.integers(0, size))
        end = draw(st.integers(start, min(size, start + draw(st.sampled_from([0, 0, 1, 5, 40])))))
        kind = draw(st.sampled_from(["type", "paste", "delete"]))
        if kind == "delete":
            inserted = ""
        elif kind == "type":
            inserted = draw(st.sampled_from(PIECES))
        else:
            inserted = "".join(draw(st.lists(st.sampled_from(PIECES), max_size=8)))
        out.append((start, end, inserted))
        size += len(inserted) - (end - start)
    return out


def apply(text: str, start: int, end: int, inserted: str) -> str:
    start, end = min(start, len(text)), min(end, len(text))
    return text[:start] + inserted + text[end:]


def reads_the_same(incremental: object, fresh: object, text: str) -> None:
    assert incremental.stubs() == fresh.stubs()  # type: ignore[attr-defined]
    for line in range(text.count("\n") + 1):
        assert incremental.targets_at(line, 2) == fresh.targets_at(line, 2), line  # type: ignore[attr-defined]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), sample=st.sampled_from(SAMPLES), crlf=st.booleans())
def test_each_version_reads_as_a_fresh_analysis(data: st.DataObject, sample: Sample, crlf: bool) -> None:
    text = sample.text.replace("\n", "\r\n") if crlf else sample.text
    analyses = DocumentAnalyses()
    analyses.get("file:///doc", 1, text, sample.language, sample.path)
    for version, (start, end, inserted) in enumerate(data.draw(edits(text)), start=2):
        text = apply(text, start, end, inserted)
        incremental = analyses.get("file:///doc", version, text, sample.language, sample.path).document
        reads_the_same(incremental, analyze(text, sample.language, sample.path), text)


def test_a_keystroke_reparses_around_the_edit_and_leaves_the_old_tree_alone() -> None:
    grammar = resolve("python", None).grammar
    assert grammar is not None
    old = b"def a():\n    return 1\n\n\ndef b():\n    pass\n"
    new = old.replace(b"return 1", b"return 12")
    old_tree = reparse(grammar, old, None, None)
    tree = reparse(grammar, new, old, old_tree)
    assert str(tree.root_node) == str(reparse(grammar, new, None, None).root_node)
    assert old_tree.root_node.text == old  # the earlier version's tree was copied, not edited in place
    edited = old_tree.copy()
    start, old_end, new_end = changed_span(old, new)
    edited.edit(start, old_end, new_end, point_at(new, start), point_at(old, old_end), point_at(new, new_end))
    changed = [(r.start_point.row, r.end_point.row) for r in edited.changed_ranges(tree)]
    assert all(row == 1 for rows in changed for row in rows), changed  # only the typed line differs
    assert reparse(grammar, new, new, tree) is tree  # an unchanged text is not parsed again


def test_typing_at_the_end_of_a_block_reads_only_around_the_edit() -> None:
    """tree-sitter-python ends a block with zero-width NEWLINE/DEDENT tokens where the next definition
    starts; told only of the changed bytes, tree-sitter re-read everything after such an edit on every
    keystroke. Told of `edit_span`, it reads around the edit once the tree has settled (the first
    re-parses of a tree parsed from scratch still visit each top-level definition)."""
    grammar = resolve("python", None).grammar
    assert grammar is not None
    unit = (
        "class C{i}:\n    def a(self):\n        return {i}\n\n    def b(self):\n        pass\n\n\n"
        "def f{i}(x):\n    return x\n"
    )
    text = "".join(unit.format(i=i) for i in range(200)).encode()
    at = text.index(b"return 0") + len(b"return 0")
    old, tree = text, reparse(grammar, text, None, None)
    for keystroke, typed in enumerate((b"1", b"12", b"123", b"1234", b"123", b"123\n        ")):
        new = text[:at] + typed + text[at:]
        start, old_end, new_end = edit_span(old, new)
        assert old[:start] == new[:start] and old[old_end:] == new[new_end:]
        tree.edit(start, old_end, new_end, point_at(new, start), point_at(old, old_end), point_at(new, new_end))
        read: list[int] = []

        def chunk(offset: int, _point: tuple[int, int], new: bytes = new, read: list[int] = read) -> bytes:
            read.append(offset)
            return new[offset : offset + 64]

        tree = grammar.parser().parse(chunk, tree)
        assert str(tree.root_node) == str(reparse(grammar, new, None, None).root_node)
        assert keystroke < 2 or (read and all(abs(offset - at) < 256 for offset in read)), (typed, read)
        old = new


def test_changed_span_and_points() -> None:
    old, new = b"abc\ndef\nghi", b"abc\ndXYf\nghi"
    assert changed_span(old, new) == (5, 6, 7)
    assert point_at(new, 7) == (1, 3) and point_at(old, 0) == (0, 0)
    assert changed_span(b"aaaa", b"aa") == (2, 4, 2)  # a repeat: the earliest-ending deletion
    assert changed_span(b"", b"x") == (0, 0, 1)
    # Widened back to the token before the change and, as the change ends a line, to the next line's token.
    assert edit_span(b"a = 1\n\n  b", b"a = 12\n\n  b") == (4, 10, 11)
    assert edit_span(b"f(a)\n", b"f(ab)\n") == (2, 3, 4)  # not at a line's end: only back
    assert edit_span(b"x", b"xy") == (0, 1, 2)


def test_line_bounds_match_a_scan_for_every_kind_of_break() -> None:
    for text in ["", "a", "a\n", "a\r\nb\r\n", "a\rb", "a\r\nb\nc\rd", "é\n😀\r\nx", "\n\n"]:
        for value in (text, text.encode()):
            starts, ends = line_bounds(value)
            separators = [value[e:s] for e, s in zip(ends, starts[1:], strict=False)]
            assert all(sep in ("\n", "\r\n", "\r", b"\n", b"\r\n", b"\r") for sep in separators), (value, separators)
            assert len(starts) == len(ends) == len(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(st.sampled_from("ab\r\n é\x0c"), max_size=40),
    start=st.integers(0, 40),
    length=st.integers(0, 6),
    inserted=st.text(st.sampled_from("x\r\n"), max_size=4),
)
def test_an_edited_line_index_is_the_index_of_the_new_text(text: str, start: int, length: int, inserted: str) -> None:
    start = min(start, len(text))
    end = min(start + length, len(text))
    new = text[:start] + inserted + text[end:]
    assert LineIndex(text).edited(new, *changed_span(text, new)) == LineIndex(new)
    assert LineIndex(text).edited(new, start, end, start + len(inserted)) == LineIndex(new)


def test_a_new_version_starts_from_the_previous_versions_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []

    def spy(grammar: Grammar, src: bytes, old_src: bytes | None, old_tree: tree_sitter.Tree | None) -> tree_sitter.Tree:
        calls.append(old_tree is not None)
        return reparse(grammar, src, old_src, old_tree)

    monkeypatch.setattr(tree_targets, "reparse", spy)
    analyses = DocumentAnalyses()
    analyses.get("u", 1, "def a():\n    pass\n", "python", None)
    analyses.get("u", 2, "def a():\n    passx\n", "python", None)
    analyses.get("other", 1, "def b():\n    pass\n", "python", None)
    assert calls == [False, True, False]
