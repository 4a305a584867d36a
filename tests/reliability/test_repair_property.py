"""Tool-call repair never raises, whatever the model streams: the whole path from stream fragments
to a tool's parsed input, with the real tools and their schemas.

tests/unit/test_repair.py checks the repair functions one by one on damaged text; here the input is
what a hostile or broken model can put on the wire — arbitrary fragment sequences (any index, names
that are no tool, argument text cut anywhere, objects of any shape), text-mode calls cut and spliced
— and it goes through what the session does with it: `ToolCallAssembler`, the session's own
`_recover_calls` (text calls, native argument repair against the tool's schema, id de-duplication),
and each tool's `parse`. The only exception allowed is the tool's validation error, which the
session turns into an error result.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from agent import text_tools
from agent.messages import AssistantMessage, ToolCall
from agent.providers.assemble import ToolCallAssembler
from agent.providers.base import ToolCallChunk
from agent.session import Session
from agent.settings import Settings
from agent.tools.registry import default_tools
from agent.workspace import DiskWorkspace

TOOLS = {tool.name: tool for tool in default_tools()}
NAMES = sorted(TOOLS)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])

# Text with what breaks parsers: quotes, braces, escapes, NUL, lone surrogates' neighbours, emoji.
tricky = st.lists(st.sampled_from([*'{}[]":,\\\'`<>/\n\t\x00 aZ09éß数🙂', "\\u", "\\\"", "</", "```"]),
                  max_size=30).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | tricky,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky, inner, max_size=3),
    max_leaves=10,
)
names = st.sampled_from(NAMES) | tricky | st.sampled_from([n.lower() for n in NAMES])


@st.composite
def argument_text(draw: st.DrawFn) -> str:
    """JSON-ish argument text: a real object for a real tool, then cut, spliced or double-encoded."""
    name = draw(st.sampled_from(NAMES))
    keys = list(TOOLS[name].spec().parameters.get("properties", {}))
    obj = {k: draw(json_values) for k in draw(st.lists(st.sampled_from(keys), max_size=len(keys)))} if keys else {}
    text = json.dumps(obj, ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()):
        text = json.dumps(text)  # double-encoded, as some templates do
    cut = draw(st.integers(0, len(text)))
    return text[:cut] + draw(tricky) + text[cut:] if draw(st.booleans()) else text[:cut]


chunks = st.lists(st.builds(
    ToolCallChunk,
    index=st.integers(-3, 5),
    id=st.none() | tricky,
    name=st.none() | names,
    arguments_fragment=argument_text() | tricky,
    arguments=st.none() | st.dictionaries(tricky, json_values, max_size=3),
), max_size=8)


@st.composite
def text_mode_reply(draw: st.DrawFn) -> str:
    """Tool calls written in text, as text-tool mode asks, then damaged."""
    blocks = [text_tools.call_block(draw(st.sampled_from(NAMES)),
                                    draw(st.dictionaries(tricky, json_values, max_size=3)))
              for _ in range(draw(st.integers(0, 3)))]
    text = draw(tricky).join([draw(tricky), *blocks, draw(tricky)])
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(tricky) + text[at + draw(st.integers(0, 5)):]
    return text


def _session(tmp: Path) -> Session:
    return Session("task", DiskWorkspace(tmp), Settings(), tools=list(TOOLS.values()))


def _parse_all(calls: tuple[ToolCall, ...]) -> None:
    for call in calls:
        assert isinstance(call.arguments, dict)
        tool = TOOLS.get(call.name)
        if tool is None:
            continue  # the monitor corrects an unknown name; the session never runs it
        try:
            tool.parse(call.arguments)
        except ValidationError:
            pass  # answered as "bad arguments"


@given(stream=chunks, content=text_mode_reply() | tricky)
@PROPERTY
def test_streamed_calls_reach_the_tools_without_raising(stream: list[ToolCallChunk], content: str,
                                                        tmp_path: Path) -> None:
    assembler = ToolCallAssembler()
    for chunk in stream:
        assembler.feed(chunk)
    calls = tuple(
        ToolCall(id=c.id, name=c.name, arguments=c.arguments or {},
                 raw_arguments=None if c.arguments is not None else c.raw)
        for c in assembler.finish()
    )
    session = _session(tmp_path)
    for turn in (1, 2):  # the same ids twice: the session must make them unique
        reply, events = session._recover_calls(AssistantMessage(content=content, tool_calls=calls), turn)
        assert isinstance(reply.content, str)
        assert all(e.name for e in events)
        _parse_all(reply.tool_calls)
        ids = [c.id for c in reply.tool_calls]
        assert len(ids) == len(set(ids))


@given(content=text_mode_reply())
@PROPERTY
def test_text_mode_calls_never_raise(content: str, tmp_path: Path) -> None:
    reply, _ = _session(tmp_path)._recover_calls(AssistantMessage(content=content), 1)
    _parse_all(reply.tool_calls)
    for call in reply.tool_calls:
        # A real tool, or a damaged name in an explicit call block: kept as written (one identifier)
        # for the monitor to correct, never dropped so the reply could pass for a final answer.
        assert call.name in TOOLS or re.fullmatch(r"[A-Za-z_][\w.\-]*", call.name)


def test_a_well_formed_call_survives_the_path(tmp_path: Path) -> None:
    """The property above must not pass by throwing everything away: a clean call comes through."""
    arguments: dict[str, Any] = {"file_path": "a.py", "content": "x = 1\n"}
    stream = [ToolCallChunk(index=0, id="c1", name="Write"),
              ToolCallChunk(index=0, arguments_fragment=json.dumps(arguments)[:10]),
              ToolCallChunk(index=0, arguments_fragment=json.dumps(arguments)[10:])]
    assembler = ToolCallAssembler()
    for chunk in stream:
        assembler.feed(chunk)
    (call,) = assembler.finish()
    native = ToolCall(id=call.id, name=call.name, arguments=call.arguments or {})
    reply, _ = _session(tmp_path)._recover_calls(AssistantMessage(content="", tool_calls=(native,)), 1)
    assert reply.tool_calls[0].arguments == arguments
    written = AssistantMessage(content=text_tools.call_block("Write", arguments))
    text_reply, _ = _session(tmp_path)._recover_calls(written, 1)
    assert [(c.name, c.arguments) for c in text_reply.tool_calls] == [("Write", arguments)]
