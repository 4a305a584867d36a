"""Targets read line by line with regular expressions: the fallback for a language without a grammar
(`lc_lsp.languages`) and for a file too large to parse. Headers with a `def|fun|func|function|fn` keyword
(or a C#-like modifier), bodies in braces, after `=`/`=>`, or indented (closed by `end` where the language
does). Its targets say they are guesses: `Target.fallback` is true.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from typing import Literal

from lc_lsp.ranges import LineIndex
from lc_lsp.source_lines import SourceLines
from lc_lsp.targets import MARKER, StubReason, Target, is_placeholder_value, text_range

# How many lines above the cursor the fallback looks for the header of the enclosing function.
_FALLBACK_WINDOW = 2_000
_NEWLINE = re.compile(r"\r\n|\r|\n")

_KEYWORD_HEADER = re.compile(
    r"""^[ \t]*(?:(?:[@\w]+(?:\([^)]*\))?|<[^>]*>)[ \t]+)*?     # modifiers, annotations
        (?:def|fun|func|function|fn|sub|proc)[ \t]+
        (?:<[^>]*>[ \t]*)?                                      # Kotlin type parameters: fun <T> name
        (?:\([^)]*\)[ \t]*)?                                    # Go receiver: func (s *Stack) Push
        (?P<name>(?:self\.)?(?:[-+*/%<>=!~^&|]+|\[\]=?)@?         # Ruby operators: def +(other)
                 |[A-Za-z_$][\w$]*(?:(?:\.|::)[A-Za-z_$][\w$]*)*[?!]?)""",
    re.VERBOSE,
)
# C#-style headers have no keyword; a leading modifier makes them recognisable.
_MODIFIER_HEADER = re.compile(
    r"""^[ \t]*(?:\[[^\]]*\][ \t]*)*
        (?:(?:public|private|protected|internal|static|virtual|override|abstract
            |sealed|async|final|extern|unsafe)[ \t]+)+
        (?!(?:class|struct|interface|enum|record|object|return|new)\b)
        (?:[\w<>\[\],.?]+[ \t]+)?
        (?P<name>[A-Za-z_]\w*)[ \t]*(?:<[^>]*>)?[ \t]*\(""",
    re.VERBOSE,
)
_CONTAINER_HEADER = re.compile(
    r"^[ \t]*(?:[\w@]+[ \t]+)*?(?:class|struct|object|module|impl|interface|enum|trait|record)[ \t]+(?P<name>[A-Za-z_]\w*)"  # noqa: E501
)
_FULL_LINE_COMMENT = re.compile(r"^[ \t]*(?://|#(?![\[!])|-- |--$|/\*|\*(?:[ \t/]|$)|;;)")
_LEAD_LINE = re.compile(r"^[ \t]*(?:@|#\[|\[[A-Z])")
_END_LINE = re.compile(r"^[ \t]*end\b")
_STRING_LINE = re.compile(r"""^[rubfRUBF]*(?:"[^"]*"|'[^']*')$""")
_LOOKAHEAD = 50
"""Lines below the cursor searched for a header, for a cursor on the comments above it."""

_REGEX_STUBS: tuple[tuple[re.Pattern[str], StubReason], ...] = (
    (re.compile(r"^pass$"), StubReason.PASS),
    (re.compile(r"^\.\.\.$"), StubReason.ELLIPSIS),
    (re.compile(r"^raise\s+NotImplementedError\b"), StubReason.RAISE_NOT_IMPLEMENTED),
    (re.compile(r"^TODO\b\s*(?:\(.*\))?$"), StubReason.TODO_CALL),
    (re.compile(r"^todo!\s*[(\[{]"), StubReason.TODO_MACRO),
    (re.compile(r"^unimplemented!\s*[(\[{]"), StubReason.UNIMPLEMENTED_MACRO),
    (re.compile(r"^panic\s*\("), StubReason.PANIC),
    (re.compile(r"^throw\b.*\bUnsupportedOperationException\b"), StubReason.UNSUPPORTED_OPERATION),
    (
        re.compile(r"^(?:throw|raise|fatalError|error|die|abort)\b.*implement", re.IGNORECASE),
        StubReason.THROW_NOT_IMPLEMENTED,
    ),
)


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _trailing_comment(text: str) -> int | None:
    """Where a comment (`//`, `#`, `-- `) starts after code on a line, outside string literals."""
    quote = ""
    for index, char in enumerate(text):
        if quote:
            if char == quote and text[index - 1] != "\\":
                quote = ""
        elif char in "\"'`":
            quote = char
        elif (
            index
            and text[index - 1] in " \t"
            and (char == "#" or text.startswith("//", index) or text.startswith("-- ", index))
        ):
            return index
    return None


@dataclass(frozen=True, slots=True)
class _Block:
    name: str
    lead_line: int
    """First of the decorator/comment lines just above the header (the header line if none)."""
    start: tuple[int, int]
    end: tuple[int, int]
    body_start: tuple[int, int]
    body_end: tuple[int, int]
    reason: StubReason | None

    @property
    def size(self) -> tuple[int, int]:
        return self.end[0] - self.start[0], self.end[1] - self.start[1]


class RegexDocument:
    """Reads a document line by line: headers with a `def|fun|func|function|fn` keyword (or a C#-like
    modifier), bodies in braces, after `=`/`=>`, or indented (closed by `end` where the language does)."""

    def __init__(self, index: LineIndex, label: str) -> None:
        self.language = f"{label} (regex)"
        self._text = index.text
        self._lines = SourceLines(index)
        self._python = label == "python"

    @functools.cached_property
    def _all_blocks(self) -> list[_Block]:
        return self._blocks(0, len(self._lines))

    def targets_at(self, line: int, column: int, end: tuple[int, int] | None = None) -> list[Target]:
        line, column = self._lines.clamp(line, column)
        if len(self._lines) <= _FALLBACK_WINDOW:
            blocks = self._all_blocks
        else:  # a huge file: read only the headers near the cursor
            blocks = self._blocks(max(0, line - _FALLBACK_WINDOW), min(len(self._lines), line + _LOOKAHEAD))
        around = sorted((b for b in blocks if b.lead_line <= line <= b.end[0]), key=lambda b: b.size)
        targets: list[Target] = []
        if end is not None:
            end = self._lines.clamp(*end)
            if end != (line, column):
                first, last = sorted(((line, column), end))
                enclosing = min(
                    (b for b in blocks if b.start <= first and last <= b.end), key=lambda b: b.size, default=None
                )
                selection = Target(
                    kind="selection", language=self.language, range=text_range(first, last), fallback=True
                )
                targets.append(self._with_block(selection, enclosing))
        stub = next((b for b in around if b.reason is not None), None)
        if stub is not None:
            targets.append(self._stub_target(stub))
        todo = self._todo(line)
        if todo is not None:
            start, stop, text = todo
            target = Target(
                kind="todo", language=self.language, range=text_range(start, stop), comment=text, fallback=True
            )
            targets.append(self._with_block(target, around[0] if around else None))
        return targets

    def stubs(self) -> list[Target]:
        return [self._stub_target(b) for b in self._all_blocks if b.reason is not None]

    def _stub_target(self, block: _Block) -> Target:
        symbol = text_range(block.start, block.end)
        return Target(
            kind="stub",
            language=self.language,
            range=symbol,
            name=block.name,
            symbol_range=symbol,
            body_range=text_range(block.body_start, block.body_end),
            stub_reason=block.reason,
            fallback=True,
        )

    def _with_block(self, target: Target, block: _Block | None) -> Target:
        if block is None:
            return target
        return target.model_copy(
            update={
                "name": block.name,
                "symbol_range": text_range(block.start, block.end),
                "body_range": text_range(block.body_start, block.body_end),
            }
        )

    # -- comments -------------------------------------------------------------------------------

    def _is_comment_line(self, line: int) -> bool:
        return _FULL_LINE_COMMENT.match(self._lines.line(line)) is not None

    def _todo(self, line: int) -> tuple[tuple[int, int], tuple[int, int], str] | None:
        """The TODO comment on a line: a trailing one, or a comment-line run from its marker on."""
        lines = self._lines
        text = lines.line(line)
        if not self._is_comment_line(line):
            cut = _trailing_comment(text)
            if cut is None or not MARKER.search(text[cut:]):
                return None
            comment = text[cut:].rstrip()
            return (line, cut), (line, cut + len(comment)), comment
        head = line
        while not MARKER.search(lines.line(head)):
            head -= 1
            if head < 0 or not self._is_comment_line(head):
                return None
        last = head
        while last + 1 < len(lines) and self._is_comment_line(last + 1) and not MARKER.search(lines.line(last + 1)):
            last += 1
        comment = "\n".join(lines.line(i).strip() for i in range(head, last + 1))
        return (head, _indent(lines.line(head))), (last, lines.last_column(last) + 1), comment

    # -- functions ------------------------------------------------------------------------------

    def _blocks(self, first: int, stop: int) -> list[_Block]:
        """Function blocks whose header lies in [first, stop), qualified by an enclosing class-like
        header found by indentation."""
        blocks: list[_Block] = []
        scopes: list[tuple[int, str | None]] = []  # (indent, class-like name or None for a function)
        for line in range(first, stop):
            text = self._lines.line(line)
            if not text.strip() or self._is_comment_line(line):
                continue
            if not text.strip().strip("{}();,"):
                continue  # a line of bare braces (Allman style) opens or closes nothing by itself
            indent = _indent(text)
            while scopes and scopes[-1][0] >= indent:
                scopes.pop()
            header = _KEYWORD_HEADER.match(text) or _MODIFIER_HEADER.match(text)
            if header is not None:
                block = self._block(line, header, scopes[-1][1] if scopes else None)
                if block is not None:
                    blocks.append(block)
                scopes.append((indent, None))
                continue
            container = _CONTAINER_HEADER.match(text)
            if container is not None:
                scopes.append((indent, container.group("name")))
        return blocks

    def _block(self, line: int, header: re.Match[str], container: str | None) -> _Block | None:
        lines = self._lines
        indent = _indent(lines.line(line))
        name = header.group("name")
        if container is not None and name.startswith("self."):
            name = container + name.removeprefix("self")
        elif container is not None and "." not in name:
            name = f"{container}.{name}"
        lead = line
        while lead > 0 and (self._is_comment_line(lead - 1) or _LEAD_LINE.match(lines.line(lead - 1))):
            lead -= 1
        opening = self._body_opening(line, header.end())
        if opening is None:
            return None
        kind, at = opening
        if kind == "brace":
            end = self._closing_brace(at)
            code, comments = self._body_lines((at[0], at[1] + 1), (end[0], max(end[1] - 1, 0)))
            return _Block(name, lead, (line, indent), end, at, end, self._reason(code, comments, empty_is_stub=True))
        if kind == "expression":
            end = (at[0], lines.last_column(at[0]) + 1)
            code, comments = self._body_lines(at, end)
            return _Block(name, lead, (line, indent), end, at, end, self._reason(code, comments, empty_is_stub=False))
        return self._indented_block(name, lead, line, indent)

    def _body_opening(
        self, line: int, column: int
    ) -> tuple[Literal["brace", "expression", "indent"], tuple[int, int]] | None:
        """How the body starts after a header's name: `{`, `=`/`=>` with an expression, or an indented
        block; None for a declaration without a body (`;`)."""
        lines = self._lines
        depth = 0
        for current in range(line, min(len(lines), line + 20)):
            text = lines.line(current)
            cut = _trailing_comment(text)
            stop = len(text) if cut is None else cut
            for index in range(column if current == line else 0, stop):
                char = text[index]
                if char in "([":
                    depth += 1
                elif char in ")]":
                    depth -= 1
                elif depth > 0:
                    continue
                elif char == "{":
                    return "brace", (current, index)
                elif char == ";":
                    return None
                elif char == "=" and text[index + 1 : index + 2] != "=" and text[index - 1 : index] not in "!<>=":
                    after = index + (2 if text.startswith("=>", index) else 1)
                    rest = text[after:stop]
                    if rest.strip():
                        return "expression", (current, after + _indent(rest))
                    return "indent", (current, after)
            if depth <= 0:
                following = current + 1
                if following < len(lines) and lines.line(following).lstrip().startswith("{"):
                    return "brace", (following, lines.line(following).index("{"))
                return "indent", (current, stop)
        return None

    def _closing_brace(self, opening: tuple[int, int]) -> tuple[int, int]:
        """The position just past the brace closing the one at `opening`, skipping strings and comments;
        the end of the text when it never closes."""
        text = self._text
        index = self._lines.starts[opening[0]] + opening[1]
        depth = 0
        while index < len(text):
            char = text[index]
            if char in "\"'`":
                close = text.find(char, index + 1)
                while close != -1 and text[close - 1] == "\\":
                    close = text.find(char, close + 1)
                newline = text.find("\n", index)
                if close == -1 or (char != "`" and newline != -1 and close > newline):
                    index += 1  # a lone quote (an apostrophe, a lifetime), not a string
                else:
                    index = close + 1
                continue
            if text.startswith("//", index) or text.startswith("/*", index):
                close = text.find("\n" if text[index + 1] == "/" else "*/", index + 2)
                index = len(text) if close == -1 else close + (0 if text[index + 1] == "/" else 2)
                continue
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    return self._position(index + 1)
            index += 1
        return self._position(len(text))

    def _position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._lines.starts, offset) - 1
        return line, offset - self._lines.starts[line]

    def _indented_block(self, name: str, lead: int, line: int, indent: int) -> _Block | None:
        """A body of the lines indented below the header, closed by an `end` line where one follows."""
        lines = self._lines
        last_body = line
        current = line + 1
        while current < len(lines):
            text = lines.line(current)
            if text.strip():
                if _indent(text) <= indent:
                    break
                last_body = current
            current += 1
        closed = (
            current < len(lines)
            and _indent(lines.line(current)) == indent
            and _END_LINE.match(lines.line(current)) is not None
        )
        if last_body == line and not closed:
            return None  # no body: a declaration, or not a header after all
        header_end = (line, len(lines.line(line)))
        body_start = (line + 1, 0) if last_body > line else header_end
        body_end = (last_body, len(lines.line(last_body))) if last_body > line else header_end
        end = (current, lines.last_column(current) + 1) if closed else body_end
        code, comments = self._body_lines(body_start, body_end)
        return _Block(name, lead, (line, indent), end, body_start, body_end, self._reason(code, comments, closed))

    def _body_lines(self, start: tuple[int, int], end: tuple[int, int]) -> tuple[list[str], list[str]]:
        """The code lines and the comments between two positions; Python docstrings are dropped."""
        first = self._lines.starts[start[0]] + start[1]
        last = self._lines.starts[end[0]] + end[1]
        code: list[str] = []
        comments: list[str] = []
        in_comment = False
        docstring = ""
        for raw in _NEWLINE.split(self._text[first:last]):
            stripped = raw.strip()
            if not stripped:
                continue
            if docstring:
                docstring = "" if docstring in stripped else docstring
                continue
            if in_comment or stripped.startswith("/*"):
                comments.append(stripped)
                in_comment = "*/" not in (stripped if in_comment else stripped[2:])
                continue
            if self._python and not code and stripped[:3] in ('"""', "'''"):
                docstring = stripped[:3] if stripped.count(stripped[:3]) < 2 else ""
                continue
            if _FULL_LINE_COMMENT.match(stripped):
                comments.append(stripped)
                continue
            cut = _trailing_comment(stripped)
            if cut is not None:
                comments.append(stripped[cut:])
                stripped = stripped[:cut].rstrip()
            if self._python and not code and _STRING_LINE.match(stripped):
                continue
            code.append(stripped)
        return code, comments

    def _reason(self, code: list[str], comments: list[str], empty_is_stub: bool) -> StubReason | None:
        has_todo = any(MARKER.search(c) for c in comments)
        if not code:
            if has_todo:
                return StubReason.TODO_COMMENT
            return StubReason.EMPTY_BODY if empty_is_stub else None
        if len(code) != 1:
            return None
        statement = code[0].rstrip(";").strip()
        for pattern, reason in _REGEX_STUBS:
            if pattern.search(statement):
                return reason
        if has_todo and re.match(r"return\b", statement) and is_placeholder_value(statement.removeprefix("return")):
            return StubReason.PLACEHOLDER_RETURN
        return None
