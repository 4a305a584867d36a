"""What an "implement this" code action can target — a stub function, a TODO comment, a selection —
and the rules both readers of a document share: what marks a TODO, what a placeholder value is.

The readers: `lc_lsp.tree_targets` (tree-sitter) and `lc_lsp.regex_targets` (the line-by-line fallback);
`lc_lsp.stubs.analyze` picks one per document.

Positions are 0-based `(line, column)` with `column` a Python str index into the line, and lines end
at `\\n`, `\\r\\n` or `\\r` as in LSP; the caller converts LSP's UTF-16 positions. Ranges end exclusive.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

# Upper-case markers anywhere; lower-case ones only in marker form ("todo:", "fixme(ann)", "@todo"), so
# that prose about a "todo list" is not taken for one.
MARKER = re.compile(r"\b(?:TODO|FIXME|XXX)\b|\b(?i:todo|fixme)\b\s*[:(]|@todo\b")

# Values a placeholder `return` hands back while its TODO waits.
_PLACEHOLDERS = frozenset(
    {
        "", "0", "0.0", "0.0f", "0L", "0u", "-1", "None", "null", "nullptr", "NULL", "nil", "undefined",
        "false", "False", '""', "''", "[]", "{}", "()", "std::string()", "String::new()", "Vec::new()",
        "vec![]", "Default::default()",
    }
)  # fmt: skip


class TextPosition(BaseModel):
    model_config = ConfigDict(frozen=True)

    line: int
    column: int


class TextRange(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: TextPosition
    end: TextPosition


class StubReason(StrEnum):
    """What marks a body as unfinished."""

    PASS = "pass"
    ELLIPSIS = "..."
    RAISE_NOT_IMPLEMENTED = "raise NotImplementedError"
    TODO_MACRO = "todo!()"
    UNIMPLEMENTED_MACRO = "unimplemented!()"
    PANIC = 'panic("...")'
    EMPTY_BODY = "empty body"
    TODO_COMMENT = "TODO comment"
    THROW_NOT_IMPLEMENTED = "throw 'not implemented'"
    UNSUPPORTED_OPERATION = "throw new UnsupportedOperationException"
    LOGIC_ERROR = "throw std::logic_error"
    TODO_CALL = "TODO()"
    PLACEHOLDER_RETURN = "placeholder return + TODO"


class Target(BaseModel):
    """One thing a code action may offer to implement.

    `range` is what the action is about: the whole definition of a stub, the comment of a todo, the
    selected text of a selection. For todos and selections, `name`, `symbol_range` and `body_range`
    describe the enclosing function when there is one.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["stub", "todo", "selection"]
    language: str
    range: TextRange
    name: str | None = None
    symbol_range: TextRange | None = None
    body_range: TextRange | None = None
    stub_reason: StubReason | None = None
    comment: str | None = None
    fallback: bool = False


class AnalyzedDocument(Protocol):
    """One version of a document, read once; ask it as often as needed."""

    language: str

    def targets_at(self, line: int, column: int, end: tuple[int, int] | None = None) -> list[Target]:
        """Targets at a cursor, or for a selection when `end` differs from it.

        In this order: the selection (if any), the innermost stub around the cursor (or just below a
        cursor on its decorator or doc-comment lines), then TODO comments on the cursor line.
        """
        ...

    def stubs(self) -> list[Target]:
        """Every stub in the document, in document order."""
        ...


def text_range(start: tuple[int, int], end: tuple[int, int]) -> TextRange:
    return TextRange(start=TextPosition(line=start[0], column=start[1]), end=TextPosition(line=end[0], column=end[1]))


def asks_for_implementation(text: str) -> bool:
    # Covers "not implemented", NotImplementedError, exercism's "Please implement ..." and
    # "Remove this statement and implement this function".
    return "implement" in text.lower()


def is_placeholder_value(value: str) -> bool:
    return all(part.strip() in _PLACEHOLDERS for part in value.split(","))

