"""Our OpenAI-compatible provider against a real llama-server, and the scripted server checked against it.

The real server decides what the wire looks like; the scripted one (tests/fakes/wire_openai.py) is
what most tests run against, so its shape is compared field by field with the real server's.
(llama-server serves no Ollama protocol: /api/chat and /api/show answer 404, so the Ollama provider
is checked against the scripted server only.)
"""

from __future__ import annotations

import json
import re
import socket
from typing import Any

import httpx
import pytest

from agent.embedded import EmbeddedServer
from agent.messages import AssistantMessage, Message, SystemMessage, ToolCall, ToolMessage, UserMessage
from agent.providers.base import ChatRequest, ProviderError, ToolSpec
from agent.providers.openai_compat import OpenAICompatProvider, chat_body
from tests.fakes.model_server import ScriptedModelServer
from tests.fakes.script import Call, Reply
from tests.realmodel.conftest import collect

READ = ToolSpec(name="Read", description="Read a file of the project.",
                parameters={"type": "object", "properties": {"file_path": {"type": "string"}},
                            "required": ["file_path"]})


def provider(server: EmbeddedServer | ScriptedModelServer) -> OpenAICompatProvider:
    return OpenAICompatProvider(server.base_url, connect_timeout=5.0, stall_timeout=120.0)


def request(messages: list[Message], **fields: Any) -> ChatRequest:
    values: dict[str, Any] = {"model": "smollm2:135m", "temperature": 0.0, "context_size": 4096,
                              "max_output_tokens": 16}
    values.update(fields)
    return ChatRequest(messages=messages, **values)


def ask(text: str) -> list[Message]:
    return [SystemMessage(content="You are a helpful assistant."), UserMessage(content=text)]


def few_shot_read(path: str) -> list[Message]:
    """A conversation that gets even SmolLM2 to emit a native call through the Qwen3.5 template: three
    earlier Read calls as examples, and the start of the call's XML prefilled in the assistant turn
    (llama-server continues a trailing assistant message and parses the continuation)."""
    messages: list[Message] = [SystemMessage(content="You read files with the Read tool.")]
    for index, name in enumerate(["notes.txt", "main.py", "setup.cfg"]):
        call = ToolCall(id=f"c{index}", name="Read", arguments={"file_path": name})
        messages += [UserMessage(content=f"Read the file {name}"), AssistantMessage(content="", tool_calls=(call,)),
                     ToolMessage(tool_call_id=call.id, name="Read", content="(contents)"),
                     AssistantMessage(content="Done.")]
    messages += [UserMessage(content=f"Read the file {path}"),
                 AssistantMessage(content="<tool_call>\n<function=Read>\n<parameter=file_path>\n")]
    return messages


# -- streaming, usage, timings, finish reasons ---------------------------------------------------

async def test_streamed_text_with_usage_and_timings(llama: EmbeddedServer) -> None:
    p = provider(llama)
    try:
        got = await collect(p, request(ask("Count from one to twenty in words."), max_output_tokens=5))
    finally:
        await p.aclose()
    assert got.text.strip() and got.kinds[-1] == "end" and set(got.kinds) == {"text", "end"}
    assert got.end is not None and got.end.finish_reason == "length"
    usage = got.end.usage
    timings = usage.timings
    assert usage.completion_tokens == 5 == timings["predicted_n"]
    assert usage.prompt_tokens == timings["prompt_n"] + timings["cache_n"] > 10
    assert usage.cached_tokens == timings["cache_n"]
    assert timings["prompt_ms"] > 0 and timings["predicted_ms"] > 0


async def test_a_reply_that_ends_by_itself_finishes_with_stop(llama: EmbeddedServer) -> None:
    p = provider(llama)
    try:
        got = await collect(p, request(ask("What is 2+2? Answer with one number."), max_output_tokens=40))
    finally:
        await p.aclose()
    assert got.end is not None and got.end.finish_reason == "stop"
    assert got.text.strip() and got.end.usage.completion_tokens is not None
    assert got.end.usage.completion_tokens < 40


async def test_a_follow_up_reuses_the_cached_prefix(llama: EmbeddedServer) -> None:
    system = SystemMessage(content="You are a careful assistant for a small software project. " * 20)
    first_messages: list[Message] = [system, UserMessage(content="Name one sorting algorithm.")]
    p = provider(llama)
    try:
        first = await collect(p, request(first_messages, max_output_tokens=8))
        follow_up = [*first_messages, AssistantMessage(content=first.text), UserMessage(content="And another?")]
        second = await collect(p, request(follow_up, max_output_tokens=8))
    finally:
        await p.aclose()
    assert first.end is not None and second.end is not None
    earlier = first.end.usage.prompt_tokens
    timings = second.end.usage.timings
    assert earlier is not None and earlier > 200
    assert timings["cache_n"] >= earlier  # the whole first prompt came from the KV cache
    assert timings["prompt_n"] < 40  # only the new turn was evaluated
    assert second.end.usage.cached_tokens == timings["cache_n"]


async def test_a_prompt_longer_than_the_context_is_a_context_overflow(small_llama: EmbeddedServer) -> None:
    p = provider(small_llama)
    try:
        with pytest.raises(ProviderError) as info:
            await collect(p, request(ask("word " * 700)))
    finally:
        await p.aclose()
    error = info.value
    assert error.kind == "context_overflow" and error.status == 400
    assert "exceeds the available context size (512 tokens)" in error.message
    assert "-c N" in error.hint


async def test_a_bad_request_is_an_http_error_with_the_servers_words(llama: EmbeddedServer) -> None:
    p = provider(llama)
    try:
        with pytest.raises(ProviderError) as info:
            await collect(p, request(ask("hi"), extra_body={"response_format": {"type": "bogus"}}))
    finally:
        await p.aclose()
    error = info.value
    assert error.kind == "http" and error.status == 400
    assert "response_format type must be one of" in error.message and error.hint


async def test_tools_are_dropped_silently_when_the_template_cannot_render_them(llama: EmbeddedServer) -> None:
    """Why the probe trusts /props chat_template_caps and not "the server accepted `tools`"."""
    p = provider(llama)
    try:
        plain = await collect(p, request(ask("Read the file a.py"), max_output_tokens=1))
        offered = await collect(p, request(ask("Read the file a.py"), tools=[READ], max_output_tokens=1))
    finally:
        await p.aclose()
    assert plain.end is not None and offered.end is not None
    assert offered.end.usage.prompt_tokens == plain.end.usage.prompt_tokens
    assert offered.calls == []


async def test_usage_counts_the_templated_prompt_in_the_servers_tokens(llama: EmbeddedServer) -> None:
    messages = ask("Explain recursion in one sentence.")
    async with httpx.AsyncClient(base_url=llama.base_url, timeout=30.0) as client:
        body = chat_body(request(messages))
        prompt = (await client.post("/apply-template", json=body)).json()["prompt"]
        ids = (await client.post("/tokenize", json={"content": prompt, "add_special": True,
                                                    "parse_special": True})).json()["tokens"]
        empty = (await client.post("/tokenize", json={})).json()
    assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")
    assert empty == {"tokens": []}
    p = provider(llama)
    try:
        got = await collect(p, request(messages, max_output_tokens=1))
    finally:
        await p.aclose()
    assert got.end is not None and got.end.usage.prompt_tokens == len(ids)


async def test_back_to_back_streams_survive_the_server_closing_each_connection(llama: EmbeddedServer) -> None:
    """llama-server answers `Keep-Alive` yet closes the connection after every streamed response; a
    client that pooled it and sent the next request at once would get "Server disconnected without
    sending a response". The provider stops reading at `data: [DONE]`, which closes the response
    unread, so it never reuses such a connection."""
    body = json.dumps(chat_body(request(ask("hi"), max_output_tokens=1))).encode()
    with socket.create_connection(("127.0.0.1", llama.port), timeout=30) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert b"keep-alive: timeout=" in received.lower() and received.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")
    p = provider(llama)
    try:
        for index in range(12):
            got = await collect(p, request(ask(f"Say {index}."), max_output_tokens=1))
            assert got.end is not None and got.end.usage.completion_tokens == 1
    finally:
        await p.aclose()


# -- native tool calls and reasoning, through the Qwen3.5 template --------------------------------

async def test_a_native_tool_call_streams_and_assembles(qwen_llama: EmbeddedServer) -> None:
    p = provider(qwen_llama)
    try:
        got = await collect(p, request(few_shot_read("a.py"), tools=[READ], think=False, max_output_tokens=40,
                                       extra_body={"tool_choice": "required"}))
    finally:
        await p.aclose()
    assert got.end is not None and got.end.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in got.calls] == [("Read", {"file_path": "a.py"})]
    assert re.fullmatch(r"[A-Za-z0-9]{32}", got.calls[0].id)
    assert "tool_call" in got.kinds and got.text == ""


async def test_reasoning_arrives_in_its_own_field(qwen_llama: EmbeddedServer) -> None:
    p = provider(qwen_llama)
    try:
        thinking = await collect(p, request(ask("Is 17 a prime number?"), max_output_tokens=12))
        direct = await collect(p, request(ask("Is 17 a prime number?"), think=False, max_output_tokens=12))
    finally:
        await p.aclose()
    assert thinking.reasoning.strip() and "<think>" not in thinking.text
    assert "reasoning" in thinking.kinds
    assert direct.reasoning == "" and direct.text.strip()  # enable_thinking=false closed the think block


# -- the scripted server, field by field ----------------------------------------------------------

def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and value types, not values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def sse_chunks(response: httpx.Response) -> list[dict[str, Any]]:
    events = [line[len("data: "):] for line in response.text.split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return [json.loads(event) for event in events[:-1]]


def roles(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """One example chunk of each kind, by what it carries."""
    found: dict[str, Any] = {}
    for chunk in chunks:
        if not chunk["choices"]:
            found.setdefault("usage", chunk)
            continue
        choice = chunk["choices"][0]
        delta = choice["delta"]
        if choice["finish_reason"]:
            kind = "finish"
        elif "role" in delta:
            kind = "role"
        elif "tool_calls" in delta:
            kind = "tool_head" if "id" in delta["tool_calls"][0] else "tool_piece"
        else:
            kind = next(iter(delta))  # "content" or "reasoning_content"
        found.setdefault(kind, chunk)
    return found


def stream_body(messages: list[Message], **fields: Any) -> dict[str, Any]:
    return chat_body(request(messages, **fields))


def post(base_url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{base_url}/v1/chat/completions", json=body, timeout=60.0)


def test_scripted_text_stream_has_the_real_shape(llama: EmbeddedServer) -> None:
    body = stream_body(ask("Count from one to twenty in words."), max_output_tokens=6)
    real = post(llama.base_url, body)
    with ScriptedModelServer("openai", [Reply("One, two, three, four.")]) as fake_server:
        fake = post(fake_server.base_url, body)
    assert fake.headers["content-type"] == real.headers["content-type"] == "text/event-stream"
    real_kinds, fake_kinds = roles(sse_chunks(real)), roles(sse_chunks(fake))
    assert set(real_kinds) == set(fake_kinds) == {"role", "content", "finish", "usage"}
    for kind in real_kinds:
        assert shape(fake_kinds[kind]) == shape(real_kinds[kind]), kind
    assert real_kinds["role"]["choices"][0]["delta"] == fake_kinds["role"]["choices"][0]["delta"]


def test_scripted_stream_without_usage_puts_timings_on_the_finish_chunk(llama: EmbeddedServer) -> None:
    body = stream_body(ask("Say hello."), max_output_tokens=3)
    body.pop("stream_options")
    real = roles(sse_chunks(post(llama.base_url, body)))
    with ScriptedModelServer("openai", [Reply("Hello there, friend.")]) as fake_server:
        fake = roles(sse_chunks(post(fake_server.base_url, body)))
    assert "usage" not in real and "usage" not in fake
    assert shape(fake["finish"]) == shape(real["finish"]) and "timings" in real["finish"]


def test_scripted_tool_call_and_reasoning_streams_have_the_real_shape(qwen_llama: EmbeddedServer) -> None:
    call_body = stream_body(few_shot_read("a.py"), tools=[READ], think=False, max_output_tokens=40,
                            extra_body={"tool_choice": "required"})
    think_body = stream_body(ask("Is 17 a prime number?"), max_output_tokens=8)
    real_call = roles(sse_chunks(post(qwen_llama.base_url, call_body)))
    real_think = roles(sse_chunks(post(qwen_llama.base_url, think_body)))
    script = [Reply(calls=[Call("Read", {"file_path": "a.py"})]), Reply(reasoning="Seventeen has no divisors.")]
    with ScriptedModelServer("openai", script, chunk_tokens=2) as fake_server:
        fake_call = roles(sse_chunks(post(fake_server.base_url, call_body)))
        fake_think = roles(sse_chunks(post(fake_server.base_url, think_body)))
    for kind in ("role", "tool_head", "tool_piece", "finish", "usage"):
        assert shape(fake_call[kind]) == shape(real_call[kind]), kind
    head = real_call["tool_head"]["choices"][0]["delta"]["tool_calls"][0]
    assert head["function"]["arguments"]  # the first delta already carries argument text
    assert fake_call["tool_head"]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
    assert real_call["finish"]["choices"][0]["finish_reason"] == "tool_calls"
    assert shape(fake_think["reasoning_content"]) == shape(real_think["reasoning_content"])


def test_scripted_whole_replies_and_errors_have_the_real_shape(qwen_llama: EmbeddedServer,
                                                                small_llama: EmbeddedServer) -> None:
    call_body = {**stream_body(few_shot_read("a.py"), tools=[READ], think=False, max_output_tokens=40,
                               extra_body={"tool_choice": "required"}), "stream": False}
    call_body.pop("stream_options")
    overflow_body = stream_body(ask("word " * 700))
    real_call = post(qwen_llama.base_url, call_body).json()
    real_overflow = post(small_llama.base_url, overflow_body)
    script = [Reply(calls=[Call("Read", {"file_path": "a.py"})]), Reply(fault="context_overflow")]
    with ScriptedModelServer("openai", script, n_ctx=512) as fake_server:
        fake_call = post(fake_server.base_url, call_body).json()
        fake_overflow = post(fake_server.base_url, overflow_body)
    assert shape(fake_call) == shape(real_call)
    assert real_call["choices"][0]["message"]["content"] == fake_call["choices"][0]["message"]["content"] == ""
    assert fake_overflow.status_code == real_overflow.status_code == 400
    assert shape(fake_overflow.json()) == shape(real_overflow.json())
    assert fake_overflow.json()["error"]["type"] == real_overflow.json()["error"]["type"]
