"""The scripted model server itself: wire formats byte for byte, discovery, faults, disconnects, CLI.

These talk to it with a plain synchronous httpx client (or raw sockets) so that they check the
server, not our providers.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent import tokens
from tests.fakes.model_server import Call, Reply, RequestLog, ScriptedModelServer
from tests.fakes.script import ServerScript
from tests.fakes.wire import token_pieces

REPO = Path(__file__).resolve().parents[2]
CHAT = {"ollama": "/api/chat", "openai": "/v1/chat/completions"}


def _chat_body(protocol: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "qwen3.5:9b", "messages": [{"role": "user", "content": "write a.py"}],
                            "stream": True}
    if protocol == "openai":
        body["stream_options"] = {"include_usage": True}
    return {**body, **extra}


def _ndjson(server: ScriptedModelServer, **extra: Any) -> tuple[httpx.Response, list[dict[str, Any]]]:
    response = httpx.post(server.base_url + "/api/chat", json=_chat_body("ollama", **extra))
    return response, [json.loads(line) for line in response.text.splitlines() if line]


def _sse(server: ScriptedModelServer, **extra: Any) -> tuple[httpx.Response, list[str]]:
    response = httpx.post(server.base_url + "/v1/chat/completions", json=_chat_body("openai", **extra))
    events = [block.removeprefix("data: ") for block in response.text.split("\n\n") if block]
    return response, events


# -- Ollama wire format --------------------------------------------------------------------------

def test_ollama_stream_matches_the_real_format() -> None:
    reply = Reply(reasoning="let me think", text="I'll create it.",
                  calls=[Call("Write", {"file_path": "a.py", "content": "x = 1\n"})])
    with ScriptedModelServer("ollama", [reply]) as server:
        response, lines = _ndjson(server)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["transfer-encoding"] == "chunked"
    for line in lines[:-1]:
        assert set(line) == {"model", "created_at", "message", "done"}
        assert line["done"] is False and line["model"] == "qwen3.5:9b"
        assert line["message"]["role"] == "assistant"
        assert line["created_at"].endswith("Z")
    thinking = "".join(line["message"].get("thinking", "") for line in lines)
    content = "".join(line["message"]["content"] for line in lines)
    assert thinking == "let me think"
    assert content == "I'll create it."
    call_lines = [line for line in lines if "tool_calls" in line["message"]]
    assert len(call_lines) == 1
    assert call_lines[0]["message"]["tool_calls"] == [
        {"function": {"name": "Write", "arguments": {"file_path": "a.py", "content": "x = 1\n"}}}]
    final = lines[-1]
    assert final["done"] is True and final["done_reason"] == "stop"
    for field in ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
                  "eval_count", "eval_duration"):
        assert isinstance(final[field], int), field
    assert final["prompt_eval_count"] == tokens.count("write a.py")
    arguments = '{"file_path": "a.py", "content": "x = 1\\n"}'
    assert final["eval_count"] == (tokens.count("let me think") + tokens.count("I'll create it.")
                                   + tokens.count("Write") + tokens.count(arguments))


def test_ollama_think_tags_go_into_content() -> None:
    with ScriptedModelServer("ollama", [Reply(reasoning="hmm", text="ok", think_tags=True)]) as server:
        _, lines = _ndjson(server)
    assert all("thinking" not in line["message"] for line in lines)
    assert "".join(line["message"]["content"] for line in lines) == "<think>hmm</think>ok"


def test_ollama_usage_overrides_and_finish_reason() -> None:
    reply = Reply("cut short", prompt_tokens=1234, completion_tokens=99, finish_reason="length")
    with ScriptedModelServer("ollama", [reply]) as server:
        _, lines = _ndjson(server)
    assert lines[-1]["prompt_eval_count"] == 1234
    assert lines[-1]["eval_count"] == 99
    assert lines[-1]["done_reason"] == "length"


def test_ollama_answers_without_streaming_when_asked() -> None:
    with ScriptedModelServer("ollama", [Reply(reasoning="r", text="whole")]) as server:
        response = httpx.post(server.base_url + "/api/chat", json=_chat_body("ollama", stream=False))
    data = response.json()
    assert data["done"] is True
    assert data["message"] == {"role": "assistant", "content": "whole", "thinking": "r"}


# -- OpenAI / llama.cpp wire format --------------------------------------------------------------

def test_openai_stream_matches_llama_cpp() -> None:
    reply = Reply(reasoning="plan first", text="Creating.", cached_tokens=2, timings={"draft_n": 0},
                  calls=[Call("Write", {"file_path": "a.py", "content": "x = 1\n"}, id="call_fixed")])
    with ScriptedModelServer("openai", [reply], chunk_tokens=3) as server:
        response, events = _sse(server)
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["transfer-encoding"] == "chunked"
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["id"].startswith("chatcmpl-") and chunk["id"] == chunks[0]["id"]
        assert {"created", "model", "system_fingerprint", "choices"} <= set(chunk)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "plan first"
    assert "".join(d.get("content") or "" for d in deltas) == "Creating."
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    first = calls[0]
    assert {k: first[k] for k in ("index", "id", "type")} == {"index": 0, "id": "call_fixed", "type": "function"}
    # Like the real llama-server, the first delta names the call and already carries argument text.
    assert first["function"]["name"] == "Write" and first["function"]["arguments"]
    pieces = [c["function"]["arguments"] for c in calls]
    assert len(pieces) > 1  # streamed in pieces, like the real server
    assert json.loads("".join(pieces)) == {"file_path": "a.py", "content": "x = 1\n"}
    finish = chunks[-2]["choices"][0]
    assert finish["finish_reason"] == "tool_calls" and finish["delta"] == {}
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    prompt = tokens.count("write a.py")
    assert usage_chunk["usage"]["prompt_tokens"] == prompt
    assert usage_chunk["usage"]["prompt_tokens_details"] == {"cached_tokens": 2}
    timings = usage_chunk["timings"]
    assert timings["cache_n"] == 2 and timings["prompt_n"] == prompt - 2
    assert timings["predicted_n"] == usage_chunk["usage"]["completion_tokens"]
    assert timings["draft_n"] == 0


def test_openai_usage_chunk_only_when_asked() -> None:
    with ScriptedModelServer("openai", [Reply("hi")]) as server:
        _, events = _sse(server, stream_options=None)
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(chunk["choices"] for chunk in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_openai_answers_without_streaming_when_asked() -> None:
    with ScriptedModelServer("openai", [Reply(text="whole", calls=[Call("Read", {"file_path": "a"})])]) as server:
        response = httpx.post(server.base_url + "/v1/chat/completions", json=_chat_body("openai", stream=False))
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "Read", "arguments": '{"file_path": "a"}'}


# -- pieces and pacing ---------------------------------------------------------------------------

def test_token_pieces_respect_the_chunk_size_and_never_split_a_character() -> None:
    text = "naïve café ☕ — 日本語のテキスト " * 5
    for size in (1, 2, 4, 7):
        pieces = token_pieces(text, size)
        assert "".join(p for p, _ in pieces) == text
        assert sum(n for _, n in pieces) == len(tokens.encode(text))
        assert all("\ufffd" not in p for p, _ in pieces)
        assert all(n <= size * 2 for _, n in pieces)  # a carried partial character adds at most one group


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
def test_each_line_or_event_carries_chunk_tokens(protocol: str) -> None:
    text = "one two three four five six seven eight nine ten eleven twelve"
    with ScriptedModelServer(protocol, [Reply(text)], chunk_tokens=2) as server:
        if protocol == "ollama":
            _, lines = _ndjson(server)
            pieces = [line["message"]["content"] for line in lines[:-1]]
        else:
            _, events = _sse(server)
            pieces = [json.loads(e)["choices"][0]["delta"].get("content") for e in events[1:-3]]
    assert pieces == [p for p, _ in token_pieces(text, 2)]
    assert all(len(tokens.encode(p)) <= 2 for p in pieces)


def test_tokens_per_second_paces_the_stream() -> None:
    text = "word " * 200  # 200 tokens
    with ScriptedModelServer("ollama", [Reply(text)], chunk_tokens=10, tokens_per_second=1000) as server:
        started = time.monotonic()
        _ndjson(server)
        elapsed = time.monotonic() - started
    assert 0.18 <= elapsed < 2.0


# -- scripts ---------------------------------------------------------------------------------------

def test_replies_in_order_then_the_default_reply() -> None:
    with ScriptedModelServer("ollama", [Reply("first"), Reply("second")],
                             default_reply=Reply("nothing left")) as server:
        texts = ["".join(line["message"]["content"] for line in _ndjson(server)[1]) for _ in range(3)]
        log = server.wait_finished(3)
    assert texts == ["first", "second", "nothing left"]
    assert [entry.exhausted for entry in log] == [False, False, True]
    assert server.exhausted == 1
    assert len(server.requests) == 3


def test_callable_script_sees_body_and_index() -> None:
    seen: list[tuple[str, int]] = []

    def script(body: dict[str, Any], index: int) -> Reply:
        seen.append((body["messages"][-1]["content"], index))
        return Reply(f"reply {index}")

    with ScriptedModelServer("ollama", script) as server:
        _, lines = _ndjson(server)
        _ndjson(server)
        server.replace_replies([Reply("fresh")])
        _, fresh = _ndjson(server)
    assert seen == [("write a.py", 0), ("write a.py", 1)]
    assert lines[0]["message"]["content"] == "reply 0"
    assert fresh[0]["message"]["content"] == "fresh"


def test_a_script_that_raises_answers_500_and_says_why() -> None:
    def script(body: dict[str, Any], index: int) -> Reply:
        raise KeyError("oops")

    with ScriptedModelServer("openai", script) as server:
        response = httpx.post(server.base_url + "/v1/chat/completions", json=_chat_body("openai"))
        entry = server.wait_finished(1)[0]
    assert response.status_code == 500 and "KeyError" in response.json()["error"]["message"]
    assert entry.script_error == "KeyError: 'oops'"


def test_callable_script_may_read_the_server_while_answering() -> None:
    holder: list[ScriptedModelServer] = []
    with ScriptedModelServer("ollama", lambda body, index: Reply(f"seen {len(holder[0].requests)}")) as server:
        holder.append(server)
        _, lines = _ndjson(server)
    assert lines[0]["message"]["content"] == "seen 0"


def test_delay_holds_back_the_response() -> None:
    with ScriptedModelServer("ollama", [Reply("late", delay=0.3)]) as server:
        started = time.monotonic()
        _ndjson(server)
    assert time.monotonic() - started >= 0.3


def test_script_round_trips_through_json(tmp_path: Path) -> None:
    script = ServerScript(replies=[Reply(reasoning="r", calls=[Call("Edit", '{"file_path": "a.py", "old')]),
                                   Reply("done", fault="stall", stall_seconds=0.5)], model="tiny")
    path = tmp_path / "script.json"
    path.write_text(script.model_dump_json())
    assert ServerScript.load(path) == script
    path.write_text(json.dumps([{"text": "just a list"}]))
    assert ServerScript.load(path).replies == [Reply("just a list")]


# -- discovery endpoints -------------------------------------------------------------------------

def test_ollama_discovery_endpoints() -> None:
    with ScriptedModelServer("ollama", models=["qwen3.5:9b", "gemma3:4b"], capabilities=["completion", "tools"],
                             context_length=40960, parameters="num_ctx 8192\nstop \"<|im_end|>\"") as server:
        base = server.base_url
        assert httpx.get(base + "/").text == "Ollama is running"
        assert [m["name"] for m in httpx.get(base + "/api/tags").json()["models"]] == ["qwen3.5:9b", "gemma3:4b"]
        assert httpx.get(base + "/api/version").json() == {"version": "0.12.6"}
        show = httpx.post(base + "/api/show", json={"model": "gemma3:4b"}).json()
        missing = httpx.post(base + "/api/show", json={"model": "nope"})
        assert httpx.get(base + "/v1/models").status_code == 404
    assert show["capabilities"] == ["completion", "tools"]
    assert show["model_info"]["qwen35.context_length"] == 40960
    assert show["parameters"].startswith("num_ctx 8192")
    assert missing.status_code == 404 and missing.json() == {"error": "model 'nope' not found"}


def test_openai_discovery_endpoints() -> None:
    with ScriptedModelServer("openai", model="tiny.gguf", n_ctx=4096, reasoning_budget=256) as server:
        base = server.base_url
        assert httpx.get(base + "/health").json() == {"status": "ok"}
        assert [m["id"] for m in httpx.get(base + "/v1/models").json()["data"]] == ["tiny.gguf"]
        props = httpx.get(base + "/props").json()
        tokenized = httpx.post(base + "/tokenize", json={"content": "hello world"}).json()
        assert httpx.get(base + "/api/tags").status_code == 404
    assert props["default_generation_settings"]["n_ctx"] == 4096
    assert props["default_generation_settings"]["params"]["reasoning_budget_tokens"] == 256
    assert props["chat_template_caps"]["supports_tool_calls"] is True
    assert tokenized == {"tokens": tokens.encode("hello world")}


def test_openai_api_key_is_enforced_except_on_public_endpoints() -> None:
    with ScriptedModelServer("openai", [Reply("ok")], api_key="sekret") as server:
        url = server.base_url + "/v1/chat/completions"
        refused = httpx.post(url, json=_chat_body("openai"))
        allowed = httpx.post(url, json=_chat_body("openai"), headers={"Authorization": "Bearer sekret"})
        public = httpx.get(server.base_url + "/v1/models")
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "authentication_error"
    assert allowed.status_code == 200 and allowed.text.endswith("data: [DONE]\n\n")
    assert public.status_code == 200


# -- faults ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("protocol", "fault", "status", "needle"), [
    ("ollama", "http_500", 500, "llama runner process has terminated"),
    ("ollama", "model_not_found", 404, "model 'qwen3.5:9b' not found"),
    ("ollama", "tools_unsupported", 400, "does not support tools"),
    ("ollama", "context_overflow", 400, "exceeds the context length"),
    ("openai", "http_500", 500, "server_error"),
    ("openai", "model_not_found", 404, "not_found_error"),
    ("openai", "tools_unsupported", 500, "requires --jinja"),
    ("openai", "context_overflow", 400, "exceed_context_size_error"),
])
def test_http_faults_answer_with_the_servers_error_json(protocol: str, fault: str, status: int, needle: str) -> None:
    with ScriptedModelServer(protocol, [Reply("x", fault=fault)], n_ctx=4096) as server:
        response = httpx.post(server.base_url + CHAT[protocol], json=_chat_body(protocol))
        log = server.wait_finished(1)
    assert response.status_code == status
    assert needle in response.text
    error = response.json()["error"]
    assert isinstance(error, str) if protocol == "ollama" else {"code", "message", "type"} <= set(error)
    assert log[0].status == status and log[0].completed


def test_503_has_no_body() -> None:
    with ScriptedModelServer("ollama", [Reply("x", fault="http_503_empty")]) as server:
        response = httpx.post(server.base_url + "/api/chat", json=_chat_body("ollama"))
    assert response.status_code == 503 and response.content == b""


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
def test_cut_closes_without_a_terminator(protocol: str) -> None:
    with ScriptedModelServer(protocol, [Reply("some words that will not all arrive", fault="cut")]) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(server.base_url + CHAT[protocol], json=_chat_body(protocol))
        log = server.wait_finished(1)
    assert not log[0].completed and log[0].tokens_sent > 0


def test_stall_pauses_then_finishes() -> None:
    with ScriptedModelServer("ollama", [Reply("a b c d e f g h", fault="stall", stall_seconds=0.4)],
                             chunk_tokens=1) as server:
        started = time.monotonic()
        _, lines = _ndjson(server)
        elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 2.0
    assert lines[-1]["done"] is True


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
def test_garbage_and_invalid_utf8_and_stream_error(protocol: str) -> None:
    replies = [Reply("alpha beta gamma", fault="garbage"), Reply("alpha beta gamma", fault="invalid_utf8"),
               Reply("alpha beta gamma", fault="stream_error")]
    with ScriptedModelServer(protocol, replies, chunk_tokens=1) as server:
        bodies = [httpx.post(server.base_url + CHAT[protocol], json=_chat_body(protocol)).content for _ in replies]
    garbage, invalid, error = bodies
    with pytest.raises(ValueError):
        for unit in garbage.split(b"\n"):
            if unit.strip():
                json.loads(unit.removeprefix(b"data: "))
    assert b"\xff\xfe\xfd" in invalid
    with pytest.raises(UnicodeDecodeError):
        invalid.decode("utf-8")
    assert invalid.decode("utf-8", errors="replace").count("\ufffd") >= 1
    assert b"the model runner stopped unexpectedly" in error
    assert b'"done":true' not in error and b"[DONE]" not in error


# -- disconnects -----------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", ["ollama", "openai"])
def test_client_disconnect_is_recorded_at_once(protocol: str) -> None:
    with ScriptedModelServer(protocol, [Reply(fault="never_ends")], tokens_per_second=2000) as server:
        with httpx.Client() as client, client.stream("POST", server.base_url + CHAT[protocol],
                                                     json=_chat_body(protocol)) as response:
            lines = response.iter_lines()
            for _ in range(5):
                next(lines)
        closed_at = time.monotonic()
        entry = server.wait_finished(1, timeout=1.0)[0]
    assert entry.client_closed_early and not entry.completed
    assert entry.finished_at is not None and entry.finished_at - closed_at < 1.0
    assert 0 < entry.tokens_sent < 2000


def test_disconnect_during_a_stall_ends_the_request() -> None:
    with ScriptedModelServer("ollama", [Reply("a b c d e f", fault="stall", stall_seconds=30)]) as server:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(server.base_url + "/api/chat", json=_chat_body("ollama"), timeout=httpx.Timeout(5, read=0.3))
        entry = server.wait_finished(1, timeout=2.0)[0]
    assert entry.client_closed_early


def test_never_ends_stops_at_its_cap() -> None:
    with ScriptedModelServer("openai", [Reply(fault="never_ends", never_ends_cap=300)]) as server:
        _, events = _sse(server)
    assert events[-1] == "[DONE]"
    assert json.loads(events[-3])["choices"][0]["finish_reason"] == "length"


# -- HTTP plumbing ---------------------------------------------------------------------------------

def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    with ScriptedModelServer("ollama", [Reply("one"), Reply("two")]) as server, httpx.Client() as client:
        for _ in range(2):
            assert client.post(server.base_url + "/api/chat", json=_chat_body("ollama")).status_code == 200
        assert client.get(server.base_url + "/api/tags").status_code == 200
        assert len(server.hits) == 3


def test_chunked_request_body_and_bad_requests() -> None:
    with ScriptedModelServer("ollama", [Reply("ok")]) as server:
        body = json.dumps(_chat_body("ollama", stream=False)).encode()
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
            answer = _read_http(sock)
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"NONSENSE\r\n\r\n")
            bad = _read_http(sock)
        not_json = httpx.post(server.base_url + "/api/chat", content=b"{")
    assert answer.startswith(b"HTTP/1.1 200 OK") and b'"content":"ok"' in answer
    assert bad.startswith(b"HTTP/1.1 400")
    assert not_json.status_code == 400 and "error" in not_json.json()


def _read_http(sock: socket.socket) -> bytes:
    sock.settimeout(3)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head = data.split(b"\r\n\r\n", 1)[0]
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    while len(data) < len(head) + 4 + length:
        data += sock.recv(65536)
    return data


def test_port_in_use_is_reported() -> None:
    with ScriptedModelServer("ollama") as first, pytest.raises(OSError):
        ScriptedModelServer("ollama", port=first.port).start()


def test_on_finished_hook_receives_each_log() -> None:
    finished: list[RequestLog] = []
    with ScriptedModelServer("ollama", [Reply("a")], on_finished=finished.append) as server:
        _ndjson(server)
        server.wait_finished(1)
    assert len(finished) == 1 and finished[0].completed and finished[0].tokens_sent == 1


# -- as a separate process -------------------------------------------------------------------------

def test_command_line_server(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"replies": [{"text": "from a file"}], "model": "file-model"}))
    log = tmp_path / "log.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.model_server", "--protocol", "openai", "--script", str(script),
         "--log", str(log)],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        base = ready["base_url"]
        assert ready["protocol"] == "openai"
        assert httpx.get(base + "/v1/models").json()["data"][0]["id"] == "file-model"
        text = httpx.post(base + "/v1/chat/completions", json=_chat_body("openai")).text
        assert "from a file" in text
        deadline = time.monotonic() + 5
        while not (log.exists() and log.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.02)
        entry = RequestLog.model_validate_json(log.read_text().splitlines()[0])
        assert entry.completed and entry.body["messages"][0]["content"] == "write a.py"
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0
        assert process.stdout is not None
        process.stdout.close()
