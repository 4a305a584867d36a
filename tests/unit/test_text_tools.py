"""agent.text_tools: the call format taught to models without native tools, and history replayed as text."""

from __future__ import annotations

from typing import Any, Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from agent import tokens
from agent.messages import AssistantMessage, SystemMessage, ToolCall, ToolMessage, UserMessage
from agent.providers.base import ToolSpec
from agent.repair import find_text_calls, strip_calls
from agent.text_tools import call_block, instructions, to_text_mode

# Six tools shaped like the default set (the token budget is checked against these).


class ReadInput(BaseModel):
    file_path: str = Field(description="Path of the file to read, relative to the workspace root")
    offset: int | None = Field(None, ge=0, description="Line number to start at, counting from 1 (default 1)")
    limit: int | None = Field(None, ge=1, description="Most lines to return (default 2000)")


class WriteInput(BaseModel):
    file_path: str = Field(description="Path of the new file, relative to the workspace root")
    content: str = Field(description="The whole text of the file")


class EditInput(BaseModel):
    file_path: str = Field(description="Path of the file to change")
    old_string: str = Field(description="Exact text to replace, copied from Read output without line numbers")
    new_string: str = Field(description="Text to put in its place")
    replace_all: bool = Field(False, description="Replace every occurrence instead of exactly one")


class GlobInput(BaseModel):
    pattern: str = Field(description="Glob pattern such as **/*.py")
    path: str | None = Field(None, description="Folder to search in (default: the workspace root)")


class GrepInput(BaseModel):
    pattern: str = Field(description="Regular expression to search for")
    path: str | None = Field(None, description="File or folder to search (default: the workspace root)")
    glob: str | None = Field(None, description="Only files matching this glob, e.g. *.py")
    output_mode: Literal["files_with_matches", "content", "count"] = Field(
        "files_with_matches", description="What to return")


class BashInput(BaseModel):
    command: str = Field(description="Shell command to run in the workspace root")
    timeout: int = Field(120, ge=1, description="Seconds before the command is killed")


def _spec(name: str, model: type[BaseModel], description: str) -> ToolSpec:
    schema = model.model_json_schema()  # the same shaping as Tool.spec()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    return ToolSpec(name=name, description=description, parameters=schema)


SPECS = [
    _spec("Read", ReadInput, "Read a text file. Lines come numbered from 1. Long files come in windows: "
                             "use offset and limit to read a given range."),
    _spec("Write", WriteInput, "Create a new file. Refuses to overwrite an existing file: change existing files "
                               "with Edit."),
    _spec("Edit", EditInput, "Replace text in an existing file. old_string must match the file exactly, including "
                             "indentation, and be unique unless replace_all is set."),
    _spec("Glob", GlobInput, "List files whose paths match a glob pattern, sorted, at most 500."),
    _spec("Grep", GrepInput, "Search file contents with a regular expression (ripgrep syntax)."),
    _spec("Bash", BashInput, "Run a shell command in the workspace and return its output and exit code."),
]
NAMES = [s.name for s in SPECS]


# --- instructions ------------------------------------------------------------------------------


def test_instructions_state_format_and_every_parameter() -> None:
    text = instructions(SPECS)
    assert "```tool" in text and '"name"' in text and '"arguments"' in text
    for spec in SPECS:
        assert f"### {spec.name}\n{spec.description}" in text
    assert "- file_path (string, required): Path of the file to read, relative to the workspace root" in text
    assert "- offset (integer): Line number to start at" in text
    assert "- replace_all (boolean, default false): " in text
    assert '- output_mode (one of "files_with_matches"|"content"|"count", default "files_with_matches")' in text
    assert "- timeout (integer, default 120): " in text
    assert "- path (string): Folder to search in" in text  # Optional[str] is shown as its real type


def test_instructions_are_compact_and_stable() -> None:
    text = instructions(SPECS)
    assert tokens.count(text) < 600
    assert instructions(SPECS) == text  # byte-stable: the system prompt prefix must not move


def test_the_taught_example_is_exactly_what_the_parser_reads() -> None:
    calls = find_text_calls(instructions(SPECS), ["TOOL"])
    assert [(c.name, c.arguments, c.source) for c in calls] == [("TOOL", {"PARAMETER": "value"}, "fenced")]


def test_tools_without_parameters_and_array_and_ref_types() -> None:
    specs = [
        ToolSpec(name="Ping", description="Check the server.", parameters={"type": "object", "properties": {}}),
        ToolSpec(name="Tag", description="", parameters={
            "type": "object",
            "properties": {"labels": {"type": "array", "items": {"type": "string"}},
                           "color": {"$ref": "#/$defs/Color"}},
            "required": ["labels"],
            "$defs": {"Color": {"enum": ["red", "blue"], "type": "string"}},
        }),
    ]
    text = instructions(specs)
    assert "### Ping\nCheck the server.\n(no parameters" in text
    assert "- labels (array of string, required)" in text
    assert '- color (one of "red"|"blue")' in text


# --- to_text_mode ------------------------------------------------------------------------------

HISTORY = [
    SystemMessage(content="You are a coding agent."),
    UserMessage(content="Fix leap.py"),
    AssistantMessage(content="Reading it first.", reasoning="look at the stub",
                     tool_calls=(ToolCall(id="call_1", name="Read", arguments={"file_path": "leap.py"}),
                                 ToolCall(id="call_2", name="Glob", arguments={"pattern": "*_test.py"}))),
    ToolMessage(tool_call_id="call_1", name="Read", content="     1\tdef leap_year(year):\n     2\t    pass"),
    ToolMessage(tool_call_id="call_2", name="Glob", content="leap_test.py"),
    AssistantMessage(tool_calls=(ToolCall(id="call_3", name="Edit",
                                          arguments={"file_path": "leap.py", "old_string": "pass",
                                                     "new_string": 'return "x"'}),)),
    ToolMessage(tool_call_id="call_3", name="Edit", content="Error: old_string not found", is_error=True),
    UserMessage(content="Read the file again before editing.", origin="guidance"),
    AssistantMessage(content="All done."),
]


def test_history_is_rendered_as_text_turns() -> None:
    out = to_text_mode(HISTORY)
    assert [m.role for m in out] == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
    assert out[0] is HISTORY[0] and out[1] is HISTORY[1] and out[-1] is HISTORY[-1]
    first = out[2]
    assert isinstance(first, AssistantMessage) and first.tool_calls == () and first.reasoning == "look at the stub"
    assert first.content == (
        "Reading it first.\n\n"
        '```tool\n{"name": "Read", "arguments": {"file_path": "leap.py"}}\n```\n\n'
        '```tool\n{"name": "Glob", "arguments": {"pattern": "*_test.py"}}\n```'
    )
    assert out[3].content == ("Result of Read (call_1):\n     1\tdef leap_year(year):\n     2\t    pass\n\n"
                              "Result of Glob (call_2):\nleap_test.py")
    # An error is marked, and the user message after it joins the same turn (strict templates alternate).
    assert out[5].content == ("Error from Edit (call_3):\nError: old_string not found\n\n"
                              "Read the file again before editing.")
    assert all(m.role != "tool" for m in out)


def test_rendering_is_deterministic_and_prefix_stable() -> None:
    full = to_text_mode(HISTORY)
    assert to_text_mode(HISTORY) == full
    assert [m.model_dump_json() for m in to_text_mode(list(HISTORY))] == [m.model_dump_json() for m in full]
    # Growing the history never rewrites what was already rendered (except the open results turn).
    for cut in range(1, len(HISTORY)):
        partial = to_text_mode(HISTORY[:cut])
        assert full[:len(partial) - 1] == partial[:-1]


def test_rendered_calls_read_back_with_the_parser() -> None:
    for original, rendered in ((HISTORY[2], to_text_mode(HISTORY)[2]), (HISTORY[5], to_text_mode(HISTORY)[4])):
        calls = find_text_calls(rendered.content, NAMES)
        assert [(c.name, c.arguments) for c in calls] == [(c.name, c.arguments) for c in original.tool_calls]
        assert strip_calls(rendered.content, calls) == original.content


def test_unreadable_arguments_are_replayed_as_written() -> None:
    bad = AssistantMessage(tool_calls=(ToolCall(id="c", name="Edit", raw_arguments='{"file_path": "a.py",'),))
    assert to_text_mode([bad])[0].content == '```tool\n{"name": "Edit", "arguments": {"file_path": "a.py",}\n```'


def test_empty_result_is_said_to_be_empty() -> None:
    rendered = to_text_mode([ToolMessage(tool_call_id="c", name="Bash", content="")])
    assert rendered[0].content == "Result of Bash (c):\n(empty)"


def test_call_block_is_the_taught_form() -> None:
    assert call_block("Bash", {"command": "ls"}) == '```tool\n{"name": "Bash", "arguments": {"command": "ls"}}\n```'


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.sampled_from(list('{}[]"\'\\`<>\n')) | st.characters(exclude_categories=["Cs"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
calls_strategy = st.lists(
    st.builds(lambda name, args: (name, args), st.sampled_from(NAMES),
              st.dictionaries(st.text(max_size=8), json_values, max_size=4)),
    min_size=1, max_size=3,
)
content_strategy = st.text(st.characters(exclude_characters="{}`<>", exclude_categories=["Cs"]), max_size=60)


@given(content=content_strategy, calls=calls_strategy)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_assistant_turn_round_trips_through_the_parser(content: str,
                                                          calls: list[tuple[str, dict[str, Any]]]) -> None:
    message = AssistantMessage(content=content, tool_calls=tuple(
        ToolCall(id=f"call_{i}", name=name, arguments=args) for i, (name, args) in enumerate(calls)))
    rendered = to_text_mode([message])[0]
    found = find_text_calls(rendered.content, NAMES)
    assert [(c.name, c.arguments) for c in found] == calls
    assert [c.source for c in found] == ["fenced"] * len(calls)
    assert strip_calls(rendered.content, found) == content.strip()
