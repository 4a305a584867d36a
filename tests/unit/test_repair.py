"""agent.repair: finding tool calls written as text and mending their JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agent.repair import FoundCall, find_text_calls, repair_arguments, repair_json, strip_calls

NAMES = ["Read", "Write", "Edit", "Glob", "Grep", "Bash"]
NESTED = {"file_path": "src/a.py", "opts": {"deep": [1, {"brace": "}{", "quote": 'say "hi"'}], "n": None}}

EDIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "file_path": {"type": "string", "description": "Path"},
        "old_string": {"type": "string"},
        "new_string": {"type": "string"},
        "replace_all": {"type": "boolean", "default": False},
        "limit": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
        "ratio": {"type": "number"},
        "globs": {"type": "array", "items": {"type": "string"}},
        "mode": {"$ref": "#/$defs/Mode"},
    },
    "required": ["file_path", "old_string", "new_string"],
    "$defs": {"Mode": {"enum": ["a", "b"], "type": "string"}},
}
GREP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"pattern": {"type": "string"}, "path": {"type": "string"}},
    "required": ["pattern"],
}
BASH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"command": {"type": "string"}, "timeout": {"type": "integer"}},
}

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def one(text: str, names: list[str] = NAMES) -> FoundCall:
    calls = find_text_calls(text, names)
    assert len(calls) == 1, calls
    return calls[0]


# --- repair_json ---------------------------------------------------------------------------


def test_valid_json_needs_no_fixes() -> None:
    assert repair_json('{"a": [1, 2.5, "x", null, true]}') == ({"a": [1, 2.5, "x", None, True]}, ())
    assert repair_json("[]") == ([], ())


@pytest.mark.parametrize(
    ("raw", "value", "fix"),
    [
        ('```json\n{"a": 1}\n```', {"a": 1}, "code_fence"),
        ('```\n{"a": 1}', {"a": 1}, "code_fence"),
        ('Here you go: {"a": 1}', {"a": 1}, "leading_prose"),
        ('{"a": 1} hope that helps', {"a": 1}, "trailing_text"),
        ('{"code": "def f():\n\treturn 1\r\n"}', {"code": "def f():\n\treturn 1\r\n"}, "raw_control_chars"),
        ('{"a": [1, 2,], "b": 3,}', {"a": [1, 2], "b": 3}, "trailing_comma"),
        ("{'a': 'x', 'b': ['y']}", {"a": "x", "b": ["y"]}, "single_quotes"),
        ("{'msg': 'it's fine'}", {"msg": "it's fine"}, "single_quotes"),
        ("{'msg': 'a \"quoted\" word'}", {"msg": 'a "quoted" word'}, "single_quotes"),
        ('{file_path: "a.py", old_string: "x"}', {"file_path": "a.py", "old_string": "x"}, "unquoted_keys"),
        ('{"a": True, "b": False, "c": None}', {"a": True, "b": False, "c": None}, "python_literals"),
        ('{"a": {"b": [1, {"c": "x', {"a": {"b": [1, {"c": "x"}]}}, "missing_closers"),
        ('{"a": "unfinished', {"a": "unfinished"}, "unclosed_string"),
        ('{"a": 1, // one\n "b": 2 /* two */, # three\n "c": 3}', {"a": 1, "b": 2, "c": 3}, "comments"),
        ('{"cmd": "echo "hi" there"}', {"cmd": 'echo "hi" there'}, "inner_quotes"),
        ('{"re": "\\d+\\.py"}', {"re": "\\d+\\.py"}, "invalid_escapes"),
        ('{"a": 1 "b": 2}', {"a": 1, "b": 2}, "missing_commas"),
        ('{"a": "x"\n "b": "y"}', {"a": "x", "b": "y"}, "missing_commas"),
        ('{"path": src/main.py, "n": 2}', {"path": "src/main.py", "n": 2}, "unquoted_values"),
        ('{"a": }', {"a": None}, "missing_values"),
        ("[1,,2]", [1, 2], "extra_commas"),
        ('{"a": [1, 2}', {"a": [1, 2]}, "missing_closers"),
        ('{"a": 1}]', {"a": 1}, "trailing_text"),
    ],
)
def test_each_repair(raw: str, value: Any, fix: str) -> None:
    repaired, fixes = repair_json(raw)
    assert repaired == value
    assert fix in fixes


def test_several_repairs_are_all_recorded_in_order_of_need() -> None:
    value, fixes = repair_json("{'a': True, b: [1, 2,],")
    assert value == {"a": True, "b": [1, 2]}
    assert set(fixes) == {"single_quotes", "python_literals", "unquoted_keys", "trailing_comma", "missing_closers"}


def test_apostrophes_and_comment_marks_inside_double_quoted_strings_are_kept() -> None:
    raw = '{"msg": "don\'t // stop # here", "url": "http://x.org/#top",}'
    value, fixes = repair_json(raw)
    assert value == {"msg": "don't // stop # here", "url": "http://x.org/#top"}
    assert fixes == ("trailing_comma",)


def test_closers_are_appended_innermost_first() -> None:
    value, _ = repair_json('{"a": [{"b": {"c": [1')
    assert value == {"a": [{"b": {"c": [1]}}]}


@pytest.mark.parametrize("raw", ["", "   ", "hello world", "}", "]]", ":", "{{}}", "Sure, I can help.", "```\n```"])
def test_hopeless_text_gives_none_not_a_guess(raw: str) -> None:
    value, _ = repair_json(raw)
    assert value is None


def test_deep_nesting_does_not_raise() -> None:
    assert repair_json("[" * 100_000)[0] is None  # json's recursion limit: hopeless, not a crash
    assert repair_json('{"a":' * 5_000)[0] is None


@given(st.recursive(
    st.none() | st.booleans() | st.integers(-10**9, 10**9)
    | st.text(st.characters(min_codepoint=32, max_codepoint=126, exclude_characters="\\"), max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(st.characters(min_codepoint=32, max_codepoint=126, exclude_characters="\\"), max_size=6),
        inner, max_size=4),
    max_leaves=12,
))
@PROPERTY
def test_python_repr_of_any_plain_value_is_read_back(value: Any) -> None:
    repaired, _ = repair_json(repr(value))
    assert repaired == value


# --- find_text_calls: the formats ------------------------------------------------------------


def test_fenced_tool_block_with_nested_arguments_in_prose() -> None:
    payload = json.dumps({"name": "Edit", "arguments": NESTED})
    text = f"I'll fix it now.\n\n```tool\n{payload}\n```\n\nThat should do it."
    call = one(text)
    assert (call.name, call.arguments, call.source, call.fixes) == ("Edit", NESTED, "fenced", ())
    assert text[call.span[0]:call.span[1]].startswith("```tool") and text[call.span[0]:call.span[1]].endswith("```")


@pytest.mark.parametrize("tag", ["json", "tool_call", ""])
def test_other_call_fences(tag: str) -> None:
    call = one(f'ok\n```{tag}\n{{"name": "Glob", "arguments": {{"pattern": "**/*.py"}}}}\n```')
    assert (call.name, call.arguments, call.source) == ("Glob", {"pattern": "**/*.py"}, "fenced")


def test_fence_without_newline_before_close_and_unterminated_final_fence() -> None:
    assert one('x ```tool\n{"name": "Bash", "arguments": {"command": "ls"}}```').arguments == {"command": "ls"}
    call = one('Running the tests:\n```tool\n{"name": "Bash", "arguments": {"command": "pytest -q"}}')
    assert call.arguments == {"command": "pytest -q"}
    assert call.span[1] == len('Running the tests:\n```tool\n{"name": "Bash", "arguments": {"command": "pytest -q"}}')


def test_backticks_and_closing_tags_inside_argument_strings_do_not_end_the_block() -> None:
    content = "# Title\n```py\nprint(1)\n```\n</tool_call>\n"
    payload = json.dumps({"name": "Write", "arguments": {"file_path": "README.md", "content": content}})
    assert one(f"```tool\n{payload}\n```").arguments["content"] == content
    assert one(f"<tool_call>\n{payload}\n</tool_call>").arguments["content"] == content


def test_fence_missing_a_brace_is_mended_at_its_closing_fence() -> None:
    call = one('```tool\n{"name": "Read", "arguments": {"file_path": "a.py"}\n```\nthen more')
    assert call.arguments == {"file_path": "a.py"}
    assert "missing_closers" in call.fixes


def test_words_after_the_call_stay_in_its_fence_but_later_blocks_do_not() -> None:
    call = '```tool\n{"name": "Read", "arguments": {"file_path": "a"}}\n'
    text = call + "// reads it\n```\nend"
    assert strip_calls(text, find_text_calls(text, NAMES)) == "end"
    unterminated = call + "Explain.\n```python\nx = 1\n```\nend"
    assert strip_calls(unterminated, find_text_calls(unterminated, NAMES)) == "Explain.\n```python\nx = 1\n```\nend"


def test_tool_call_tag_terminated_and_unterminated() -> None:
    text = 'Let me look.\n<tool_call>\n{"name": "Read", "arguments": {"file_path": "a.py"}}\n</tool_call>'
    call = one(text)
    assert (call.source, call.span) == ("tool_call_tag", (len("Let me look.\n"), len(text)))
    cut = one('<tool_call>\n{"name": "Grep", "arguments": {"pattern": "def main", "path": "src"')
    assert (cut.name, cut.arguments) == ("Grep", {"pattern": "def main", "path": "src"})
    assert "missing_closers" in cut.fixes


def test_qwen_xml_function_inside_and_outside_tool_call() -> None:
    inside = (
        "Fixing.\n<tool_call>\n<function=Edit>\n<parameter=file_path>\nsrc/a.py\n</parameter>\n"
        "<parameter=old_string>\n    x = 1\n\n</parameter>\n<parameter=new_string>\n    x = {\"a\": 2}\n</parameter>\n"
        "</function>\n</tool_call>\nDone."
    )
    call = one(inside)
    assert call.source == "xml_function"
    assert call.arguments == {"file_path": "src/a.py", "old_string": "    x = 1\n", "new_string": '    x = {"a": 2}'}
    assert strip_calls(inside, [call]) == "Fixing.\n\nDone."
    bare = one("<function=bash><parameter=command>ls -la</parameter></function> and then")
    assert (bare.name, bare.arguments, bare.fixes) == ("Bash", {"command": "ls -la"}, ("name_case",))


def test_xml_with_unclosed_parameter_and_function() -> None:
    call = one("<function=Write>\n<parameter=file_path>\nb.py\n<parameter=content>\nx = 1\n")
    assert call.arguments == {"file_path": "b.py", "content": "x = 1"}
    assert {"unclosed_parameter", "unclosed_function"} <= set(call.fixes)


def test_bare_json_in_prose_with_nested_arguments() -> None:
    payload = json.dumps({"name": "Edit", "arguments": NESTED})
    text = f"I will call {payload} now, and {{\"name\": \"John\", \"age\": 30}} is just data."
    call = one(text)
    assert (call.name, call.arguments, call.source) == ("Edit", NESTED, "bare_json")
    assert text[call.span[0]:call.span[1]] == payload


@pytest.mark.parametrize("key", ["arguments", "input", "parameters", "args"])
def test_argument_key_spellings(key: str) -> None:
    call = one(f'```tool\n{{"name": "Read", "{key}": {{"file_path": "a.py"}}}}\n```')
    assert call.arguments == {"file_path": "a.py"}


def test_openai_style_function_with_string_arguments() -> None:
    obj = {"id": "call_1", "type": "function",
           "function": {"name": "Grep", "arguments": json.dumps({"pattern": "a\"b", "path": "src"})}}
    call = one("Searching: " + json.dumps(obj))
    assert (call.name, call.arguments) == ("Grep", {"pattern": 'a"b', "path": "src"})
    broken = one('<tool_call>{"function": {"name": "Read", "arguments": "{\'file_path\': \'a.py\',}"}}</tool_call>')
    assert broken.arguments == {"file_path": "a.py"}
    assert {"single_quotes", "trailing_comma"} <= set(broken.fixes)


def test_tool_key_with_flattened_arguments() -> None:
    call = one('```tool\n{"tool": "Bash", "command": "ls", "timeout": 5}\n```')
    assert (call.name, call.arguments) == ("Bash", {"command": "ls", "timeout": 5})
    assert "flattened_arguments" in call.fixes


def test_a_call_may_carry_a_description_but_an_echoed_spec_is_not_a_call() -> None:
    call = one('{"name": "Bash", "description": "list files", "arguments": {"command": "ls"}}')
    assert call.arguments == {"command": "ls"}
    assert find_text_calls('```tool\n{"name": "Read", "description": "Reads", "input_schema": {}}\n```', NAMES) == []


def test_unreadable_argument_string_is_kept_raw() -> None:
    call = one('```tool\n{"name": "Edit", "arguments": "change the second line"}\n```')
    assert (call.name, call.arguments, call.raw_arguments) == ("Edit", {}, "change the second line")


def test_several_calls_in_order_and_a_list_of_calls_in_one_block() -> None:
    text = ('First ```tool\n{"name": "Read", "arguments": {"file_path": "a"}}\n``` then '
            '<tool_call>{"name": "Read", "arguments": {"file_path": "b"}}</tool_call> and '
            '```json\n[{"name": "Glob", "arguments": {"pattern": "*"}},\n'
            ' {"name": "Bash", "arguments": {"command": "ls"}}]\n```')
    calls = find_text_calls(text, NAMES)
    assert [(c.name, c.arguments) for c in calls] == [
        ("Read", {"file_path": "a"}), ("Read", {"file_path": "b"}),
        ("Glob", {"pattern": "*"}), ("Bash", {"command": "ls"})]
    assert calls[2].span == calls[3].span  # one block, one span
    assert strip_calls(text, calls) == "First then and"


def test_names_match_case_insensitively_and_come_back_in_real_spelling() -> None:
    call = one('{"name": "READ", "arguments": {"file_path": "x"}}')
    assert call.name == "Read" and "name_case" in call.fixes
    assert one('{"name": "Read", "arguments": {}}').fixes == ()


@pytest.mark.parametrize(
    ("text", "name", "arguments", "source"),
    [
        ('Running them.\n```tool\n{"name": "run_tests", "input": {}}\n```', "run_tests", {}, "fenced"),
        ('```tool\n{"name": "run_tests"}\n```', "run_tests", {}, "fenced"),  # the tag alone says "call"
        ('```tool\n{"tool": "shell", "cmd": "ls"}\n```', "shell", {"cmd": "ls"}, "fenced"),
        ('```json\n{"name": "read_file", "arguments": {"path": "a.py"}}\n```', "read_file", {"path": "a.py"},
         "fenced"),
        ('<tool_call>\n{"name": "read_file", "arguments": {"path": "a.py"}}\n</tool_call>', "read_file",
         {"path": "a.py"}, "tool_call_tag"),
        ('<tool_call>{"name": "list_dir"}</tool_call>', "list_dir", {}, "tool_call_tag"),
        ("<function=run_tests>\n</function>", "run_tests", {}, "xml_function"),
    ],
)
def test_an_invented_name_in_an_explicit_call_format_is_still_a_call(
        text: str, name: str, arguments: dict[str, Any], source: str) -> None:
    """The model meant to act: the call is kept under its written name for the monitor to correct,
    and stripped from the reply like any call, so the reply cannot pass for a final answer."""
    call = one(text)
    assert (call.name, call.arguments, call.source) == (name, arguments, source)
    assert "```" not in strip_calls(text, [call]) and "tool_call" not in strip_calls(text, [call])


# --- find_text_calls: what is not a call ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"name": "my-package", "version": "1.0.0", "scripts": {"test": "jest"}}\n```',
        '```\n{"name": "John", "age": 30}\n```',  # a name but no arguments key: data, not a call shape
        'Here is the config: {"name": "my-package", "version": "1.0.0", "scripts": {"test": "jest"}}',
        '{"name": "read_file", "arguments": {"path": "a"}}',  # bare prose: only real tool names count
        '```tool\n{"name": "run the tests", "arguments": {}}\n```',  # not one identifier: not a name
        '```python\ncall = {"name": "Read", "arguments": {"file_path": "a.py"}}\n```',  # code, not a call
        '{"name": "Read", "description": "Read a file", "parameters": {"type": "object", "properties": {}}}',
        'The Read tool takes {"file_path": "..."} as input.',
        '{"name": "Read"}',  # in prose, a bare name alone is too weak a signal
        'Use the Edit tool with <function> tags or {braces} freely.',
        "",
    ],
)
def test_json_samples_and_other_names_are_not_calls(text: str) -> None:
    assert find_text_calls(text, NAMES) == []


def test_a_clean_json_sample_holding_a_call_shape_is_skipped_whole() -> None:
    sample = {"example": {"name": "Read", "arguments": {"file_path": "a"}}, "note": "docs"}
    assert find_text_calls("An example document: " + json.dumps(sample), NAMES) == []


def test_stray_braces_before_a_call_do_not_hide_it() -> None:
    text = 'Use f"{x}" or { this and {"name": "Read", "arguments": {"file_path": "a"}} } ok'
    assert one(text).arguments == {"file_path": "a"}


def test_many_unclosed_objects_stay_fast() -> None:
    import time

    text = '{"a": ' * 3000 + ' {"name": "Read", "arguments": {"file_path": "z"}}'
    started = time.perf_counter()
    calls = find_text_calls(text, NAMES)
    assert time.perf_counter() - started < 2.0
    assert [c.arguments for c in calls] == [{"file_path": "z"}]


def test_no_tools_means_no_calls() -> None:
    assert find_text_calls('{"name": "Read", "arguments": {}}', []) == []


# --- strip_calls ---------------------------------------------------------------------------


def test_strip_calls_leaves_the_prose_tidy() -> None:
    call = '```tool\n{"name": "Read", "arguments": {"file_path": "a.py"}}\n```'
    text = f"I will read the file.\n\n{call}\n\n\nThen edit it.  "
    assert strip_calls(text, find_text_calls(text, NAMES)) == "I will read the file.\n\nThen edit it."
    inline = 'Calling {"name": "Bash", "arguments": {"command": "ls"}} now.'
    assert strip_calls(inline, find_text_calls(inline, NAMES)) == "Calling now."
    only = '  <tool_call>{"name": "Bash", "arguments": {"command": "ls"}}</tool_call>\n'
    assert strip_calls(only, find_text_calls(only, NAMES)) == ""


def test_strip_calls_tolerates_overlapping_and_out_of_range_spans() -> None:
    text = "abc def ghi"
    calls = [FoundCall("Read", {}, "bare_json", (), (4, 7)), FoundCall("Read", {}, "bare_json", (), (5, 100)),
             FoundCall("Read", {}, "bare_json", (), (-5, 1)), FoundCall("Read", {}, "bare_json", (), (3, 2))]
    assert strip_calls(text, calls) == "bc"
    assert strip_calls(text, []) == text


# --- repair_arguments ------------------------------------------------------------------------


def test_clean_native_arguments_are_untouched() -> None:
    args = {"file_path": "a.py", "old_string": "x", "new_string": "y"}
    assert repair_arguments(args, EDIT_SCHEMA) == (args, ())
    assert repair_arguments(json.dumps(args), EDIT_SCHEMA) == (args, ())
    assert repair_arguments(None, EDIT_SCHEMA) == ({}, ())
    assert repair_arguments("", EDIT_SCHEMA) == ({}, ())


def test_bad_json_string_is_repaired() -> None:
    args, fixes = repair_arguments("{'file_path': 'a.py', 'replace_all': True,}", EDIT_SCHEMA)
    assert args == {"file_path": "a.py", "replace_all": True}
    assert {"single_quotes", "python_literals", "trailing_comma"} <= set(fixes)


def test_hopeless_or_non_object_arguments_give_none() -> None:
    assert repair_arguments("please read a.py", EDIT_SCHEMA)[0] is None
    assert repair_arguments("[1, 2]", EDIT_SCHEMA)[0] is None


def test_double_encoded_arguments() -> None:
    args, fixes = repair_arguments(json.dumps(json.dumps({"command": "ls"})), BASH_SCHEMA)
    assert args == {"command": "ls"} and "double_encoded" in fixes


def test_schema_coercion_of_scalars() -> None:
    args, fixes = repair_arguments(
        {"file_path": "a", "replace_all": "TRUE", "limit": "5", "ratio": "0.5", "old_string": 7,
         "new_string": False, "globs": '["*.py", "*.md"]'}, EDIT_SCHEMA)
    assert args == {"file_path": "a", "replace_all": True, "limit": 5, "ratio": 0.5, "old_string": "7",
                    "new_string": "false", "globs": ["*.py", "*.md"]}
    assert fixes == ("type_coercion",)
    assert repair_arguments({"limit": "null", "replace_all": "maybe"}, EDIT_SCHEMA)[0] == {"limit": None,
                                                                                         "replace_all": "maybe"}
    assert repair_arguments({"timeout": 5.0}, BASH_SCHEMA)[0] == {"timeout": 5}
    assert repair_arguments({"timeout": 5.5}, BASH_SCHEMA)[0] == {"timeout": 5.5}  # left for validation


def test_key_case_aliases_and_unknown_keys() -> None:
    args, fixes = repair_arguments({"Path": "a.py", "OLD": "x", "new": "y", "why": "because"}, EDIT_SCHEMA)
    assert args == {"file_path": "a.py", "old_string": "x", "new_string": "y", "why": "because"}
    assert set(fixes) == {"key_alias"}
    args, fixes = repair_arguments({"File_Path": "a.py", "Old_String": "x"}, EDIT_SCHEMA)
    assert args == {"file_path": "a.py", "old_string": "x"} and fixes == ("key_case",)
    assert repair_arguments({"cmd": "ls"}, BASH_SCHEMA)[0] == {"command": "ls"}


def test_an_alias_the_schema_owns_is_not_renamed() -> None:
    assert repair_arguments({"pattern": "x", "path": "src"}, GREP_SCHEMA) == ({"pattern": "x", "path": "src"}, ())
    # The real key wins over its alias.
    assert repair_arguments({"file_path": "a", "path": "b"}, EDIT_SCHEMA)[0] == {"file_path": "a", "path": "b"}


def test_ref_and_enum_properties_resolve() -> None:
    assert repair_arguments({"mode": 1}, EDIT_SCHEMA)[0] == {"mode": "1"}


def test_xml_string_values_become_typed_with_the_schema() -> None:
    call = one("<function=Edit><parameter=file_path>a</parameter><parameter=limit>\n12\n</parameter>"
               "<parameter=replace_all>true</parameter><parameter=globs>[\"*.py\"]</parameter></function>")
    assert repair_arguments(call.arguments, EDIT_SCHEMA)[0] == {"file_path": "a", "limit": 12, "replace_all": True,
                                                                 "globs": ["*.py"]}


# --- property tests ----------------------------------------------------------------------------

TRICKY = [*'{}[]"\'\\`<>:,/#\n\t ', "```", "<tool_call>", "</tool_call>", "<function=Read>", "<parameter=x>",
          "</parameter>", '"name": "Read"', '"arguments": {', "True", "//", "é", "𝄞"]


def tricky_text(max_size: int) -> st.SearchStrategy[str]:
    """Strings made of chunks that look like call markup, mixed with any characters."""
    return st.lists(st.sampled_from(TRICKY) | st.characters(exclude_categories=["Cs"]), max_size=max_size).map("".join)


json_scalars = (st.none() | st.booleans() | st.integers(-10**15, 10**15)
                | st.floats(allow_nan=False, allow_infinity=False) | tricky_text(12))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
arguments_strategy = st.dictionaries(st.text(max_size=10), json_values, max_size=5)
# Prose: words, punctuation, unicode, newlines; no braces, backticks or angle brackets (which open
# call markup; those are covered by the deterministic tests and the robustness property).
prose = st.text(
    st.characters(exclude_characters="{}`<>", exclude_categories=["Cs"]) | st.sampled_from(list(" \n.,:;'\"!?()-")),
    max_size=40,
)


def _with_case(name: str, variant: int) -> str:
    return [name, name.lower(), name.upper()][variant]


def _render(fmt: str, name: str, args: dict[str, Any], indent: int | None) -> str:
    def dump(obj: Any) -> str:
        return json.dumps(obj, indent=indent, ensure_ascii=indent is None)

    if fmt.startswith("fence:"):
        tag = fmt.split(":", 1)[1]
        return f"```{tag}\n{dump({'name': name, 'arguments': args})}\n```"
    if fmt == "fence_glued_close":
        return f"```tool\n{dump({'name': name, 'arguments': args})}```"
    if fmt == "fence_unterminated":
        return f"```tool\n{dump({'name': name, 'arguments': args})}\n"
    if fmt == "tag":
        return f"<tool_call>\n{dump({'name': name, 'arguments': args})}\n</tool_call>"
    if fmt == "tag_unterminated":
        return f"<tool_call>\n{dump({'name': name, 'arguments': args})}"
    if fmt.startswith("key:"):
        return f"```tool\n{dump({'name': name, fmt.split(':', 1)[1]: args})}\n```"
    if fmt == "tool_key":
        return f"```json\n{dump({'tool': name, 'arguments': args})}\n```"
    if fmt == "openai":
        obj = {"id": "call_0", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        return f"<tool_call>{dump(obj)}</tool_call>"
    if fmt == "arguments_first":
        return dump({"arguments": args, "name": name})
    assert fmt == "bare"
    return dump({"name": name, "arguments": args})


JSON_FORMATS = ["fence:tool", "fence:json", "fence:tool_call", "fence:", "fence_glued_close", "fence_unterminated",
                "tag", "tag_unterminated", "key:input", "key:parameters", "key:args", "tool_key", "openai",
                "arguments_first", "bare"]


@given(
    fmt=st.sampled_from(JSON_FORMATS),
    name=st.sampled_from(NAMES),
    case=st.integers(0, 2),
    args=arguments_strategy,
    indent=st.sampled_from([None, 2]),
    before=prose,
    after=prose,
)
@PROPERTY
def test_every_rendered_call_is_found_in_noise(fmt: str, name: str, case: int, args: dict[str, Any],
                                                indent: int | None, before: str, after: str) -> None:
    assume(not (args.get("type") == "object" and "properties" in args))  # a schema, by design not a call
    rendered = _render(fmt, _with_case(name, case), args, indent)
    text = f"{before} {rendered} {after}" if fmt in ("bare", "arguments_first") else f"{before}\n{rendered}\n{after}"
    calls = find_text_calls(text, NAMES)
    assert [(c.name, c.arguments) for c in calls] == [(name, args)]
    assert find_text_calls(strip_calls(text, calls), NAMES) == []


xml_key = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
_SCHEMA_TYPE = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array", dict: "object",
                type(None): "null"}


@given(
    name=st.sampled_from(NAMES),
    args=st.dictionaries(xml_key, json_values, max_size=5),
    in_tag=st.booleans(),
    inline=st.booleans(),
    before=prose,
    after=prose,
)
@PROPERTY
def test_every_xml_call_is_found_and_typed_by_its_schema(name: str, args: dict[str, Any], in_tag: bool, inline: bool,
                                                         before: str, after: str) -> None:
    def shown(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    assume(all("parameter" not in shown(v).lower() for v in args.values()))  # the format cannot escape its tags
    if inline:  # written inline, an edge newline is indistinguishable from the template's layout newline
        assume(not any(shown(v).startswith("\n") or shown(v).endswith("\n") for v in args.values()))
    sep = "" if inline else "\n"
    params = "".join(f"<parameter={k}>{sep}{shown(v)}{sep}</parameter>\n" for k, v in args.items())
    rendered = f"<function={name}>\n{params}</function>"
    if in_tag:
        rendered = f"<tool_call>\n{rendered}\n</tool_call>"
    calls = find_text_calls(f"{before}\n{rendered}\n{after}", NAMES)
    assert [(c.name, c.source) for c in calls] == [(name, "xml_function")]
    schema = {"type": "object", "properties": {k: {"type": _SCHEMA_TYPE[type(v)]} for k, v in args.items()}}
    assert repair_arguments(calls[0].arguments, schema)[0] == args


def _mutate(text: str, ops: list[tuple[int, int, str]]) -> str:
    for kind, position, chunk in ops:
        at = position % (len(text) + 1)
        if kind == 0:
            text = text[:at]
        elif kind == 1:
            text = text[:at] + chunk + text[at:]
        else:
            text = text[:at] + text[at + len(chunk) + 1:]
    return text


mutations = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 10_000), tricky_text(3)),
    max_size=6,
)


@given(
    source=st.one_of(
        st.text(max_size=300),
        tricky_text(60),
        st.builds(_render, st.sampled_from(JSON_FORMATS), st.sampled_from(NAMES), arguments_strategy,
                  st.sampled_from([None, 2])),
    ),
    ops=mutations,
    schema=st.sampled_from([None, EDIT_SCHEMA, GREP_SCHEMA, {}, {"properties": 5}, {"properties": {"a": 3}},
                            {"properties": {"a": {"$ref": "#/nowhere"}}}, {"properties": {"a": {"anyOf": "x"}}}]),
    spans=st.lists(st.tuples(st.integers(-5, 400), st.integers(-5, 400)), max_size=3),
)
@PROPERTY
def test_nothing_raises_on_damaged_or_random_input(source: str, ops: list[tuple[int, int, str]], schema: Any,
                                                   spans: list[tuple[int, int]]) -> None:
    text = _mutate(source, ops)
    value, fixes = repair_json(text)
    assert isinstance(fixes, tuple)
    calls = find_text_calls(text, NAMES)
    # A real tool's spelling, or (in an explicit call format) one identifier as written.
    assert all((c.name in NAMES or re.fullmatch(r"[A-Za-z_][\w.\-]*", c.name)) and isinstance(c.arguments, dict)
               for c in calls)
    assert all(0 <= c.span[0] < c.span[1] <= len(text) for c in calls)
    extra = [FoundCall("Read", {}, "bare_json", (), span) for span in spans]
    assert isinstance(strip_calls(text, [*calls, *extra]), str)
    args, _ = repair_arguments(text, schema)
    assert args is None or isinstance(args, dict)
    if isinstance(value, dict):
        repaired, _ = repair_arguments(value, schema)
        assert isinstance(repaired, dict)
