"""Position arithmetic: offsets ↔ LSP positions in UTF-8, UTF-16 and UTF-32, checked against an
independent reading of the specification and against pygls."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from lc_lsp.ranges import Encoding, LineIndex, code_units, normalize_encoding, point, split_lines

ENCODINGS: tuple[Encoding, ...] = ("utf-8", "utf-16", "utf-32")
_UNIT = {"utf-8": ("utf-8", 1), "utf-16": ("utf-16-le", 2), "utf-32": ("utf-32-le", 4)}
_BREAK = re.compile(r"\r\n|\r|\n")

# Characters that stress the encodings (2-, 3- and 4-byte UTF-8, surrogate pairs), every LSP line
# break, and separators that str.splitlines breaks at but LSP does not.
ALPHABET = st.sampled_from(
    ["a", "b", " ", "é", "ö", "€", "中", "😋", "𝄞", "\n", "\r\n", "\r", "\x0b", "\x0c", "\u2028"]
)
TEXTS = st.lists(ALPHABET, max_size=40).map("".join)


def reference_position(text: str, offset: int, encoding: str) -> types.Position:
    """Straight from the spec: the line is the number of breaks before the offset, the character is
    the encoded length of the rest."""
    prefix = text[:offset]
    breaks = list(_BREAK.finditer(prefix))
    tail = prefix[breaks[-1].end() :] if breaks else prefix
    codec, size = _UNIT[encoding]
    return types.Position(line=len(breaks), character=len(tail.encode(codec)) // size)


def inside_crlf(text: str, offset: int) -> bool:
    return 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n"


def test_pygls_example_in_all_encodings() -> None:
    text = "héllo 😋 wörld"
    index = LineIndex(text)
    offset = text.index("wörld")
    expected: dict[Encoding, int] = {"utf-16": 9, "utf-8": 12, "utf-32": 8}
    for encoding, column in expected.items():
        position = index.position_at(offset, encoding)
        assert (position.line, position.character) == (0, column)
        assert index.offset_at(position, encoding) == offset


@settings(max_examples=300, deadline=None)
@given(text=TEXTS)
def test_every_offset_round_trips_and_matches_the_spec(text: str) -> None:
    index = LineIndex(text)
    for encoding in ENCODINGS:
        for offset in range(len(text) + 1):
            if inside_crlf(text, offset):
                continue
            position = index.position_at(offset, encoding)
            assert position == reference_position(text, offset, encoding)
            assert index.offset_at(position, encoding) == offset


@settings(max_examples=200, deadline=None)
@given(text=st.lists(st.sampled_from(["a", "é", "😋", "中", "\n", "\r\n"]), max_size=30).map("".join))
def test_agrees_with_pygls_where_pygls_is_right(text: str) -> None:
    # pygls splits lines with str.splitlines and puts the end of a text without a final newline one
    # line too far, so it serves as an oracle only away from those cases.
    for encoding in ENCODINGS:
        codec = PositionCodec(types.PositionEncodingKind(encoding))
        document = TextDocument("file:///t.txt", text, position_codec=codec)
        index = LineIndex(text)
        for offset in range(len(text)):
            if inside_crlf(text, offset):
                continue
            assert index.position_at(offset, encoding) == document.client_position_at_offset(offset)


def test_crlf_counts_as_one_break_and_lone_cr_as_one() -> None:
    text = "ab\r\ncd\ref\ngh"
    index = LineIndex(text)
    assert index.line_count == 4
    assert index.position_at(text.index("c"), "utf-16") == types.Position(line=1, character=0)
    assert index.position_at(text.index("e"), "utf-16") == types.Position(line=2, character=0)
    assert index.position_at(text.index("g"), "utf-16") == types.Position(line=3, character=0)
    # Between "\r" and "\n" is no position: it means the end of line 0.
    assert index.position_at(3, "utf-16") == types.Position(line=0, character=2)


def test_end_of_file_with_and_without_final_newline() -> None:
    assert LineIndex("a😋\n").position_at(3, "utf-16") == types.Position(line=1, character=0)
    assert LineIndex("a😋\n").line_count == 2
    assert LineIndex("a😋").position_at(2, "utf-16") == types.Position(line=0, character=3)
    assert LineIndex("a😋").line_count == 1
    assert LineIndex("").position_at(0, "utf-8") == types.Position(line=0, character=0)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_positions_past_the_end_are_clamped(encoding: Encoding) -> None:
    text = "zé😋\r\nx"
    index = LineIndex(text)
    # A character past the line's end means the line's end, before its terminator.
    assert index.offset_at(types.Position(line=0, character=99), encoding) == 3
    # A line past the last line means the end of the text.
    assert index.offset_at(types.Position(line=7, character=0), encoding) == len(text)
    assert index.offset_at(types.Position(line=1, character=5), encoding) == len(text)


def test_a_column_inside_a_character_rounds_down() -> None:
    index = LineIndex("a😋b")
    assert index.offset_at(types.Position(line=0, character=2), "utf-16") == 1  # between the surrogates
    assert index.offset_at(types.Position(line=0, character=3), "utf-16") == 2
    index = LineIndex("aéb")
    assert index.offset_at(types.Position(line=0, character=2), "utf-8") == 1  # inside é's two bytes
    assert index.offset_at(types.Position(line=0, character=3), "utf-8") == 2


def test_offsets_outside_the_text_are_refused() -> None:
    with pytest.raises(ValueError):
        LineIndex("abc").position_at(4, "utf-16")


def test_range_of() -> None:
    text = "x = '😋'\nprint(x)\n"
    rng = LineIndex(text).range_of(text.index("'"), text.index("print"), "utf-16")
    assert rng == types.Range(start=types.Position(line=0, character=4), end=types.Position(line=1, character=0))


def test_point_is_line_and_python_column_in_every_encoding() -> None:
    index = LineIndex("a😋b\r\nxé")
    assert point(index, types.Position(line=0, character=3), "utf-16") == (0, 2)  # past the surrogate pair
    assert point(index, types.Position(line=0, character=5), "utf-8") == (0, 2)
    assert point(index, types.Position(line=0, character=2), "utf-32") == (0, 2)
    assert point(index, types.Position(line=1, character=9), "utf-16") == (1, 2)  # clamped to the line's end
    assert point(index, types.Position(line=5, character=0), "utf-16") == (1, 2)  # past the last line: the end


def test_line_start_past_the_end_is_the_end() -> None:
    index = LineIndex("a\nb")
    assert [index.line_start(n) for n in range(4)] == [0, 2, 3, 3]


@settings(max_examples=300, deadline=None)
@given(text=TEXTS)
def test_split_lines_breaks_only_where_lsp_does(text: str) -> None:
    lines = split_lines(text)
    assert "".join(lines) == text
    for line in lines:
        # A break may only be the line's terminator, and only the last line may lack one.
        breaks = [m.end() for m in _BREAK.finditer(line)]
        assert breaks in ([len(line)], []) and (breaks or line is lines[-1])
    assert len(lines) == LineIndex(text).line_count - (1 if not text or text.endswith(("\n", "\r")) else 0)


def test_split_lines_keeps_form_feeds_and_unicode_separators_inside_a_line() -> None:
    assert split_lines("a\x0cb\u2028c\r\r\nd") == ["a\x0cb\u2028c\r", "\r\n", "d"]


def test_code_units_and_encoding_names() -> None:
    assert [code_units("é😋", e) for e in ENCODINGS] == [6, 3, 2]
    assert normalize_encoding(types.PositionEncodingKind.Utf16) == "utf-16"
    assert normalize_encoding("UTF-8") == "utf-8"
    with pytest.raises(ValueError):
        normalize_encoding("latin-1")
