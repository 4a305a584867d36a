"""The chaos mode of the scripted model server (tests/fakes/chaos.py and the faults it added), checked on
the wire with raw sockets, so that the scenarios really inject what they claim to."""

from __future__ import annotations

import json
import random
import socket
from typing import Any

import httpx
import pytest

from tests.fakes.chaos import CHAOS_FAULTS, HUGE_ARGUMENTS_BYTES, TINY_CHUNKS, Chaos, closed_port, inject
from tests.fakes.model_server import Call, Reply, ScriptedModelServer

PATH = {"ollama": "/api/chat", "openai": "/v1/chat/completions"}
TEXT = "one two three four five six seven eight nine ten eleven twelve"


def _raw_exchange(server: ScriptedModelServer) -> tuple[bytes, BaseException | None]:
    """POST a streaming chat request; every byte until the server closes, and how it closed."""
    body = json.dumps({"model": server.model, "messages": [{"role": "user", "content": "hi"}], "stream": True})
    head = (f"POST {PATH[server.protocol]} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    received = bytearray()
    error: BaseException | None = None
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode() + body.encode())
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError as exc:
            error = exc
    return bytes(received), error


def _chunks(raw: bytes) -> list[bytes]:
    """The HTTP chunks of a chunked response (up to where it stops)."""
    _, _, rest = raw.partition(b"\r\n\r\n")
    chunks: list[bytes] = []
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        chunks.append(rest[:size])
        rest = rest[size + 2 :]
    return chunks


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
def test_reset_is_a_tcp_reset(protocol: str) -> None:
    with ScriptedModelServer(protocol, [Reply(TEXT, fault="reset", fault_after=2)], chunk_tokens=1) as server:
        raw, error = _raw_exchange(server)
    assert isinstance(error, ConnectionResetError)
    assert b"0\r\n\r\n" not in raw


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
def test_truncated_ends_cleanly_inside_a_line(protocol: str) -> None:
    with ScriptedModelServer(protocol, [Reply(TEXT, fault="truncated", fault_after=3)], chunk_tokens=1) as server:
        raw, error = _raw_exchange(server)
    assert error is None and raw.endswith(b"0\r\n\r\n")  # a clean end of the HTTP body...
    body = b"".join(_chunks(raw))
    assert not body.endswith(b"\n")  # ...in the middle of a line or event
    assert body.count(b"\n") >= 3


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
def test_huge_line_is_one_well_formed_megabyte(protocol: str) -> None:
    with ScriptedModelServer(protocol, [Reply(TEXT, fault="huge_line", fault_after=1)]) as server:
        response = httpx.post(server.base_url + PATH[protocol], timeout=10,
                              json={"model": server.model, "messages": [], "stream": True})
    lines = [line for line in response.content.split(b"\n") if line]
    longest = max(lines, key=len)
    assert 1_000_000 - 100 <= len(longest) <= 1_000_000 + 100
    json.loads(longest.removeprefix(b"data: "))  # well formed: only its size is hostile
    text = "".join(_texts(protocol, lines))
    assert text == TEXT  # the stream goes on, whole


def _texts(protocol: str, lines: list[bytes]) -> list[str]:
    out: list[str] = []
    for line in lines:
        payload = line.removeprefix(b"data: ")
        if payload == b"[DONE]":
            continue
        data: dict[str, Any] = json.loads(payload)
        if protocol == "ollama":
            out.append(data.get("message", {}).get("content", ""))
        else:
            out += [c.get("delta", {}).get("content") or "" for c in data.get("choices", [])]
    return out


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
def test_tiny_chunks_make_ten_thousand_chunks(protocol: str) -> None:
    reply = inject(Reply("Done."), "tiny_chunks", random.Random(3))
    with ScriptedModelServer(protocol, [reply]) as server:
        raw, error = _raw_exchange(server)
    chunks = _chunks(raw)
    assert error is None and len(chunks) >= TINY_CHUNKS
    assert {len(c) for c in chunks} <= {reply.tiny_chunk_bytes}


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
def test_http_503_has_a_body(protocol: str) -> None:
    with ScriptedModelServer(protocol, [Reply(fault="http_503")]) as server:
        response = httpx.post(server.base_url + PATH[protocol], json={"model": server.model, "messages": []})
    assert response.status_code == 503 and "error" in response.json()


def test_chaos_is_seeded_and_covers_every_fault() -> None:
    script = [Reply(calls=[Call("Write", {"file_path": "a.py", "content": "x"})]), Reply("Done.")]

    def picks(seed: int) -> list[tuple[int, str]]:
        chaos = Chaos(script, seed=seed, rate=0.5)
        for index in range(30):
            chaos({}, index)
        return list(chaos.injected)

    assert picks(5) == picks(5)
    assert picks(5) != picks(6)
    seen = {fault for seed in range(40) for _, fault in picks(seed)}
    assert seen == set(CHAOS_FAULTS)


def test_huge_arguments_and_closed_port() -> None:
    reply = inject(Reply("x"), "huge_arguments", random.Random(1))
    assert len(reply.calls[-1].arguments_text().encode()) >= HUGE_ARGUMENTS_BYTES
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{closed_port()}/", timeout=2)
