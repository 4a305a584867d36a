"""The <think> splitter and the thinking budget (counting, the cut, the retry messages)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent import tokens
from agent.messages import AssistantMessage, UserMessage
from agent.thinking_budget import ThinkingBudget, ThinkTagSplitter

Pieces = list[tuple[str, str]]


def _merge(pieces: Pieces) -> Pieces:
    merged: Pieces = []
    for kind, text in pieces:
        if merged and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + text)
        else:
            merged.append((kind, text))
    return merged


def _run(chunks: list[str], assume_open: bool = False) -> Pieces:
    splitter = ThinkTagSplitter(assume_open=assume_open)
    pieces: Pieces = []
    for chunk in chunks:
        pieces.extend(splitter.feed(chunk))
    pieces.extend(splitter.flush())
    assert all(text for _, text in pieces), "no empty pieces"
    return _merge(pieces)


# (sample, assume_open, expected result)
SAMPLES: list[tuple[str, bool, Pieces]] = [
    (
        "<think>\nFirst check the tests.</think>\n\nI will read a<b> now.",
        False,
        [("reasoning", "First check the tests."), ("text", "I will read a<b> now.")],
    ),
    (
        "the plan is x < y\n</think>\n\nDone.",
        True,
        [("reasoning", "the plan is x < y\n"), ("text", "Done.")],
    ),
    (
        "<think>\nredundant open tag</think>answer",
        True,
        [("reasoning", "redundant open tag"), ("text", "answer")],
    ),
    (
        "<think>this never closes </thin",
        False,
        [("reasoning", "this never closes </thin")],
    ),
    (
        "a <thinking> tag is not ours </think>tail",
        False,
        [("text", "a <thinking> tag is not ours tail")],
    ),
    (
        "<think>one</think>mid<think>two</think>end",
        False,
        [("reasoning", "one"), ("text", "mid"), ("reasoning", "two"), ("text", "end")],
    ),
]


@pytest.mark.parametrize(("sample", "assume_open", "expected"), SAMPLES)
def test_splitter_whole(sample: str, assume_open: bool, expected: Pieces) -> None:
    assert _run([sample], assume_open) == expected


@pytest.mark.parametrize(("sample", "assume_open", "expected"), SAMPLES)
def test_splitter_every_split_point(sample: str, assume_open: bool, expected: Pieces) -> None:
    n = len(sample)
    for i, j in itertools.combinations_with_replacement(range(n + 1), 2):
        chunks = [sample[:i], sample[i:j], sample[j:]]
        assert _run(chunks, assume_open) == expected, (i, j)


def test_splitter_character_by_character() -> None:
    for sample, assume_open, expected in SAMPLES:
        assert _run(list(sample), assume_open) == expected


_FRAGMENTS = ["<think>", "</think>", "<", "</", "<thi", "nk>", "/think>", "think", "a", " ", "\n", "x<y", ">"]


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.sampled_from(_FRAGMENTS), max_size=25),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=6),
    assume_open=st.booleans(),
)
def test_splitter_chunking_never_changes_the_result(parts: list[str], cuts: list[int], assume_open: bool) -> None:
    text = "".join(parts)
    points = sorted({min(c, len(text)) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    assert _run(chunks, assume_open) == _run([text], assume_open)


def test_splitter_without_tags_is_all_text_and_stray_close_is_dropped() -> None:
    assert _run(["plain ", "answer"]) == [("text", "plain answer")]
    assert _run(["notes</think>\n", "answer"]) == [("text", "notesanswer")]


def test_splitter_holds_back_only_possible_tags() -> None:
    splitter = ThinkTagSplitter()
    assert splitter.feed("hello <thi") == [("text", "hello ")]
    assert splitter.feed("s is fine") == [("text", "<this is fine")]
    assert splitter.feed("x<") == [("text", "x")]
    assert splitter.flush() == [("text", "<")]


def test_splitter_unclosed_reasoning_and_reset() -> None:
    splitter = ThinkTagSplitter()
    assert splitter.feed("<think>still thinking") == [("reasoning", "still thinking")]
    assert splitter.in_reasoning
    assert splitter.flush() == []
    assert not splitter.in_reasoning  # flush resets for the next request
    assert splitter.feed("answer") == [("text", "answer")]


# --- ThinkingBudget ------------------------------------------------------------------------------


def _reasoning_text(n_tokens: int) -> str:
    words = "let me check whether the parser handles nested braces before editing the file".split()
    text = ""
    i = 0
    while tokens.count(text) < n_tokens:
        text += " ".join(words[(i + k) % len(words)] for k in range(50)) + f" step {i}.\n"
        i += 1
    return text


def _chunks_of(text: str, size: int) -> list[str]:
    ids = tokens.encode(text)
    return [tokens.decode(ids[i : i + size]) for i in range(0, len(ids), size)]


@pytest.mark.parametrize("chunk_tokens", [1, 7, 64, 5000])
def test_overshoot_is_bounded_for_any_chunk_size(chunk_tokens: int) -> None:
    budget_size = 500
    text = _reasoning_text(6000)
    budget = ThinkingBudget(budget_size)
    fed = ""
    for chunk in _chunks_of(text, chunk_tokens):
        fed += chunk
        if budget.feed(chunk):
            break
    else:
        pytest.fail("budget never fired")
    assert budget.exceeded
    assert 1 <= budget.overshoot <= 16
    assert budget.tokens == budget_size + budget.overshoot
    # The trace is the stream up to the cut: a prefix of what was fed, about `budget` tokens long.
    assert fed.startswith(budget.trace)
    assert abs(tokens.count(budget.trace) - budget_size) <= 16
    if chunk_tokens >= 64:
        assert len(budget.trace) < len(fed)  # the crossing chunk was not swallowed whole


def test_below_budget_counts_and_keeps_everything() -> None:
    budget = ThinkingBudget(100)
    chunks = ["Looking at", " the failing", " test first."]
    assert [budget.feed(c) for c in chunks] == [False, False, False]
    assert budget.tokens == sum(tokens.count(c) for c in chunks)
    assert budget.trace == "".join(chunks)
    assert not budget.exceeded and budget.overshoot == 0


def test_exactly_at_budget_is_not_exceeded() -> None:
    text = _reasoning_text(50)
    ids = tokens.encode(text)[:40]
    budget = ThinkingBudget(40)
    assert budget.feed(tokens.decode(ids)) is False
    assert budget.tokens == 40
    assert budget.feed(" more") is True
    assert budget.overshoot == 1


def test_after_exceeding_further_deltas_are_ignored() -> None:
    budget = ThinkingBudget(5)
    assert budget.feed("one two three four five six seven eight")
    state = (budget.tokens, budget.trace)
    assert budget.feed(" nine ten") is True
    assert (budget.tokens, budget.trace) == state


def test_cut_inside_multibyte_text_keeps_a_clean_prefix() -> None:
    text = "思考中：这个函数需要处理嵌套的括号，然后再修改文件。🙂" * 200
    budget = ThinkingBudget(300)
    assert budget.feed(text)
    assert text.startswith(budget.trace)
    assert "\ufffd" not in budget.trace
    assert budget.overshoot <= 16


def test_zero_budget_is_rejected() -> None:
    with pytest.raises(ValueError):
        ThinkingBudget(0)


def test_retry_messages_carry_the_tail_and_the_instruction() -> None:
    head = "EARLY-MARKER " + _reasoning_text(800)
    late = " So the fix is to edit parse_block in src/parser.py and then run the tests. "
    beyond = "BEYOND-THE-BUDGET " * 200
    budget = ThinkingBudget(tokens.count(head + late))
    assert budget.feed(head) is False
    assert budget.feed(late + beyond) is True

    messages = budget.retry_messages(tail_chars=2000)
    assert [type(m) for m in messages] == [AssistantMessage, UserMessage]
    notes, instruction = messages
    assert isinstance(notes, AssistantMessage) and isinstance(instruction, UserMessage)
    # The tail of the kept trace is there, the start and everything past the cut are not.
    assert "So the fix is to edit parse_block in src/parser.py" in notes.content
    assert "EARLY-MARKER" not in notes.content
    assert "BEYOND-THE-BUDGET" not in notes.content
    body = notes.content.split("\n\n", 1)[1].lstrip("…")
    assert len(body) <= 2000
    # The tail starts at a line or word boundary of the trace.
    start = budget.trace.index(body)
    assert budget.trace[start - 1] in " \n"
    assert notes.content.rstrip().endswith(budget.trace.rstrip()[-20:])

    assert instruction.origin == "thinking_retry"
    assert "thinking budget" in instruction.content
    assert "tool call" in instruction.content


def test_retry_with_a_short_trace_keeps_it_whole() -> None:
    budget = ThinkingBudget(3)
    budget.feed("I should run pytest first and see")
    notes = budget.retry_messages()[0]
    assert isinstance(notes, AssistantMessage)
    assert budget.trace.strip() in notes.content
    assert "…" not in notes.content


def test_retry_with_empty_trace_sends_only_the_instruction() -> None:
    budget = ThinkingBudget(10)
    messages = budget.retry_messages()
    assert len(messages) == 1
    assert isinstance(messages[0], UserMessage) and messages[0].origin == "thinking_retry"
