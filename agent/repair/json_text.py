"""Mending JSON text that small models commonly get wrong: raw newlines in strings, trailing commas,
single quotes, Python literals, comments, a reply cut off before its closing braces.

Each repair is recorded by name (e.g. "trailing_comma"); what cannot be repaired comes back as None.
"""

from __future__ import annotations

import json
import re
from typing import Any

_WS = re.compile(r"[ \t\r\n]*")
_FENCE_OPEN = re.compile(r"\s*```[\w+.#-]*[ \t]*\n?")
NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[\w$.\-]+")
_UNQUOTED_VALUE = re.compile(r"[^,}\]\n]+")
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_IN_DOUBLE = re.compile(r'["\\\x00-\x1f]')
_IN_SINGLE = re.compile(r"['\"\\\x00-\x1f]")
_LITERALS = frozenset({"true", "false", "null"})
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}
_CONTROL = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_VALUE_END = " \t\r\n,:}]/"


def add_fix(fixes: list[str], name: str) -> None:
    """Record the repair `name` once."""
    if name not in fixes:
        fixes.append(name)


def skip_ws(text: str, i: int) -> int:
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
            self.i = skip_ws(s, self.i)
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
        number = NUMBER.match(s, i)
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
        k = skip_ws(s, j)
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
