"""Tool calls a model wrote as text, and tool-call JSON that needs mending.

Small local models often answer with a call written into their reply (a fenced ```tool block, a
Hermes `<tool_call>` tag, Qwen-Coder's `<function=…>` XML, or a bare JSON object in prose) instead of
a native call, and their JSON is often slightly broken: raw newlines in strings, trailing commas,
single quotes, Python literals, a reply cut off before its closing braces. This module finds such
calls and repairs such JSON. Everything here is a pure function: no I/O, no state, and no input
makes it raise; what cannot be repaired comes back as None, never as a guess.

Each repair is recorded by name (e.g. "trailing_comma") so the session can report it as an event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["FoundCall", "find_text_calls", "repair_arguments", "repair_json", "strip_calls"]


@dataclass(frozen=True)
class FoundCall:
    """A tool call found in reply text."""

    # The tool's real spelling; in an explicit call format, the name as written when no tool has it
    # (the quality monitor then names the tool that was meant).
    name: str
    arguments: dict[str, Any]
    source: str  # "fenced", "tool_call_tag", "xml_function", "bare_json"
    fixes: tuple[str, ...]  # repairs that were needed, e.g. ("trailing_comma", "single_quotes")
    span: tuple[int, int]  # [start, end) in the original text: what strip_calls removes
    # The arguments as written when they were a string that could not be read as an object; the
    # session passes it on as ToolCall.raw_arguments so the monitor asks for valid JSON.
    raw_arguments: str | None = None


# --------------------------------------------------------------------------------------------
# repair_json
# --------------------------------------------------------------------------------------------

_WS = re.compile(r"[ \t\r\n]*")
_FENCE_OPEN = re.compile(r"\s*```[\w+.#-]*[ \t]*\n?")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[\w$.\-]+")
_UNQUOTED_VALUE = re.compile(r"[^,}\]\n]+")
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_IN_DOUBLE = re.compile(r'["\\\x00-\x1f]')
_IN_SINGLE = re.compile(r"['\"\\\x00-\x1f]")
_LITERALS = frozenset({"true", "false", "null"})
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}
_CONTROL = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_VALUE_END = " \t\r\n,:}]/"


def _skip_ws(text: str, i: int) -> int:
    m = _WS.match(text, i)
    return i if m is None else m.end()


class _Hopeless(Exception):
    """Raised inside the normaliser when the text is not JSON-like enough to mend."""


class _Frame:
    """One open object or array while normalising."""

    __slots__ = ("closer", "comma_at", "state")

    def __init__(self, closer: str) -> None:
        self.closer = closer
        # "key", "colon", "value" (what comes next) or "comma" (an item just ended)
        self.state = "key" if closer == "}" else "value"
        self.comma_at: int | None = None  # index in the output of a comma not yet followed by an item


class _Normaliser:
    """Rewrites JSON-like text into strict JSON in one pass, recording each kind of fix.

    A single scan (rather than a chain of regex substitutions) knows at every point whether it is
    inside a string, so an apostrophe inside a double-quoted string, a `//` inside a URL or a `#`
    inside a string are never mistaken for quotes or comments.
    """

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.out: list[str] = []
        self.fixes: list[str] = []
        self.stack: list[_Frame] = []
        self.done = False  # the top-level value is complete
        self.trailing = False  # text followed the complete top-level value

    def fix(self, name: str) -> None:
        if name not in self.fixes:
            self.fixes.append(name)

    def run(self) -> str:
        s, n = self.s, len(self.s)
        while True:
            self.i = _skip_ws(s, self.i)
            if self.i >= n:
                break
            c = s[self.i]
            if c == "/" and s.startswith(("//", "/*"), self.i) or c == "#":
                self._comment()
            elif self.done:
                self.trailing = True
                break
            elif c in "{[":
                if self._before_item() == "key":
                    raise _Hopeless
                self.out.append(c)
                self.stack.append(_Frame("}" if c == "{" else "]"))
                self.i += 1
            elif c in "}]":
                self._close(c)
            elif c == ",":
                self._comma()
            elif c == ":":
                self._colon()
            elif c in "\"'":
                role = self._before_item()
                self._string(c)
                self._after_item(role)
            else:
                self._scalar()
        if self.stack:
            self.fix("missing_closers")
            while self.stack:
                self._close_top()
        if not self.done:
            raise _Hopeless
        return "".join(self.out)

    # --- structure ---------------------------------------------------------------------------

    def _before_item(self) -> str:
        """Make room for a key or value here; returns which one it is."""
        if not self.stack:
            return "value"
        frame = self.stack[-1]
        if frame.state == "comma":
            self.out.append(",")
            self.fix("missing_commas")
            frame.state = "key" if frame.closer == "}" else "value"
        elif frame.state == "colon":
            self.out.append(":")
            self.fix("missing_colons")
            frame.state = "value"
        frame.comma_at = None
        return frame.state

    def _after_item(self, role: str) -> None:
        if not self.stack:
            self.done = True
        else:
            self.stack[-1].state = "colon" if role == "key" else "comma"

    def _close(self, c: str) -> None:
        self.i += 1
        if not self.stack:
            raise _Hopeless  # a closer before anything opened
        if self.stack[-1].closer != c:
            if not any(frame.closer == c for frame in self.stack):
                self.fix("stray_closers")
                return
            self.fix("missing_closers")
            while self.stack[-1].closer != c:
                self._close_top()
        self._close_top()

    def _close_top(self) -> None:
        frame = self.stack[-1]
        if frame.closer == "}" and frame.state == "colon":
            self.out.append(":null")
            self.fix("missing_values")
        elif frame.closer == "}" and frame.state == "value":
            self.out.append("null")
            self.fix("missing_values")
        elif frame.comma_at is not None:
            self.out[frame.comma_at] = ""
            self.fix("trailing_comma")
        self.out.append(frame.closer)
        self.stack.pop()
        self._after_item("value")

    def _comma(self) -> None:
        self.i += 1
        if not self.stack:
            raise _Hopeless
        frame = self.stack[-1]
        if frame.state == "colon":
            self.out.append(":null")
            self.fix("missing_values")
        elif frame.closer == "}" and frame.state == "value":
            self.out.append("null")
            self.fix("missing_values")
        elif frame.state != "comma":
            self.fix("extra_commas")  # `[,1]` or `[1,,2]`: nothing to separate
            return
        self.out.append(",")
        frame.comma_at = len(self.out) - 1
        frame.state = "key" if frame.closer == "}" else "value"

    def _colon(self) -> None:
        self.i += 1
        if not self.stack or self.stack[-1].state != "colon":
            raise _Hopeless
        self.out.append(":")
        self.stack[-1].state = "value"

    def _comment(self) -> None:
        s, i = self.s, self.i
        if s.startswith("/*", i):
            end = s.find("*/", i + 2)
            self.i = len(s) if end < 0 else end + 2
        else:
            end = s.find("\n", i)
            self.i = len(s) if end < 0 else end
        self.fix("comments")

    # --- scalars -----------------------------------------------------------------------------

    def _scalar(self) -> None:
        s, i = self.s, self.i
        role = self._before_item()
        if role == "key":
            m = _WORD.match(s, i)
            if m is None:
                raise _Hopeless
            self.out.append(json.dumps(m.group(), ensure_ascii=False))
            self.fix("unquoted_keys")
            self.i = m.end()
            self._after_item("key")
            return
        word = _WORD.match(s, i)
        number = _NUMBER.match(s, i)
        if number and self._value_ends(number.end()):
            self.out.append(number.group())
            self.i = number.end()
        elif word and word.group() in _LITERALS and self._value_ends(word.end()):
            self.out.append(word.group())
            self.i = word.end()
        elif word and word.group() in _PY_LITERALS and self._value_ends(word.end()):
            self.out.append(_PY_LITERALS[word.group()])
            self.fix("python_literals")
            self.i = word.end()
        elif self.stack:
            # A bare word where a value belongs (`{"path": src/a.py}`): read it as a string.
            m = _UNQUOTED_VALUE.match(s, i)
            if m is None:
                raise _Hopeless
            self.out.append(json.dumps(m.group().rstrip(), ensure_ascii=False))
            self.fix("unquoted_values")
            self.i = m.end()
        else:
            raise _Hopeless  # prose is not JSON
        self._after_item("value")

    def _value_ends(self, j: int) -> bool:
        return j >= len(self.s) or self.s[j] in _VALUE_END

    def _string(self, quote: str) -> None:
        """Copy a string starting at self.i as a strict JSON string."""
        s, n = self.s, len(self.s)
        special = _IN_DOUBLE if quote == '"' else _IN_SINGLE
        if quote == "'":
            self.fix("single_quotes")
        buf = ['"']
        i = self.i + 1
        while True:
            m = special.search(s, i)
            if m is None:
                buf.append(s[i:])
                buf.append('"')
                self.fix("unclosed_string")
                i = n
                break
            j = m.start()
            buf.append(s[i:j])
            c = s[j]
            if c == "\\":
                nxt = s[j + 1:j + 2]
                if quote == "'" and nxt == "'":
                    buf.append("'")
                    i = j + 2
                elif nxt and nxt in '"\\/bfnrt':
                    buf.append("\\" + nxt)
                    i = j + 2
                elif nxt == "u" and _HEX4.match(s, j + 2):
                    buf.append(s[j:j + 6])
                    i = j + 6
                else:
                    buf.append("\\\\")  # `\d` in a regex: keep the backslash as a character
                    self.fix("invalid_escapes")
                    i = j + 1
            elif c == quote:
                i = j + 1
                if self._string_closes(i):
                    buf.append('"')
                    break
                # A quote that cannot end the string (`"echo "hi""`, `'it's'`) is part of it.
                if quote == '"':
                    buf.append('\\"')
                    self.fix("inner_quotes")
                else:
                    buf.append("'")
            elif c == '"':  # inside a single-quoted string
                buf.append('\\"')
                i = j + 1
            else:
                buf.append(_CONTROL.get(c) or f"\\u{ord(c):04x}")
                self.fix("raw_control_chars")
                i = j + 1
        self.out.append("".join(buf))
        self.i = i

    def _string_closes(self, j: int) -> bool:
        """Whether a quote ending at j can close a string: what follows must be structure."""
        s = self.s
        k = _skip_ws(s, j)
        if k >= len(s) or s[k] in ",:}]" or s.startswith(("//", "/*"), k):
            return True
        # A quote at a line end followed by a quoted key on the next line: a missing comma.
        return s[k] in "\"'" and "\n" in s[j:k]


# The fix name repair_json reports, with no value, for JSON nested past the parser's depth limit.
TOO_DEEP = "too_deep"


def repair_json(raw: str) -> tuple[Any | None, tuple[str, ...]]:
    """Parse `raw` as JSON, mending what small models commonly get wrong.

    Returns the value and the fixes applied (empty when `raw` was valid JSON), or None and the
    fixes tried when the text is beyond repair.
    """
    if not isinstance(raw, str):
        return None, ()
    try:
        return json.loads(raw), ()
    except ValueError:
        pass
    except RecursionError:
        return None, (TOO_DEEP,)  # no repair makes nesting shallower
    fixes: list[str] = []
    body = raw
    fence = _FENCE_OPEN.match(body)
    fenced = fence is not None
    if fence is not None:
        body = body[fence.end():]
        fixes.append("code_fence")
    stripped = body.lstrip()
    if stripped[:1] not in ("{", "[", "'", '"') and not stripped.startswith(("//", "/*", "#")):
        cut = body.find("{")
        if cut < 0:
            cut = body.find("[")
        if cut > 0:
            body = body[cut:]
            fixes.append("leading_prose")
    normaliser = _Normaliser(body)
    try:
        text = normaliser.run()
    except _Hopeless:
        return None, tuple(fixes + normaliser.fixes)
    fixes.extend(normaliser.fixes)
    if normaliser.trailing:
        rest = body[normaliser.i:].strip()
        if not (fenced and rest == "```"):  # the fence's own closing backticks
            fixes.append("trailing_text")
    try:
        return json.loads(text), tuple(fixes)
    except ValueError:
        return None, tuple(fixes)
    except RecursionError:
        return None, (*fixes, TOO_DEEP)


# --------------------------------------------------------------------------------------------
# repair_arguments
# --------------------------------------------------------------------------------------------

# Names small models use for a parameter, mapped to ours. Applied only when the schema has the
# target and lacks the alias (Grep's own `path` is never renamed).
_ALIASES: dict[str, tuple[str, ...]] = {
    "file_path": ("path", "filename", "file", "filepath", "file_name"),
    "old_string": ("old", "old_str", "old_text"),
    "new_string": ("new", "new_str", "new_text"),
    "command": ("cmd",),
}
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}
_INT_TEXT = re.compile(r"\s*[-+]?\d+\s*")


# No tool takes arguments nested anywhere near this deep. Far deeper ones (a model stuck emitting
# brackets) would fail json's recursion limit when history is sent back, so they are refused.
MAX_ARGUMENT_NESTING = 64


def nests_deeper(value: Any, limit: int = MAX_ARGUMENT_NESTING) -> bool:
    """Whether lists and objects in `value` nest more than `limit` levels (counted without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def repair_arguments(raw: str | dict[str, Any] | None,
                     schema: dict[str, Any] | None = None) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    """Arguments of a native call as a dict, repaired and (with the tool's JSON schema) fitted to it.

    With a schema: keys are matched case-insensitively and through common aliases, scalar values
    are coerced to the declared type ("5" -> 5 for an integer); unknown keys are kept (the tool's
    validation reports them). Returns None when a string cannot be read as an object.
    """
    fixes: list[str] = []
    if raw is None:
        return {}, ()
    if isinstance(raw, Mapping):
        args: dict[str, Any] = {str(k): v for k, v in raw.items()}
    elif isinstance(raw, str):
        if not raw.strip():
            return {}, ()
        value, json_fixes = repair_json(raw)
        fixes.extend(json_fixes)
        if isinstance(value, str):  # a JSON string holding the JSON object
            value, json_fixes = repair_json(value)
            fixes.append("double_encoded")
            fixes.extend(f for f in json_fixes if f not in fixes)
        if not isinstance(value, dict):
            return None, tuple(fixes)
        args = value
    else:
        return None, ()
    if isinstance(schema, Mapping):
        args = _fit_object(args, schema, schema, fixes)
    return args, tuple(fixes)


def _add(fixes: list[str], name: str) -> None:
    if name not in fixes:
        fixes.append(name)


def _resolve(schema: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local `$ref` (pydantic puts nested models under `$defs`)."""
    for _ in range(8):  # refs pointing at refs: a few hops at most, and never a cycle
        if not isinstance(schema, Mapping):
            return {}
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return schema
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part) if isinstance(node, Mapping) else None
        schema = node
    return {}


def _types(schema: Mapping[str, Any], root: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The JSON types a schema allows, each with the sub-schema that allows it."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    declared = schema.get("type")
    if isinstance(declared, str):
        found.append((declared, schema))
    elif isinstance(declared, list):
        found.extend((t, schema) for t in declared if isinstance(t, str))
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list):
            for option in options:
                found.extend(_types(_resolve(option, root), root))
    if not found and isinstance(schema.get("properties"), Mapping):
        found.append(("object", schema))
    return found


def _fit_object(args: dict[str, Any], schema: Mapping[str, Any], root: Mapping[str, Any],
                fixes: list[str]) -> dict[str, Any]:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return args
    names = [p for p in properties if isinstance(p, str)]
    by_lower: dict[str, str] = {}
    for p in names:
        by_lower.setdefault(p.lower(), p)
    renamed: dict[str, Any] = {}
    for key, value in args.items():
        target = key
        if key not in properties:
            match = by_lower.get(key.lower())
            if match is not None and match not in args:
                target = match
                _add(fixes, "key_case")
            else:
                for canonical, aliases in _ALIASES.items():
                    if (key.lower() in aliases and canonical in properties and key not in properties
                            and canonical not in args):
                        target = canonical
                        _add(fixes, "key_alias")
                        break
        if target in renamed:  # two spellings of one key: the exact one wins
            continue
        renamed[target] = value
    for key, value in renamed.items():
        if key in properties:
            renamed[key] = _coerce(value, _resolve(properties[key], root), root, fixes)
    return renamed


def _coerce(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any], fixes: list[str]) -> Any:
    """Fit one value to its schema where a lossless reading exists; otherwise leave it as it is."""
    types = _types(schema, root)
    if not types:
        return value
    kinds = [t for t, _ in types]
    sub = dict(types)
    if _matches(value, kinds):
        if isinstance(value, dict) and "object" in sub:
            return _fit_object(value, sub["object"], root, fixes)
        if isinstance(value, list) and "array" in sub:
            items = _resolve(sub["array"].get("items"), root)
            return [_coerce(item, items, root, fixes) for item in value] if items else value
        return value
    for kind in ("null", "boolean", "integer", "number", "array", "object", "string"):
        if kind not in sub:
            continue
        converted = _convert(value, kind)
        if converted is not _NO:
            _add(fixes, "type_coercion")
            return _coerce(converted, sub[kind], root, fixes) if kind in ("array", "object") else converted
    return value


_NO = object()  # _convert's "no lossless conversion" (None is a real value)


def _matches(value: Any, kinds: list[str]) -> bool:
    for kind in kinds:
        if kind == "string" and isinstance(value, str):
            return True
        if kind == "boolean" and isinstance(value, bool):
            return True
        if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if kind == "array" and isinstance(value, list):
            return True
        if kind == "object" and isinstance(value, dict):
            return True
        if kind == "null" and value is None:
            return True
    return False


def _convert(value: Any, kind: str) -> Any:
    if kind == "null":
        return None if isinstance(value, str) and value.strip().lower() in ("", "null", "none") else _NO
    if kind == "boolean":
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
            return bool(value)
        return _NO
    if kind == "integer":
        if isinstance(value, str) and _INT_TEXT.fullmatch(value):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            number = _convert(value, "number")
            if isinstance(number, float) and number.is_integer():
                return int(number)
        return _NO
    if kind == "number":
        if isinstance(value, str):
            text = value.strip()
            if _INT_TEXT.fullmatch(text):
                return int(text)
            if _NUMBER.fullmatch(text.lstrip("+")):
                return float(text)
        return _NO
    if kind in ("array", "object"):
        if isinstance(value, str):
            parsed, _ = repair_json(value)
            if kind == "array" and isinstance(parsed, list) or kind == "object" and isinstance(parsed, dict):
                return parsed
        return _NO
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return json.dumps(value)
        if isinstance(value, (dict, list)):
            return json.dumps(value, ensure_ascii=False)
        return _NO
    return _NO


# --------------------------------------------------------------------------------------------
# find_text_calls
# --------------------------------------------------------------------------------------------

_TRIGGER = re.compile(r"```|<tool_call>|<function=|\{", re.IGNORECASE)
_FENCE_TAG = re.compile(r"[\w+.#-]*")
_FENCE_HEADER_END = re.compile(r"[ \t]*(?:\r?\n)?")
_XML_CALL = re.compile(r"<tool_call>|<function=", re.IGNORECASE)
# Fence tags whose content may be a call; any other tag marks code, which is never a call.
_CALL_FENCES = {"", "tool", "tool_call", "tool_code", "json", "json5", "jsonc"}
_FENCE_CLOSE = re.compile(r"```[ \t]*(?:\r?\n|$)")
_TAG_OPEN = re.compile(r"<tool_call>", re.IGNORECASE)
_TAG_CLOSE = re.compile(r"</tool_call>", re.IGNORECASE)
_FENCE_MARK = re.compile(r"```")
_FUNC_OPEN = re.compile(r"<function=\s*[\"']?([^>\"'\s]+)[\"']?\s*>", re.IGNORECASE)
_PARAM_OPEN = re.compile(r"<parameter=\s*[\"']?([^>\"'\s]+)[\"']?\s*>", re.IGNORECASE)
_PARAM_NEXT = re.compile(r"<parameter=", re.IGNORECASE)
_PARAM_CLOSE = re.compile(r"</parameter>", re.IGNORECASE)
_FUNC_CLOSE = re.compile(r"</function>", re.IGNORECASE)
# A `{` worth a balanced scan: it opens an object with a key (prose braces and code blocks rarely do).
_OBJECT_START = re.compile(r"\{\s*(?:\"[^\"\\\n]{1,64}\"|'[^'\\\n]{1,64}'|[A-Za-z_][\w-]{0,63})\s*:")
_SINGLE_QUOTED_START = re.compile(r"[{\[]\s*'")
_STRUCT_DOUBLE = re.compile(r"[{}\[\]\"]")
_STRUCT_BOTH = re.compile(r"[{}\[\]\"']")
# A string's body and closing quote, escapes skipped (the unrolled form never backtracks).
_STRING_BODY = {'"': re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL),
                "'": re.compile(r"[^'\\]*(?:\\.[^'\\]*)*'", re.DOTALL)}
_ARG_KEYS = ("arguments", "input", "parameters", "args")
# How a call object opens: {"name": "Read", ... (or "tool"), readable without parsing the rest.
_CALL_HEAD = re.compile(r"\{\s*[\"']?(?:name|tool)[\"']?\s*:\s*[\"']([^\"'\\\n]{1,64})[\"']")
_CALL_META = ("name", "tool", "type", "id")
# What an invented tool name may look like: one identifier (`run_tests`, `str_replace_editor`, `fs.read`).
_INVENTED_NAME = re.compile(r"[A-Za-z_][\w.\-]{0,63}")
# Fences whose tag says "this is a tool call" (not merely JSON): any name in them is a call attempt.
_TOOL_FENCES = {"tool", "tool_call", "tool_code"}
# Unclosed candidates each cost a scan to the end of the text; a bound keeps pathological text
# (hundreds of stray `{"a":`) linear. Real replies have one truncated call at most.
_MAX_UNCLOSED_TRIES = 16


def find_text_calls(text: str, tool_names: Collection[str]) -> list[FoundCall]:
    """Tool calls written into reply text, in order. Names match exactly or case-insensitively and
    come back in the tool's own spelling.

    A name no tool has still makes a call where the format says "tool call" on its own: a ```tool
    fence, a <tool_call> tag, a <function=…> block, or a ```json / untagged fence holding the call
    shape (a name and an arguments key). The model meant to act there, and the monitor corrects the
    name; dropping the call would let the reply pass for a final answer. Bare JSON in prose counts
    only with a real tool's name: a sample such as {"name": "John", "age": 3} is not a call."""
    if not isinstance(text, str) or not text:
        return []
    names = [n for n in tool_names if isinstance(n, str)] if isinstance(tool_names, Collection) else []
    if not names:
        return []
    return _Finder(text, names).run()


# How much a spot in the reply says "tool call", which decides whether an unknown name still counts:
# "known" (bare JSON in prose): real names only; "shaped" (```json and untagged fences): an unknown
# name with an arguments key; "any" (tool fences, <tool_call>, <function=>): any identifier.
_Trust = Literal["known", "shaped", "any"]


class _Finder:
    """One scan of one reply; holds the per-call memo of bracket ends."""

    def __init__(self, text: str, names: list[str]) -> None:
        self.text = text
        self.exact = set(names)
        self.lower: dict[str, str] = {}
        for name in names:
            self.lower.setdefault(name.lower(), name)
        self.ends: dict[tuple[int, bool], tuple[int, bool]] = {}
        self.unclosed_tries = 0

    def run(self) -> list[FoundCall]:
        calls: list[FoundCall] = []
        pos = 0
        while True:
            m = _TRIGGER.search(self.text, pos)
            if m is None:
                return calls
            token = m.group().lower()
            if token == "```":
                found, resume = self._fence(m.start(), m.end())
            elif token == "<tool_call>":
                found, resume = self._tag(m.start(), m.end())
            elif token == "<function=":
                found, resume = self._function(m.start(), m.start(), "xml_function")
            else:
                found, resume = self._bare(m.start())
            calls.extend(found)
            pos = max(resume, m.start() + 1)

    # --- the four formats --------------------------------------------------------------------

    def _fence(self, start: int, after: int) -> tuple[list[FoundCall], int]:
        text = self.text
        tag, body = _fence_header(text, after)
        if tag.lower() not in _CALL_FENCES:
            found_close = text.find("```", body)
            block_end = len(text) if found_close < 0 else found_close + 3
            if _XML_CALL.search(text, body, block_end) is not None:
                return [], body  # ```xml around <tool_call> markup: look inside
            return [], block_end  # code, never a call: skip it whole
        trust: _Trust = "any" if tag.lower() in _TOOL_FENCES else "shaped"
        found, end = self._contents(body, "fenced", closer=_FENCE_MARK, trust=trust)
        if not found:
            return [], after
        k = _skip_ws(text, end)
        if text.startswith("```", k):
            end = k + 3
        else:
            # Words between the call and the closing fence still belong to the block, but only
            # up to the next backticks, and only if they close (a tag after them opens a block).
            backticks = text.find("```", end)
            if backticks >= 0 and _FENCE_CLOSE.match(text, backticks):
                end = backticks + 3
        return self._respan(found, start, end), end

    def _tag(self, start: int, after: int) -> tuple[list[FoundCall], int]:
        text = self.text
        i = _skip_ws(text, after)
        if text.startswith("```", i):  # a fenced call inside the tag
            i = _fence_header(text, i + 3)[1]
        found, end = self._contents(i, "tool_call_tag", closer=_TAG_CLOSE, trust="any")
        if not found:
            return [], after
        k = _skip_ws(text, end)
        if text.startswith("```", k):
            k = _skip_ws(text, k + 3)
        close = _TAG_CLOSE.match(text, k) or _TAG_CLOSE.search(text, end)
        if close is not None:
            next_open = _TAG_OPEN.search(text, end)
            if next_open is None or close.start() < next_open.start():
                end = close.end()
        return self._respan(found, start, end), end

    def _contents(self, i: int, source: str, closer: re.Pattern[str],
                  trust: _Trust) -> tuple[list[FoundCall], int]:
        """Calls written one after another from i (in a fence or a tag) and where they end."""
        text = self.text
        found: list[FoundCall] = []
        end = i
        while True:
            k = _skip_ws(text, end)
            if k >= len(text) or closer.match(text, k):
                break
            if text[k] in "{[":
                stop, closed = self._bracket_end(k)
                calls = []
                found_closer = None if closed else closer.search(text, k)
                cut = -1 if found_closer is None else found_closer.start()
                if cut >= 0:
                    # Unbalanced JSON before the block's closer (a brace too few): mend it there.
                    value, fixes = repair_json(text[k:cut])
                    calls = self._calls_from(value, fixes, source, (k, cut), trust=trust)
                    if calls:
                        stop = cut
                if not calls:
                    value, fixes = repair_json(text[k:stop])
                    calls = self._calls_from(value, fixes, source, (k, stop), trust=trust)
            elif text[k:k + 10].lower() == "<function=":
                calls, stop = self._function(k, k, "xml_function")
            elif _TAG_OPEN.match(text, k) is not None:
                calls, stop = self._tag(k, k + len("<tool_call>"))
            else:
                break
            if not calls:
                break
            found.extend(calls)
            end = stop
        return found, end

    def _function(self, start: int, span_start: int, source: str) -> tuple[list[FoundCall], int]:
        """Qwen-Coder XML: <function=Name><parameter=key>value</parameter>…</function>."""
        text = self.text
        head = _FUNC_OPEN.match(text, start)
        if head is None:
            return [], start + 1
        name, name_fixes = self._name(head.group(1), invented_ok=True)
        if name is None:
            return [], head.end()
        fixes = list(name_fixes)
        arguments: dict[str, Any] = {}
        i = head.end()
        while True:
            k = _skip_ws(text, i)
            param = _PARAM_OPEN.match(text, k)
            if param is not None:
                value_start = param.end()
                close = _PARAM_CLOSE.search(text, value_start)
                following = _PARAM_NEXT.search(text, value_start)
                if close is not None and (following is None or close.start() < following.start()):
                    value_end, i = close.start(), close.end()
                else:
                    # No closing tag: the value runs to whatever comes next.
                    ends = [m.start() for m in (following, _FUNC_CLOSE.search(text, value_start),
                                                _TAG_CLOSE.search(text, value_start)) if m is not None]
                    value_end = i = min(ends, default=len(text))
                    _add(fixes, "unclosed_parameter")
                arguments[param.group(1)] = _parameter_value(text[value_start:value_end])
                continue
            func_close = _FUNC_CLOSE.match(text, k)
            if func_close is not None:
                i = func_close.end()
            else:
                _add(fixes, "unclosed_function")
            break
        return [FoundCall(name, arguments, source, tuple(fixes), (span_start, i))], i

    def _bare(self, start: int) -> tuple[list[FoundCall], int]:
        if _OBJECT_START.match(self.text, start) is None:
            return [], start + 1
        end, closed = self._bracket_end(start)
        if not closed:
            if self.unclosed_tries >= _MAX_UNCLOSED_TRIES:
                return [], start + 1
            self.unclosed_tries += 1
        value, fixes = repair_json(self.text[start:end])
        calls = self._calls_from(value, fixes, "bare_json", (start, end), trust="known")
        if calls:
            return calls, end
        if value is not None and not fixes:
            return [], end  # a clean JSON sample that is not a call: skip it whole
        return [], start + 1

    # --- reading a parsed object as a call ---------------------------------------------------

    def _calls_from(self, value: Any, fixes: tuple[str, ...], source: str, span: tuple[int, int],
                    trust: _Trust) -> list[FoundCall]:
        if value is None and TOO_DEEP in fixes:
            return self._too_deep_call(fixes, source, span, trust)
        # In prose (trust "known") a list is data; in a fence or a tag it may be a batch of calls.
        items = value if isinstance(value, list) and trust != "known" else [value]
        calls: list[FoundCall] = []
        for item in items:
            call = self._call(item, fixes, source, span, trust) if isinstance(item, dict) else None
            if call is None:
                return []  # a list holding anything but calls is data, not calls
            calls.append(call)
        return calls

    def _call(self, obj: dict[str, Any], fixes: tuple[str, ...], source: str, span: tuple[int, int],
              trust: _Trust) -> FoundCall | None:
        bare = trust == "known"
        holder: dict[str, Any] = obj
        flatten_ok = not bare
        function = obj.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            holder, written = function, function["name"]
        elif isinstance(obj.get("name"), str):
            written = obj["name"]
        elif isinstance(obj.get("tool"), str):
            written, flatten_ok = obj["tool"], True  # {"tool": "Bash", "command": "ls"}
        else:
            return None
        key = next((k for k in _ARG_KEYS if k in holder), None)
        name, name_fixes = self._name(written, invented_ok=trust == "any" or (trust == "shaped" and key is not None))
        if name is None:
            return None
        if "description" in holder and key in (None, "parameters"):
            return None  # a tool's spec echoed back, not a call
        all_fixes = list(fixes) + [f for f in name_fixes if f not in fixes]
        raw: str | None = None
        if key is not None:
            given = holder[key]
            if isinstance(given, dict):
                arguments = given
            elif given is None or isinstance(given, str) and not given.strip():
                arguments = {}
            elif isinstance(given, str):
                decoded, string_fixes = repair_json(given)
                if isinstance(decoded, dict):
                    arguments = decoded
                    all_fixes.extend(f for f in string_fixes if f not in all_fixes)
                else:
                    arguments, raw = {}, given
            else:
                arguments, raw = {}, json.dumps(given, ensure_ascii=False)
            if arguments.get("type") == "object" and "properties" in arguments:
                return None  # a JSON schema, not arguments
        else:
            extra = {k: v for k, v in holder.items() if k not in _CALL_META}
            if extra and not flatten_ok or bare and not extra:
                return None  # in prose, a name alone or a name beside loose keys is too weak a sign
            arguments = extra
            if extra:
                all_fixes.append("flattened_arguments")
        return FoundCall(name, arguments, source, tuple(all_fixes), span, raw)

    def _too_deep_call(self, fixes: tuple[str, ...], source: str, span: tuple[int, int],
                       trust: _Trust) -> list[FoundCall]:
        """JSON nested past the parser's limit cannot be read, but if it opens by naming a tool it is
        that tool's call: kept with its text as raw arguments, so the monitor asks for it again
        instead of the reply passing for a final answer."""
        head = _CALL_HEAD.match(self.text, span[0])
        name = self._name(head.group(1), invented_ok=trust == "any")[0] if head is not None else None
        if name is None:
            return []
        return [FoundCall(name, {}, source, fixes, span, self.text[span[0]:span[1]])]

    def _name(self, written: str, invented_ok: bool) -> tuple[str | None, tuple[str, ...]]:
        """The real tool `written` names; else, where `invented_ok`, the name as written if it is one
        identifier; else None."""
        name = written.strip()
        if name in self.exact:
            return name, ()
        real = self.lower.get(name.lower())
        if real is not None:
            return real, ("name_case",)
        return (name, ()) if invented_ok and _INVENTED_NAME.fullmatch(name) else (None, ())

    # --- scanning ----------------------------------------------------------------------------

    def _bracket_end(self, start: int) -> tuple[int, bool]:
        """End (exclusive) of the object or array opening at start, skipping strings and escapes,
        and whether it closed (if not, the end is the end of the text). Ends of nested brackets
        are remembered, so a failed outer candidate does not make the inner ones scan again."""
        text = self.text
        single = _SINGLE_QUOTED_START.match(text, start) is not None
        known = self.ends.get((start, single))
        if known is not None:
            return known
        structure = _STRUCT_BOTH if single else _STRUCT_DOUBLE
        opens: list[int] = []
        i, end, closed = start, len(text), False
        while True:
            m = structure.search(text, i)
            if m is None:
                break
            c, j = m.group(), m.start()
            if c in "{[":
                opens.append(j)
                i = j + 1
            elif c in "}]":
                self.ends[(opens.pop(), single)] = (j + 1, True)
                if not opens:
                    end, closed = j + 1, True
                    break
                i = j + 1
            else:
                i = _string_end(text, j + 1, c)
        for position in opens:
            self.ends[(position, single)] = (len(text), False)
        return end, closed

    @staticmethod
    def _respan(calls: list[FoundCall], start: int, end: int) -> list[FoundCall]:
        """Calls in one fence or tag share its span, so stripping removes the whole block."""
        return [FoundCall(c.name, c.arguments, c.source, c.fixes, (start, end), c.raw_arguments) for c in calls]


def _fence_header(text: str, after: int) -> tuple[str, int]:
    """The tag of a fence whose backticks end at `after`, and where its content starts."""
    tag = _FENCE_TAG.match(text, after)
    tag_end = after if tag is None else tag.end()
    rest = _FENCE_HEADER_END.match(text, tag_end)
    return text[after:tag_end], tag_end if rest is None else rest.end()


def _string_end(text: str, i: int, quote: str) -> int:
    """End of a string whose opening quote is just before i; the end of the text if unclosed."""
    m = _STRING_BODY[quote].match(text, i)
    return len(text) if m is None else m.end()


def _parameter_value(raw: str) -> str:
    """Qwen's template puts a value on its own lines; the one newline on each side is layout."""
    return raw.removeprefix("\n").removesuffix("\n")


# --------------------------------------------------------------------------------------------
# strip_calls
# --------------------------------------------------------------------------------------------

def strip_calls(text: str, calls: Sequence[FoundCall]) -> str:
    """The reply's visible text without the calls' spans. The whitespace around each removed span
    collapses to one separator (a blank line at most), so prose reads as if no call was there."""
    if not isinstance(text, str):
        return ""
    spans = sorted(
        (max(0, c.span[0]), min(len(text), c.span[1]))
        for c in calls
        if isinstance(c, FoundCall) and len(c.span) == 2
        and all(isinstance(p, int) for p in c.span) and c.span[0] < c.span[1]
    )
    pieces: list[str] = []
    pos = 0
    for start, end in spans:
        if end <= pos:
            continue  # inside a span already removed
        pieces.append(text[pos:max(start, pos)])
        pos = end
    pieces.append(text[pos:])
    result = pieces[0]
    for piece in pieces[1:]:
        left, right = result.rstrip(), piece.lstrip()
        if not right:
            result += piece  # only whitespace between two calls: decide at the next seam
            continue
        if not left:
            result = right
            continue
        gap = result[len(left):] + piece[:len(piece) - len(right)]
        separator = "\n\n" if gap.count("\n") >= 2 else "\n" if "\n" in gap else " "
        result = left + separator + right
    return result.strip()
