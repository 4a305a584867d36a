"""Three-way merge: the agent's proposal (ours) rebased onto the user's buffer (theirs)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from lc_lsp.merge3 import merge3
from lc_lsp.ranges import split_lines

BASE = "def leap(year):\n    if year % 4:\n        return False\n    return True\n\nprint(leap(2000))\n"


def test_user_edits_elsewhere_survive_and_agent_hunks_apply() -> None:
    ours = BASE.replace("    if year % 4:\n", "    if year % 4 != 0:\n").replace(
        "    return True\n", "    return year % 100 != 0 or year % 400 == 0\n"
    )
    theirs = "# leap years\n" + BASE.replace("print(leap(2000))\n", "print(leap(1900))\n")
    result = merge3(BASE, ours, theirs)
    assert result.conflicts == []
    assert result.text == (
        "# leap years\n"
        "def leap(year):\n"
        "    if year % 4 != 0:\n"
        "        return False\n"
        "    return year % 100 != 0 or year % 400 == 0\n"
        "\n"
        "print(leap(1900))\n"
    )


def test_the_same_change_on_both_sides_is_taken_once() -> None:
    changed = BASE.replace("return False", "return False  # not divisible")
    result = merge3(BASE, changed, changed)
    assert result.text == changed
    assert result.conflicts == []


def test_overlapping_changes_conflict_and_keep_the_users_text() -> None:
    ours = "# agent header\n" + BASE.replace("        return False\n", "        return 0\n")
    theirs = BASE.replace("        return False\n", "        return None  # user\n")
    result = merge3(BASE, ours, theirs)
    # The agent's header merges; its change to the user's line does not.
    assert result.text == "# agent header\n" + theirs
    [conflict] = result.conflicts
    assert conflict.base_lines == ("        return False\n",)
    assert conflict.ours_lines == ("        return 0\n",)
    assert conflict.theirs_lines == ("        return None  # user\n",)
    assert (conflict.base_start, conflict.base_end) == (2, 3)
    # The position is in the user's text, unaffected by the agent's inserted header.
    assert split_lines(theirs)[conflict.theirs_start] == "        return None  # user\n"


def test_two_different_insertions_at_one_spot_conflict() -> None:
    result = merge3("a\nb\n", "a\nours\nb\n", "a\ntheirs\nb\n")
    assert result.text == "a\ntheirs\nb\n"
    assert [c.ours_lines for c in result.conflicts] == [("ours\n",)]


def test_adjacent_changes_combine() -> None:
    result = merge3("a\nb\nc\n", "a\nB\nc\n", "a\nb\nC\n")
    assert (result.text, result.conflicts) == ("a\nB\nC\n", [])
    # An insertion right before a line the other side rewrites goes before the rewrite.
    result = merge3("a\nb\n", "a\nnew\nb\n", "a\nB\n")
    assert (result.text, result.conflicts) == ("a\nnew\nB\n", [])


def test_a_line_without_final_newline_is_never_glued_to_an_insertion() -> None:
    # The user removed the final newline; the agent appended a line after it.
    result = merge3("a\nb\n", "a\nb\nc\n", "a\nB")
    assert result.text == "a\nB"
    assert len(result.conflicts) == 1


def test_a_lone_cr_is_never_joined_with_a_following_empty_line() -> None:
    # The user's "a\r" followed by the agent's empty line "\n" would read as one line "a\r\n".
    base = "a\na\r\nb\n"
    result = merge3(base, "a\r\n\nb\n", "a\rb\n")
    assert result.text == "a\rb\n"
    assert len(result.conflicts) == 1


def test_line_endings_are_kept() -> None:
    base = "one\r\ntwo\r\nthree\r\n"
    result = merge3(base, base.replace("one", "ONE"), base.replace("three\r\n", "three\n"))
    assert result.text == "ONE\r\ntwo\r\nthree\n"
    assert result.conflicts == []


def test_empty_base() -> None:
    assert merge3("", "new\n", "").text == "new\n"
    result = merge3("", "agent\n", "user\n")
    assert result.text == "user\n"
    assert result.conflicts[0].ours_lines == ("agent\n",)


# Texts built from a few short lines so that both sides often touch the same or repeated lines.
LINE = st.sampled_from(["a\n", "b\n", "c\n", "d\r\n", "é😋\n", "\n", "f\r", "x"])
TEXT = st.lists(LINE, max_size=10).map("".join)


@st.composite
def edited(draw: st.DrawFn, text: str) -> str:
    lines = split_lines(text)
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, len(lines)))
        end = draw(st.integers(start, min(len(lines), start + 3)))
        lines[start:end] = draw(st.lists(LINE, max_size=3))
    return "".join(lines)


@st.composite
def triples(draw: st.DrawFn) -> tuple[str, str, str]:
    base = draw(TEXT)
    return base, draw(edited(base)), draw(edited(base))


def lines_of(text: str) -> Counter[str]:
    return Counter(split_lines(text))


@settings(max_examples=400, deadline=None)
@given(triples())
def test_never_drops_a_line_the_user_added(texts: tuple[str, str, str]) -> None:
    base, ours, theirs = texts
    merged = merge3(base, ours, theirs).text
    added_by_user = lines_of(theirs) - lines_of(base)
    assert not added_by_user - lines_of(merged)


@settings(max_examples=400, deadline=None)
@given(triples())
def test_merged_lines_come_from_the_inputs_and_conflicts_point_into_theirs(texts: tuple[str, str, str]) -> None:
    base, ours, theirs = texts
    result = merge3(base, ours, theirs)
    assert set(split_lines(result.text)) <= set(split_lines(base)) | set(split_lines(ours)) | set(split_lines(theirs))
    theirs_lines = split_lines(theirs)
    for conflict in result.conflicts:
        assert conflict.ours_lines != conflict.theirs_lines
        start = conflict.theirs_start
        assert tuple(theirs_lines[start : start + len(conflict.theirs_lines)]) == conflict.theirs_lines
    if not result.conflicts:
        assert not (lines_of(ours) - lines_of(base)) - lines_of(result.text)


@settings(max_examples=300, deadline=None)
@given(triples())
def test_one_sided_and_identical_merges(texts: tuple[str, str, str]) -> None:
    base, ours, theirs = texts
    assert merge3(base, ours, base).text == ours
    assert merge3(base, base, theirs).text == theirs
    same = merge3(base, ours, ours)
    assert (same.text, same.conflicts) == (ours, [])
