"""Line and SSE-event framing: linear in the bytes however they are chunked, and bounded in memory."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.providers.base import ProviderError
from agent.providers.http import MAX_LINE_BYTES, LineSplitter, ServerErrors, SSEDecoder, iter_lines

MB = 1024 * 1024


def split_all(data: bytes, size: int, max_line: int | None = None) -> list[bytes]:
    splitter = LineSplitter(max_line)
    lines: list[bytes] = []
    for start in range(0, len(data), size):
        lines.extend(splitter.feed(data[start : start + size]))
    return lines + splitter.flush()


def reference(data: bytes) -> list[bytes]:
    """What the whole body splits into at once (a trailing empty remainder is no line)."""
    parts = re.split(rb"\r\n|\r|\n", data)
    if parts and parts[-1] == b"":
        parts.pop()
    return parts


def test_a_50_mb_line_is_refused_in_seconds_once_past_the_cap() -> None:
    chunk = b"x" * (64 * 1024)
    splitter = LineSplitter()
    started = time.process_time()
    fed = 0
    with pytest.raises(ValueError, match=f"longer than {MAX_LINE_BYTES} bytes"):
        while fed < 50 * MB:
            splitter.feed(chunk)
            fed += len(chunk)
    assert time.process_time() - started < 5
    assert fed <= MAX_LINE_BYTES < fed + len(chunk)  # refused on the chunk that passed the cap


def test_a_50_mb_line_under_a_larger_cap_is_split_in_linear_time() -> None:
    line = b'{"message": {"content": "' + b"y" * (50 * MB) + b'"}}'
    started = time.process_time()
    lines = split_all(line + b"\nnext\n", 64 * 1024, max_line=64 * MB)
    assert time.process_time() - started < 5
    assert len(lines) == 2 and lines[0] == line and lines[1] == b"next"


def test_tiny_chunks_cost_the_same_per_byte_as_large_ones() -> None:
    body = b"".join(b'{"n": %d, "pad": "%s"}\r\n' % (i, b"z" * (i % 50)) for i in range(20_000))
    started = time.process_time()
    assert split_all(body, 1) == reference(body)
    one_byte = time.process_time() - started
    started = time.process_time()
    long_line = b"q" * len(body) + b"\n"
    assert split_all(long_line, 7) == [long_line[:-1]]
    assert time.process_time() - started < 3 * one_byte + 0.5  # a long line in tiny chunks is not quadratic


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.sampled_from([b"a", b"bc", b"\r", b"\n", b"\r\n", b"data: x", b"\xe2\x80\xa8", b""]),
                   max_size=40),
    size=st.integers(1, 9),
)
def test_any_chunking_gives_the_lines_of_the_whole_body(parts: list[bytes], size: int) -> None:
    body = b"".join(parts)
    expected = reference(body)
    # A lone CR at the very end is an ending too; flush() drops it with the remainder.
    assert split_all(body, size) == expected or (body.endswith(b"\r") and split_all(body, size) == expected[:-1])


def test_a_line_exactly_at_the_cap_passes_and_one_byte_more_fails() -> None:
    assert split_all(b"x" * 10 + b"\n", 3, max_line=10) == [b"x" * 10]
    with pytest.raises(ValueError):
        split_all(b"x" * 11 + b"\n", 3, max_line=10)
    with pytest.raises(ValueError):
        split_all(b"x" * 11 + b"\n", 100, max_line=10)  # terminated within one chunk


def test_an_sse_event_of_endless_data_lines_is_refused() -> None:
    decoder = SSEDecoder(max_event=100)
    with pytest.raises(ValueError, match="event longer than 100"):
        for _ in range(50):
            decoder.feed_line("data: 0123456789")
    decoder = SSEDecoder(max_event=100)
    for _ in range(50):  # the same lines as separate events are fine
        decoder.feed_line("data: 0123456789")
        assert decoder.feed_line("") is not None


async def test_iter_lines_reports_an_overlong_line_with_a_clear_message() -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"x" * MB

    request = httpx.Request("POST", "http://127.0.0.1:9/api/chat")
    response = httpx.Response(200, content=body(), request=request)
    errors = ServerErrors("Ollama", "http://127.0.0.1:9", "start it", lambda model: "pull it")
    with pytest.raises(ProviderError) as caught:
        async for _ in iter_lines(response, errors):
            pass
    assert caught.value.kind == "bad_response"
    assert f"a line longer than {MAX_LINE_BYTES} bytes" in caught.value.message
    assert "base URL" in caught.value.hint
