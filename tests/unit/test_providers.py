"""Both providers against the scripted server over real HTTP: parsing, request bodies, errors,
early close; plus the framing helpers and the tool-call assembler on their own."""

from __future__ import annotations

import asyncio
import socket
import time
from contextlib import aclosing
from typing import Any

import httpx
import pytest

from agent import tokens
from agent.messages import AssistantMessage, SystemMessage, ToolCall, ToolMessage, UserMessage
from agent.providers.assemble import ToolCallAssembler
from agent.providers.base import (
    ChatRequest,
    Provider,
    ProviderError,
    ReasoningChunk,
    StreamDelta,
    StreamEnd,
    TextChunk,
    ToolCallChunk,
    ToolSpec,
)
from agent.providers.http import LineSplitter, ServerErrors, SSEDecoder, extract_error
from agent.providers.ollama import OllamaProvider
from agent.providers.openai_compat import OpenAICompatProvider
from tests.fakes.model_server import Call, Reply, ScriptedModelServer
from tests.fakes.wire import token_pieces

PROTOCOLS = ["ollama", "openai"]
WRITE = ToolSpec(name="Write", description="Create a file", parameters={
    "type": "object", "properties": {"file_path": {"type": "string"}, "content": {"type": "string"}}})


def _provider(protocol: str, base_url: str, *, stall: float = 10.0,
              api_key: str | None = None) -> OllamaProvider | OpenAICompatProvider:
    if protocol == "ollama":
        return OllamaProvider(base_url, connect_timeout=2.0, stall_timeout=stall)
    return OpenAICompatProvider(base_url, connect_timeout=2.0, stall_timeout=stall, api_key=api_key)


def _request(**changes: Any) -> ChatRequest:
    base: dict[str, Any] = {"model": "qwen3.5:9b", "temperature": 0.6, "context_size": 16384,
                            "messages": [SystemMessage(content="You write code."), UserMessage(content="make a.py")]}
    return ChatRequest(**{**base, **changes})


async def _collect(provider: OllamaProvider | OpenAICompatProvider, request: ChatRequest) -> list[StreamDelta]:
    try:
        async with aclosing(provider.stream(request)) as stream:
            return [delta async for delta in stream]
    finally:
        await provider.aclose()


async def _error(protocol: str, server: ScriptedModelServer, **kwargs: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await _collect(_provider(protocol, server.base_url, **kwargs), _request(tools=[WRITE]))
    return info.value


def _texts(deltas: list[StreamDelta], kind: type[TextChunk] | type[ReasoningChunk]) -> str:
    return "".join(d.text for d in deltas if isinstance(d, (TextChunk, ReasoningChunk)) and isinstance(d, kind))


def _calls(deltas: list[StreamDelta]) -> ToolCallAssembler:
    assembler = ToolCallAssembler()
    for delta in deltas:
        if isinstance(delta, ToolCallChunk):
            assembler.feed(delta)
    return assembler


# -- parsing -------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_text_reasoning_and_tool_calls(protocol: str) -> None:
    reply = Reply(reasoning="I should write the file.", text="Writing it now.", calls=[
        Call("Write", {"file_path": "a.py", "content": "x = 1\n"}),
        Call("Write", {"file_path": "b.py", "content": "y = \"ü\"\n"}),
    ])
    with ScriptedModelServer(protocol, [reply], chunk_tokens=3) as server:
        deltas = await _collect(_provider(protocol, server.base_url), _request(tools=[WRITE]))
    assert _texts(deltas, ReasoningChunk) == "I should write the file."
    assert _texts(deltas, TextChunk) == "Writing it now."
    calls = _calls(deltas).finish()
    assert [(c.name, c.arguments) for c in calls] == [
        ("Write", {"file_path": "a.py", "content": "x = 1\n"}),
        ("Write", {"file_path": "b.py", "content": "y = \"ü\"\n"}),
    ]
    assert len({c.id for c in calls}) == 2
    assert isinstance(deltas[-1], StreamEnd)
    assert sum(isinstance(d, StreamEnd) for d in deltas) == 1
    assert deltas[-1].finish_reason == ("stop" if protocol == "ollama" else "tool_calls")


async def test_ollama_calls_without_ids_get_unique_ones_and_string_arguments_stay_raw() -> None:
    reply = Reply(calls=[Call("Read", {"file_path": "a.py"}), Call("Edit", '{"file_path": "a.py", "old_string": ')])
    with ScriptedModelServer("ollama", [reply]) as server:
        deltas = await _collect(_provider("ollama", server.base_url), _request())
    chunks = [d for d in deltas if isinstance(d, ToolCallChunk)]
    assert [c.id for c in chunks] == ["call_0", "call_1"]
    assert chunks[0].arguments == {"file_path": "a.py"}
    read, edit = _calls(deltas).finish()
    assert read.arguments == {"file_path": "a.py"}
    assert edit.arguments is None and edit.raw == '{"file_path": "a.py", "old_string": '


async def test_openai_fragments_are_assembled_by_index_and_bad_json_kept_raw() -> None:
    reply = Reply(calls=[Call("Write", {"file_path": "a.py", "content": "print('hi')\n" * 5}, id="call_a"),
                         Call("Edit", '{"file_path": "a.py", "old_string": "x', id="call_b")])
    with ScriptedModelServer("openai", [reply], chunk_tokens=2) as server:
        deltas = await _collect(_provider("openai", server.base_url), _request())
    chunks = [d for d in deltas if isinstance(d, ToolCallChunk)]
    assert len(chunks) > 10  # many fragments, not one per call
    write, edit = _calls(deltas).finish()
    assert (write.id, write.name, write.arguments) == ("call_a", "Write",
                                                       {"file_path": "a.py", "content": "print('hi')\n" * 5})
    assert (edit.id, edit.name, edit.arguments) == ("call_b", "Edit", None)
    assert edit.raw == '{"file_path": "a.py", "old_string": "x'


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_think_tags_pass_through_as_text(protocol: str) -> None:
    with ScriptedModelServer(protocol, [Reply(reasoning="weigh it", text="answer", think_tags=True)]) as server:
        deltas = await _collect(_provider(protocol, server.base_url), _request())
    assert _texts(deltas, TextChunk) == "<think>weigh it</think>answer"
    assert _texts(deltas, ReasoningChunk) == ""


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_one_delta_per_line_or_event(protocol: str) -> None:
    reasoning = "first I look at the file, then I decide what to change and why"
    with ScriptedModelServer(protocol, [Reply(reasoning=reasoning)], chunk_tokens=1) as server:
        deltas = await _collect(_provider(protocol, server.base_url), _request())
    pieces = [d.text for d in deltas if isinstance(d, ReasoningChunk)]
    assert pieces == [p for p, _ in token_pieces(reasoning, 1)]


async def test_ollama_usage_and_durations() -> None:
    with ScriptedModelServer("ollama", [Reply("ok"), Reply("ok", prompt_tokens=5000, completion_tokens=7,
                                                           finish_reason="length")]) as server:
        first = (await _collect(_provider("ollama", server.base_url), _request()))[-1]
        second = (await _collect(_provider("ollama", server.base_url), _request()))[-1]
    assert isinstance(first, StreamEnd) and isinstance(second, StreamEnd)
    assert first.usage.prompt_tokens == tokens.count("You write code.") + tokens.count("make a.py")
    assert first.usage.completion_tokens == 1
    assert first.usage.timings["eval_duration"] > 0
    assert (second.usage.prompt_tokens, second.usage.completion_tokens, second.finish_reason) == (5000, 7, "length")


async def test_openai_usage_cached_tokens_and_timings() -> None:
    reply = Reply("ok", prompt_tokens=1841, cached_tokens=1812, completion_tokens=3, finish_reason="length")
    with ScriptedModelServer("openai", [reply]) as server:
        end = (await _collect(_provider("openai", server.base_url), _request()))[-1]
    assert isinstance(end, StreamEnd)
    assert (end.usage.prompt_tokens, end.usage.completion_tokens, end.usage.cached_tokens) == (1841, 3, 1812)
    assert end.usage.timings["cache_n"] == 1812 and end.usage.timings["prompt_n"] == 29
    assert end.finish_reason == "length"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_list_models(protocol: str) -> None:
    with ScriptedModelServer(protocol, models=["m1", "m2"]) as server:
        provider = _provider(protocol, server.base_url)
        try:
            assert await provider.list_models() == ["m1", "m2"]
        finally:
            await provider.aclose()


# -- request bodies ------------------------------------------------------------------------------

HISTORY = [
    SystemMessage(content="You write code."),
    UserMessage(content="make a.py"),
    AssistantMessage(content="", reasoning="hidden", tool_calls=(
        ToolCall(id="call_7", name="Write", arguments={"file_path": "a.py", "content": "x"}),
        ToolCall(id="call_8", name="Edit", arguments={}, raw_arguments='{"file_path": "a.py",'),
    )),
    ToolMessage(tool_call_id="call_7", name="Write", content="created a.py"),
    ToolMessage(tool_call_id="call_8", name="Edit", content="arguments were not JSON", is_error=True),
    AssistantMessage(content="Done."),
]


async def test_ollama_request_body() -> None:
    request = _request(messages=HISTORY, tools=[WRITE], think=True, keep_alive="30m", max_output_tokens=2048)
    with ScriptedModelServer("ollama", [Reply("ok")]) as server:
        await _collect(_provider("ollama", server.base_url), request)
        body = server.requests[0]
    assert body["stream"] is True and body["think"] is True and body["keep_alive"] == "30m"
    assert body["options"] == {"num_ctx": 16384, "temperature": 0.6, "num_predict": 2048}
    assert body["tools"] == [{"type": "function", "function": {
        "name": "Write", "description": "Create a file", "parameters": WRITE.parameters}}]
    assert body["messages"] == [
        {"role": "system", "content": "You write code."},
        {"role": "user", "content": "make a.py"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "Write", "arguments": {"file_path": "a.py", "content": "x"}}},
            {"function": {"name": "Edit", "arguments": {}}}]},
        {"role": "tool", "content": "created a.py", "tool_name": "Write"},
        {"role": "tool", "content": "arguments were not JSON", "tool_name": "Edit"},
        {"role": "assistant", "content": "Done."},
    ]


async def test_ollama_body_always_sends_num_ctx_and_temperature() -> None:
    with ScriptedModelServer("ollama", [Reply("ok")]) as server:
        await _collect(_provider("ollama", server.base_url), _request(temperature=0.0))
        body = server.requests[0]
    assert body["options"] == {"num_ctx": 16384, "temperature": 0.0}
    assert {"think", "keep_alive", "tools"}.isdisjoint(body)


async def test_openai_request_body() -> None:
    request = _request(messages=HISTORY, tools=[WRITE], think=False, max_output_tokens=512,
                       extra_body={"chat_template_kwargs": {"preserve_thinking": True}, "top_k": 20})
    with ScriptedModelServer("openai", [Reply("ok")]) as server:
        await _collect(_provider("openai", server.base_url, api_key="sekret"), request)
        body = server.requests[0]
        headers = server.log[0].headers
    assert headers["authorization"] == "Bearer sekret"
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.6 and body["max_tokens"] == 512 and body["top_k"] == 20
    assert body["tool_choice"] == "auto" and body["tools"][0]["function"]["name"] == "Write"
    assert body["chat_template_kwargs"] == {"preserve_thinking": True, "enable_thinking": False}
    assert "num_ctx" not in body and "options" not in body
    assert body["messages"][2] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_7", "type": "function",
         "function": {"name": "Write", "arguments": '{"file_path": "a.py", "content": "x"}'}},
        {"id": "call_8", "type": "function", "function": {"name": "Edit", "arguments": '{"file_path": "a.py",'}}]}
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "call_7", "content": "created a.py"}
    assert body["messages"][5] == {"role": "assistant", "content": "Done."}


async def test_openai_body_without_options() -> None:
    with ScriptedModelServer("openai", [Reply("ok")]) as server:
        await _collect(_provider("openai", server.base_url), _request(think=True))
        body = server.requests[0]
        headers = server.log[0].headers
    assert {"chat_template_kwargs", "tools", "tool_choice", "max_tokens"}.isdisjoint(body)
    assert "authorization" not in headers


# -- errors --------------------------------------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(("protocol", "command"), [("ollama", "ollama serve"), ("openai", "llama-server -m")])
async def test_connection_refused_names_the_url_and_what_to_start(protocol: str, command: str) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(ProviderError) as info:
        await _collect(_provider(protocol, url), _request())
    assert info.value.kind == "connection"
    assert url in info.value.message
    assert command in info.value.hint
    assert url in str(info.value) and command in str(info.value)


@pytest.mark.parametrize(("protocol", "server_words"), [
    ("ollama", "llama runner process has terminated"), ("openai", "the model failed to decode the batch")])
async def test_http_500_carries_the_servers_message(protocol: str, server_words: str) -> None:
    with ScriptedModelServer(protocol, [Reply(fault="http_500")]) as server:
        error = await _error(protocol, server)
    assert (error.kind, error.status) == ("http", 500)
    assert server_words in error.message and "500" in error.message
    assert error.url.endswith("/api/chat" if protocol == "ollama" else "/v1/chat/completions")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_http_503_without_body(protocol: str) -> None:
    with ScriptedModelServer(protocol, [Reply(fault="http_503_empty")]) as server:
        error = await _error(protocol, server)
    assert (error.kind, error.status) == ("http", 503)
    assert "no body" in error.message and "loading" in error.hint


async def test_ollama_model_not_found_says_how_to_pull() -> None:
    with ScriptedModelServer("ollama", [Reply(fault="model_not_found")]) as server:
        error = await _error("ollama", server)
    assert (error.kind, error.status) == ("model_not_found", 404)
    assert "ollama pull qwen3.5:9b" in error.hint
    assert "qwen3.5:9b" in error.message


async def test_openai_model_not_found() -> None:
    with ScriptedModelServer("openai", [Reply(fault="model_not_found")]) as server:
        error = await _error("openai", server)
    assert error.kind == "model_not_found" and "/v1/models" in error.hint


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_tools_unsupported(protocol: str) -> None:
    with ScriptedModelServer(protocol, [Reply(fault="tools_unsupported")]) as server:
        error = await _error(protocol, server)
    assert error.kind == "tools_unsupported"
    assert "text" in error.hint


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_context_overflow(protocol: str) -> None:
    with ScriptedModelServer(protocol, [Reply(fault="context_overflow")], n_ctx=4096) as server:
        error = await _error(protocol, server)
    assert error.kind == "context_overflow" and "4096" in error.message


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_cut_stream(protocol: str) -> None:
    with ScriptedModelServer(protocol, [Reply("several words of text here", fault="cut")], chunk_tokens=1) as server:
        error = await _error(protocol, server)
    assert error.kind == "stream_cut" and "crashed" in error.hint


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_stream_that_ends_without_its_terminator(protocol: str) -> None:
    # The server closes the body cleanly (chunked terminator) but never sends done / [DONE].
    with ScriptedModelServer(protocol, [Reply("words", fault="stream_error", fault_after=99)]) as server:
        error = await _error(protocol, server)
    assert error.kind == "stream_cut"
    assert "the model runner stopped unexpectedly" in error.message


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_stall(protocol: str) -> None:
    with ScriptedModelServer(protocol, [Reply("a b c d e f g", fault="stall", stall_seconds=5)]) as server:
        started = time.monotonic()
        error = await _error(protocol, server, stall=0.3)
        elapsed = time.monotonic() - started
        entry = server.wait_finished(1, timeout=2)[0]
    assert error.kind == "stall" and "0.3 s" in error.message
    assert elapsed < 2.0
    assert entry.client_closed_early


async def test_stall_before_the_first_byte() -> None:
    with ScriptedModelServer("ollama", [Reply("late", delay=5)]) as server:
        error = await _error("ollama", server, stall=0.2)
    assert error.kind == "stall"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_garbage_line(protocol: str) -> None:
    with ScriptedModelServer(protocol, [Reply("a b c d e f", fault="garbage")], chunk_tokens=1) as server:
        error = await _error(protocol, server)
    assert error.kind == "bad_response" and "not JSON" in error.message


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_invalid_utf8_is_replaced_not_fatal(protocol: str) -> None:
    with ScriptedModelServer(protocol, [Reply("a b c d e f", fault="invalid_utf8")], chunk_tokens=1) as server:
        deltas = await _collect(_provider(protocol, server.base_url), _request())
    text = _texts(deltas, TextChunk)
    injected = "café \ufffd\ufffd\ufffd ok "  # from b"caf\xc3\xa9 \xff\xfe\xfd ok "
    assert injected in text and text.replace(injected, "") == "a b c d e f"
    assert isinstance(deltas[-1], StreamEnd)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_no_httpx_exception_escapes_a_bad_url(protocol: str) -> None:
    with pytest.raises(ProviderError) as info:
        await _collect(_provider(protocol, "http://[::1"), _request())
    assert info.value.kind == "connection"


async def test_wrong_endpoint_hints_at_the_base_url() -> None:
    with ScriptedModelServer("ollama") as server:  # an Ollama server has no /v1/chat/completions here
        error = await _error("openai", server)
    assert (error.kind, error.status) == ("http", 404)
    assert "404 page not found" in error.message and "--base-url" in error.hint


def test_thinking_refusal_and_auth_failures_get_their_own_hints() -> None:
    errors = ServerErrors("Ollama", "http://h", "start it", lambda m: f"pull {m}", model="gemma3")
    thinking = errors.from_status(400, b'{"error": "\\"gemma3\\" does not support thinking"}', "http://h/api/chat")
    assert thinking.kind == "thinking_unsupported" and "thinking_budget = 0" in thinking.hint
    auth = errors.from_status(401, b'{"error": {"message": "Invalid API Key", "type": "authentication_error"}}', "u")
    assert "LITTLE_CODER_API_KEY" in auth.hint and "Invalid API Key" in auth.message
    missing = errors.from_status(404, b'{"error": "model \'gemma3\' not found"}', "u")
    assert missing.kind == "model_not_found" and missing.hint == "pull gemma3"


async def test_a_base_url_with_v1_is_taken_at_the_root() -> None:
    with ScriptedModelServer("openai", [Reply("ok")]) as server:
        provider = _provider("openai", server.base_url + "/v1/")
        assert provider.base_url == server.base_url
        deltas = await _collect(provider, _request())
    assert _texts(deltas, TextChunk) == "ok"


async def test_a_line_that_never_ends_is_a_bad_response(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agent.providers.http.MAX_LINE_BYTES", 64)
    with ScriptedModelServer("ollama", [Reply("word " * 100)], chunk_tokens=100) as server:
        error = await _error("ollama", server)
    assert error.kind == "bad_response" and "64 bytes" in error.message


# -- closing early -------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_breaking_out_closes_the_connection_within_a_second(protocol: str) -> None:
    with ScriptedModelServer(protocol, [Reply(fault="never_ends")], tokens_per_second=5000) as server:
        provider = _provider(protocol, server.base_url)
        received = 0
        async with aclosing(provider.stream(_request())) as stream:
            async for delta in stream:
                received += isinstance(delta, TextChunk)
                if received == 5:
                    break
        closed_at = time.monotonic()
        entry = await asyncio.to_thread(server.wait_finished, 1, 1.0)
        await provider.aclose()
    assert entry[0].client_closed_early and not entry[0].completed
    assert entry[0].finished_at is not None and entry[0].finished_at - closed_at < 1.0
    assert entry[0].tokens_sent < 1000


async def test_cancelling_the_consumer_closes_the_connection() -> None:
    with ScriptedModelServer("openai", [Reply(fault="never_ends")], tokens_per_second=5000) as server:
        provider = _provider("openai", server.base_url)
        started = asyncio.Event()

        async def consume() -> None:
            async with aclosing(provider.stream(_request())) as stream:
                async for _ in stream:
                    started.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        entry = await asyncio.to_thread(server.wait_finished, 1, 1.0)
        await provider.aclose()
    assert entry[0].client_closed_early


async def test_a_shared_client_is_not_closed_by_the_provider() -> None:
    with ScriptedModelServer("ollama", [Reply("one"), Reply("two")]) as server:
        async with httpx.AsyncClient() as client:
            for expected in ("one", "two"):
                provider = OllamaProvider(server.base_url, connect_timeout=2, stall_timeout=5, client=client)
                deltas = await _collect(provider, _request())
                assert _texts(deltas, TextChunk) == expected
            assert not client.is_closed


# -- framing helpers -----------------------------------------------------------------------------

def test_line_splitter_handles_every_line_ending_across_chunks() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"one\r") == []  # the CR may be half of a CRLF
    assert splitter.feed(b"\ntwo\rthree\nfo") == [b"one", b"two", b"three"]
    # U+2028 is a line break to str.splitlines() but not to NDJSON or SSE.
    assert splitter.feed("ur\u2028x\n".encode()) == ["four\u2028x".encode()]
    assert splitter.feed(b"tail") == []
    assert splitter.flush() == [b"tail"]
    with pytest.raises(ValueError):
        LineSplitter(max_line=10).feed(b"x" * 11)


def test_sse_decoder_follows_the_spec() -> None:
    decoder = SSEDecoder()
    lines = [": keep-alive comment", "event: update", "data: first", "data:second", "id: 7", "",
             "data", "", "retry: 100", "", "data: {\"a\": 1}", ""]
    events = [e for e in (decoder.feed_line(line) for line in lines) if e is not None]
    assert [(e.event, e.data, e.id) for e in events] == [
        ("update", "first\nsecond", "7"), ("message", "", "7"), ("message", '{"a": 1}', "7")]


def test_extract_error_reads_every_shape() -> None:
    assert extract_error(b'{"error": "model \'x\' not found"}') == ("model 'x' not found", "")
    assert extract_error(b'{"error": {"code": 400, "message": "too big", "type": "exceed_context_size_error"}}') \
        == ("too big", "exceed_context_size_error 400")
    assert extract_error(b"<html>bad gateway</html>") == ("<html>bad gateway</html>", "")
    assert extract_error(b"  ") == ("no body", "")
    assert extract_error(b"x" * 2000)[0].endswith(" …")


# -- assembler -----------------------------------------------------------------------------------

def test_assembler_orders_by_index_and_generates_stable_ids() -> None:
    assembler = ToolCallAssembler(id_prefix="call_t3")
    for chunk in [
        ToolCallChunk(index=1, name="Read"),
        ToolCallChunk(index=0, id="given", name="Write", arguments_fragment='{"file_path":'),
        ToolCallChunk(index=1, arguments_fragment='{"file_path": "b"}'),
        ToolCallChunk(index=0, arguments_fragment=' "a"}'),
        ToolCallChunk(index=2, name="Glob"),
        ToolCallChunk(index=3, name="Grep", arguments_fragment="[1, 2]"),
        ToolCallChunk(index=4, name="Bash", arguments={"command": "ls"}),
    ]:
        assembler.feed(chunk)
    calls = assembler.finish()
    assert [(c.index, c.id, c.name, c.arguments) for c in calls] == [
        (0, "given", "Write", {"file_path": "a"}),
        (1, "call_t3_1", "Read", {"file_path": "b"}),
        (2, "call_t3_2", "Glob", {}),
        (3, "call_t3_3", "Grep", None),
        (4, "call_t3_4", "Bash", {"command": "ls"}),
    ]
    assert calls[0].raw == '{"file_path": "a"}' and calls[3].raw == "[1, 2]"
    assert calls[4].raw == '{"command": "ls"}'
    assert ToolCallAssembler().finish() == [] and not ToolCallAssembler()


async def test_providers_satisfy_the_protocol() -> None:
    ollama: Provider = OllamaProvider("http://127.0.0.1:1/", connect_timeout=1, stall_timeout=1)
    openai: Provider = OpenAICompatProvider("http://127.0.0.1:1", connect_timeout=1, stall_timeout=1)
    assert (ollama.name, ollama.base_url) == ("ollama", "http://127.0.0.1:1")
    assert (openai.name, openai.base_url) == ("openai", "http://127.0.0.1:1")
    await ollama.aclose()
    await openai.aclose()
