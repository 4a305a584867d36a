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
from lc_lsp.ranges import line_bounds
from lc_lsp.reparse import changed_span, point_at, reparse
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


def test_changed_span_and_points() -> None:
    old, new = b"abc\ndef\nghi", b"abc\ndXYf\nghi"
    assert changed_span(old, new) == (5, 6, 7)
    assert point_at(new, 7) == (1, 3) and point_at(old, 0) == (0, 0)
    assert changed_span(b"aaaa", b"aa") == (2, 4, 2)  # a repeat: the earliest-ending deletion
    assert changed_span(b"", b"x") == (0, 0, 1)


def test_line_bounds_match_a_scan_for_every_kind_of_break() -> None:
    for text in ["", "a", "a\n", "a\r\nb\r\n", "a\rb", "a\r\nb\nc\rd", "é\n😀\r\nx", "\n\n"]:
        for value in (text, text.encode()):
            starts, ends = line_bounds(value)
            separators = [value[e:s] for e, s in zip(ends, starts[1:], strict=False)]
            assert all(sep in ("\n", "\r\n", "\r", b"\n", b"\r\n", b"\r") for sep in separators), (value, separators)
            assert len(starts) == len(ends) == len(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


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
