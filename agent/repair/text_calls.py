"""Finding tool calls a model wrote into its reply as text (a fenced ```tool block, a Hermes
`<tool_call>` tag, Qwen-Coder's `<function=…>` XML, or a bare JSON object in prose), and removing
them from the text the user sees.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agent.repair.json_text import TOO_DEEP, add_fix, repair_json, skip_ws

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
        k = skip_ws(text, end)
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
        i = skip_ws(text, after)
        if text.startswith("```", i):  # a fenced call inside the tag
            i = _fence_header(text, i + 3)[1]
        found, end = self._contents(i, "tool_call_tag", closer=_TAG_CLOSE, trust="any")
        if not found:
            return [], after
        k = skip_ws(text, end)
        if text.startswith("```", k):
            k = skip_ws(text, k + 3)
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
            k = skip_ws(text, end)
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
            k = skip_ws(text, i)
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
                    add_fix(fixes, "unclosed_parameter")
                arguments[param.group(1)] = _parameter_value(text[value_start:value_end])
                continue
            func_close = _FUNC_CLOSE.match(text, k)
            if func_close is not None:
                i = func_close.end()
            else:
                add_fix(fixes, "unclosed_function")
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
