"""Find what an "implement this" code action can target: a stub function, a TODO comment, a selection.

The language server asks for targets each time the editor asks for code actions, so the cost matters:
one tree-sitter parse (about a millisecond for a 300-line file) and a few node walks. A server that
keeps the `AnalyzedDocument` from `analyze` per document version answers repeated requests without
parsing again.

Positions are 0-based `(line, column)` with `column` a Python str index into the line, and lines end
at `\\n`, `\\r\\n` or `\\r` as in LSP; the caller converts LSP's UTF-16 positions. Ranges end exclusive.

A stub is a function whose body does nothing but mark itself unfinished (see `StubReason`). Nine
languages are read with tree-sitter (`lc_lsp.languages`); any other language, and any file over
`TREE_SITTER_MAX_CHARS`, is read line by line with regular expressions, and its targets say so:
`Target.language` reads "<lang> (regex)" and `Target.fallback` is true.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

import tree_sitter
from pydantic import BaseModel, ConfigDict

from lc_lsp.languages import Grammar, resolve
from lc_lsp.ranges import LineIndex, line_bounds
from lc_lsp.reparse import reparse

TREE_SITTER_MAX_CHARS = 2_000_000
"""Above this many characters a document is read by the regex fallback: a parse of that size takes a
few hundred milliseconds, too slow for a code-action request, and files that large are generated."""

# How many lines above the cursor the regex fallback looks for the header of the enclosing function.
_FALLBACK_WINDOW = 2_000

# Upper-case markers anywhere; lower-case ones only in marker form ("todo:", "fixme(ann)", "@todo"), so
# that prose about a "todo list" is not taken for one.
_MARKER = re.compile(r"\b(?:TODO|FIXME|XXX)\b|\b(?i:todo|fixme)\b\s*[:(]|@todo\b")
_NEWLINE = re.compile(r"\r\n|\r|\n")

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


def analyze(text: str | LineIndex, language: str | None, path: str | None,
            previous: AnalyzedDocument | None = None) -> AnalyzedDocument:
    """Read one version of a document. Given the analysis of an earlier version of the same document
    (`previous`), its syntax tree is edited and re-parsed incrementally rather than from scratch."""
    index = text if isinstance(text, LineIndex) else LineIndex(text)
    resolution = resolve(language, path)
    if resolution.grammar is None or len(index.text) > TREE_SITTER_MAX_CHARS:
        return _RegexDocument(index, resolution.label)
    return _TreeDocument(index, resolution.grammar, previous if isinstance(previous, _TreeDocument) else None)


def find_targets(
    text: str,
    language: str | None,
    path: str | None,
    line: int,
    column: int,
    end: tuple[int, int] | None = None,
) -> list[Target]:
    """What a code action can offer at a cursor or selection; see `AnalyzedDocument.targets_at`."""
    return analyze(text, language, path).targets_at(line, column, end)


def list_stubs(text: str, language: str | None, path: str | None) -> list[Target]:
    return analyze(text, language, path).stubs()


def _range(start: tuple[int, int], end: tuple[int, int]) -> TextRange:
    return TextRange(start=TextPosition(line=start[0], column=start[1]), end=TextPosition(line=end[0], column=end[1]))


def _asks_for_implementation(text: str) -> bool:
    # Covers "not implemented", NotImplementedError, exercism's "Please implement ..." and
    # "Remove this statement and implement this function".
    return "implement" in text.lower()


def _is_placeholder_value(value: str) -> bool:
    return all(part.strip() in _PLACEHOLDERS for part in value.split(","))


class _Lines:
    """Where each line starts and ends, in str offsets (the `LineIndex`'s) and, when given the bytes, in
    UTF-8 offsets."""

    def __init__(self, index: LineIndex, data: bytes | None = None) -> None:
        self.text = index.text
        self.starts: Sequence[int] = index.starts
        self.ends: Sequence[int] = index.content_ends
        self.ascii = self.text.isascii()
        self._data = data
        self.byte_starts: Sequence[int] = self.starts
        self.byte_ends: Sequence[int] = self.ends
        if data is not None and not self.ascii:
            self.byte_starts, self.byte_ends = line_bounds(data)

    def __len__(self) -> int:
        return len(self.starts)

    def line(self, index: int) -> str:
        return self.text[self.starts[index] : self.ends[index]]

    def clamp(self, line: int, column: int) -> tuple[int, int]:
        line = min(max(line, 0), len(self) - 1)
        return line, min(max(column, 0), self.ends[line] - self.starts[line])

    def first_column(self, index: int) -> int | None:
        """Column of the first non-blank character of a line, None for a blank line."""
        text = self.line(index)
        stripped = len(text) - len(text.lstrip())
        return stripped if stripped < len(text) else None

    def last_column(self, index: int) -> int:
        return len(self.line(index).rstrip()) - 1

    def to_byte(self, line: int, column: int) -> int:
        if self.ascii:
            return self.starts[line] + column
        start = self.starts[line]
        return self.byte_starts[line] + len(self.text[start : start + column].encode("utf-8", "surrogatepass"))

    def to_position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.byte_starts, offset) - 1
        if self.ascii or self._data is None:
            return line, offset - self.byte_starts[line]
        prefix = self._data[self.byte_starts[line] : offset]
        return line, len(prefix.decode("utf-8", "surrogatepass"))


@dataclass(frozen=True, slots=True)
class _Function:
    node: tree_sitter.Node
    symbol: tree_sitter.Node
    """The node whose range is the whole definition: the function or a wrapper around it."""
    body: tree_sitter.Node
    body_start: int
    """Where the body begins, in bytes: before the body node when comments lead it (Python puts the
    comments above a block's first statement outside the block)."""
    loose_comments: tuple[tree_sitter.Node, ...]
    """Comments between the signature and the body node, children of the function node."""
    name: str
    constructor: bool
    returns_unit: bool


_GENERIC_ARGS = re.compile(r"<.*>|\[.*\]")


class _TreeDocument:
    def __init__(self, index: LineIndex, grammar: Grammar, previous: _TreeDocument | None = None) -> None:
        self.language = grammar.name
        self._grammar = grammar
        self._syntax = grammar.syntax
        self._src = index.text.encode("utf-8", "surrogatepass")
        self._lines = _Lines(index, self._src)
        if previous is not None and previous._grammar is grammar:
            self._tree: tree_sitter.Tree = reparse(grammar, self._src, previous._src, previous._tree)
        else:
            self._tree = reparse(grammar, self._src, None, None)
        self._root = self._tree.root_node

    # -- the AnalyzedDocument interface ---------------------------------------------------------

    def targets_at(self, line: int, column: int, end: tuple[int, int] | None = None) -> list[Target]:
        line, column = self._lines.clamp(line, column)
        targets: list[Target] = []
        if end is not None:
            end_line, end_column = self._lines.clamp(*end)
            if (end_line, end_column) != (line, column):
                targets.append(self._selection((line, column), (end_line, end_column)))
        for fn in self._functions_at(line, column):
            reason = self._stub_reason(fn)
            if reason is not None:
                targets.append(self._stub_target(fn, reason))
                break
        targets.extend(self._todos(line))
        return targets

    def stubs(self) -> list[Target]:
        kinds = sorted(self._syntax.functions | self._syntax.anonymous)
        query = self._grammar.query("[" + " ".join(f"({kind})" for kind in kinds) + "] @function")
        nodes = tree_sitter.QueryCursor(query).captures(self._root).get("function", [])
        found: list[Target] = []
        for node in sorted(nodes, key=lambda n: n.start_byte):
            fn = self._function(node)
            reason = self._stub_reason(fn) if fn is not None else None
            if fn is not None and reason is not None:
                found.append(self._stub_target(fn, reason))
        return found

    # -- positions ------------------------------------------------------------------------------

    def _text(self, node: tree_sitter.Node | None) -> str:
        if node is None:
            return ""
        return self._src[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def _span(self, start: int, end: int) -> TextRange:
        return _range(self._lines.to_position(start), self._lines.to_position(end))

    def _node_at_line_start(self, line: int) -> tuple[int, tree_sitter.Node] | None:
        """The byte of the line's first non-blank character and the smallest node there."""
        first = self._lines.first_column(line)
        if first is None:
            return None
        offset = self._lines.to_byte(line, first)
        return offset, self._root.descendant_for_byte_range(offset, offset + 1) or self._root

    def _starts_line(self, node: tree_sitter.Node) -> bool:
        line, column = self._lines.to_position(node.start_byte)
        return self._lines.first_column(line) == column

    def _probe(self, line: int, column: int) -> tree_sitter.Node:
        # A cursor in the indentation or past the end of a line means the code on that line.
        first = self._lines.first_column(line)
        if first is None:
            offset = self._lines.to_byte(line, 0)
            return self._root.descendant_for_byte_range(offset, offset) or self._root
        last = self._lines.last_column(line)
        column = min(max(column, first), last)
        if column == last > first and self._lines.line(line)[last] in ";,":
            column -= 1  # a statement's closing `;` may sit outside the definition's node
        offset = self._lines.to_byte(line, column)
        return self._root.descendant_for_byte_range(offset, offset + 1) or self._root

    # -- functions ------------------------------------------------------------------------------

    def _functions_at(self, line: int, column: int) -> list[_Function]:
        """Functions around a cursor, innermost first; the one below a decorator/doc line leads."""
        found: list[_Function] = []
        below = self._function_below(line)
        if below is not None:
            found.append(below)
        node: tree_sitter.Node | None = self._probe(line, column)
        while node is not None:
            fn = self._function(node)
            if fn is not None and all(fn.node != f.node for f in found):
                found.append(fn)
            node = node.parent
        return found

    def _function_below(self, line: int) -> _Function | None:
        """The function that the decorators, attributes or comments on `line` belong to."""
        return self._function_after(line) if self._is_lead_line(line) else None

    def _function_after(self, line: int) -> _Function | None:
        """The function starting on the lines after `line`, past decorator, attribute and comment lines."""
        for below in range(line + 1, len(self._lines)):
            fn = self._function_starting_on(below)
            if fn is not None:
                return fn
            if not self._is_lead_line(below):
                return None
        return None

    def _starting_nodes(self, line: int) -> list[tree_sitter.Node]:
        """The nodes that start at the first non-blank character of a line, smallest first."""
        found = self._node_at_line_start(line)
        if found is None:
            return []
        offset, node = found
        nodes = []
        current: tree_sitter.Node | None = node
        while current is not None and current.start_byte == offset:
            nodes.append(current)
            current = current.parent
        return nodes

    def _is_lead_line(self, line: int) -> bool:
        """Whether a line holds only what may precede a definition: comments, decorators, attributes."""
        found = self._node_at_line_start(line)
        if found is None:
            return False
        comments = self._syntax.comments
        node = found[1]
        # Inside a comment (a middle line of a block comment, or a doc comment's inner node)?
        if node.type in comments or (node.parent is not None and node.parent.type in comments):
            return True
        return any(n.type in self._syntax.leads for n in self._starting_nodes(line))

    def _function_starting_on(self, line: int) -> _Function | None:
        for node in self._starting_nodes(line):
            fn = self._function(node)
            if fn is not None:
                return fn
        return None

    def _function(self, node: tree_sitter.Node) -> _Function | None:
        syntax = self._syntax
        kind = node.type
        if kind in syntax.wrappers:
            inner = self._unwrap(node)
            return self._function(inner) if inner is not None else None
        if kind not in syntax.functions and kind not in syntax.anonymous:
            return None
        body = node.child_by_field_name("body")
        name = self._qualified_name(node)
        if body is None or name is None:
            return None
        returns = node.child_by_field_name("return_type")
        params = node.child_by_field_name("parameters")
        after = params.end_byte if params is not None else node.start_byte
        loose = tuple(c for c in node.children if c.type in syntax.comments and after <= c.start_byte < body.start_byte)
        return _Function(
            node=node,
            symbol=self._symbol(node),
            body=body,
            body_start=next((c.start_byte for c in loose if self._starts_line(c)), body.start_byte),
            loose_comments=loose,
            name=name,
            constructor=self._is_constructor(node, name),
            returns_unit=returns is None or returns.type == "unit_type",
        )

    def _unwrap(self, node: tree_sitter.Node) -> tree_sitter.Node | None:
        """The definition a wrapper node holds, if it holds exactly one."""
        kind = node.type
        if kind == "decorated_definition":
            return node.child_by_field_name("definition")
        if kind == "export_statement":
            return node.child_by_field_name("declaration") or node.child_by_field_name("value")
        if kind in ("lexical_declaration", "variable_declaration"):
            declarators = [c for c in node.named_children if c.type == "variable_declarator"]
            return declarators[0].child_by_field_name("value") if len(declarators) == 1 else None
        if kind == "expression_statement":
            inner = node.named_children[0] if node.named_child_count == 1 else None
            if inner is not None and inner.type == "assignment_expression":
                return inner.child_by_field_name("right")
            return None
        if kind in ("pair", "field_definition", "public_field_definition"):
            return node.child_by_field_name("value")
        if kind == "template_declaration":
            return next(
                (c for c in node.named_children if c.type in ("function_definition", "template_declaration")),
                None,
            )
        return None

    def _unwrap_fully(self, node: tree_sitter.Node | None) -> tree_sitter.Node | None:
        while node is not None and node.type in self._syntax.wrappers:
            node = self._unwrap(node)
        return node

    def _symbol(self, node: tree_sitter.Node) -> tree_sitter.Node:
        symbol = node
        parent = node.parent
        while parent is not None:
            if parent.type == "variable_declarator":
                parent = parent.parent
                continue
            if parent.type in self._syntax.wrappers and self._unwrap_fully(parent) == node:
                symbol = parent
                parent = parent.parent
                continue
            break
        return symbol

    # -- names ----------------------------------------------------------------------------------

    def _qualified_name(self, node: tree_sitter.Node) -> str | None:
        own = self._own_name(node)
        if not own:
            return None
        syntax = self._syntax
        parts = [own]
        parent = node.parent
        while parent is not None and parent.type not in syntax.functions and parent.type not in syntax.anonymous:
            if parent.type in syntax.containers:
                container = self._container_name(parent)
                if container:
                    parts.append(container)
            parent = parent.parent
        return syntax.separator.join(reversed(parts))

    def _own_name(self, node: tree_sitter.Node) -> str | None:
        family = self._syntax.family
        if node.type in self._syntax.anonymous:
            return self._bound_name(node)
        if family == "c":
            return self._c_function_name(node)
        if family == "go" and node.type == "method_declaration":
            return self._go_method_name(node)
        return self._text(node.child_by_field_name("name")) or None

    def _bound_name(self, node: tree_sitter.Node) -> str | None:
        """The name a function value is bound to: variable, class field, object key or assignment."""
        parent = node.parent
        holder: tree_sitter.Node | None = None
        if parent is not None:
            kind = parent.type
            if kind == "variable_declarator":
                holder = parent.child_by_field_name("name")
            elif kind in ("field_definition", "public_field_definition"):
                holder = parent.child_by_field_name("property") or parent.child_by_field_name("name")
            elif kind == "pair":
                holder = parent.child_by_field_name("key")
            elif kind == "assignment_expression" and parent.child_by_field_name("right") == node:
                holder = parent.child_by_field_name("left")
            elif kind == "export_statement":
                return "default"
        if holder is None:
            holder = node.child_by_field_name("name")
        return self._text(holder) or None

    def _c_function_name(self, node: tree_sitter.Node) -> str | None:
        declarator = node.child_by_field_name("declarator")
        # Pointer and reference declarators wrap the function declarator: `char *name(void)`.
        while declarator is not None and declarator.type != "function_declarator":
            declarator = declarator.child_by_field_name("declarator") or (
                declarator.named_children[-1] if declarator.named_child_count else None
            )
        if declarator is None:
            return None
        return self._cpp_name(declarator.child_by_field_name("declarator"))

    def _cpp_name(self, node: tree_sitter.Node | None) -> str | None:
        if node is None:
            return None
        if node.type == "qualified_identifier":
            scope = self._cpp_name(node.child_by_field_name("scope"))
            name = self._cpp_name(node.child_by_field_name("name"))
            return f"{scope}::{name}" if scope else name
        if node.type in ("template_type", "template_function", "template_method"):
            return self._cpp_name(node.child_by_field_name("name"))
        return "".join(self._text(node).split()) or None

    def _go_method_name(self, node: tree_sitter.Node) -> str | None:
        name = self._text(node.child_by_field_name("name"))
        receiver = node.child_by_field_name("receiver")
        params = [c for c in receiver.named_children if c.type == "parameter_declaration"] if receiver else []
        receiver_type = params[0].child_by_field_name("type") if params else None
        if receiver_type is None:
            return name or None
        base = _GENERIC_ARGS.sub("", self._text(receiver_type)).lstrip("*").strip()
        return f"(*{base}).{name}" if receiver_type.type == "pointer_type" else f"{base}.{name}"

    def _container_name(self, node: tree_sitter.Node) -> str | None:
        family = self._syntax.family
        if family == "rust" and node.type == "impl_item":
            return _GENERIC_ARGS.sub("", self._text(node.child_by_field_name("type"))).strip() or None
        if family == "c":
            return self._cpp_name(node.child_by_field_name("name"))
        name = node.child_by_field_name("name")
        if name is not None:
            return self._text(name)
        if family == "ecmascript":
            # Anonymous classes and object literals take the name they are bound to.
            parent = node.parent
            if parent is not None and parent.type == "variable_declarator":
                return self._text(parent.child_by_field_name("name")) or None
            if parent is not None and parent.type == "assignment_expression":
                return self._text(parent.child_by_field_name("left")) or None
        return None

    def _is_constructor(self, node: tree_sitter.Node, name: str) -> bool:
        family = self._syntax.family
        if family == "java":
            return node.type in ("constructor_declaration", "compact_constructor_declaration")
        if family == "ecmascript":
            return node.type == "method_definition" and self._text(node.child_by_field_name("name")) == "constructor"
        if family == "c":
            parts = name.split("::")
            return parts[-1].startswith("~") or (len(parts) >= 2 and parts[-2] == parts[-1])
        return False

    # -- stub recognition -----------------------------------------------------------------------

    def _body_items(self, body: tree_sitter.Node) -> tuple[list[tree_sitter.Node], list[tree_sitter.Node]]:
        statements: list[tree_sitter.Node] = []
        comments: list[tree_sitter.Node] = []
        pending = list(reversed(body.named_children))
        while pending:
            child = pending.pop()
            if child.type in self._syntax.comments:
                comments.append(child)
            elif child.type == "statement_list":  # Go groups a block's statements
                pending.extend(reversed(child.named_children))
            elif child.type != "empty_statement":
                statements.append(child)
        return statements, comments

    def _stub_reason(self, fn: _Function) -> StubReason | None:
        family = self._syntax.family
        if family == "ecmascript" and fn.body.type != "statement_block":
            return None  # an arrow function with an expression body returns that expression
        statements, comments = self._body_items(fn.body)
        comments.extend(fn.loose_comments)
        has_todo = any(_MARKER.search(self._text(c)) for c in comments)
        if family == "python" and statements and self._is_docstring(statements[0]):
            statements = statements[1:]
        if not statements:
            if has_todo:
                return StubReason.TODO_COMMENT
            # Python cannot have an empty body; empty constructors are ordinary (member
            # initialisers, TypeScript parameter properties); Rust's rule is the task's: unit only.
            if family == "python" or fn.constructor or (family == "rust" and not fn.returns_unit):
                return None
            return StubReason.EMPTY_BODY
        if len(statements) != 1:
            return None
        statement = statements[0]
        reason = self._stub_statement(statement)
        if reason is None and has_todo and self._is_placeholder_return(statement):
            reason = StubReason.PLACEHOLDER_RETURN
        return reason

    def _is_docstring(self, statement: tree_sitter.Node) -> bool:
        return (
            statement.type == "expression_statement"
            and statement.named_child_count == 1
            and statement.named_children[0].type in ("string", "concatenated_string")
        )

    def _stub_statement(self, statement: tree_sitter.Node) -> StubReason | None:
        family = self._syntax.family
        kind = statement.type
        text = self._text(statement)
        first = statement.named_children[0] if statement.named_child_count else None
        if family == "python":
            if kind == "pass_statement":
                return StubReason.PASS
            if kind == "expression_statement" and first is not None and first.type == "ellipsis":
                return StubReason.ELLIPSIS
            if kind == "raise_statement":
                if re.match(r"raise\s+NotImplementedError\b", text):
                    return StubReason.RAISE_NOT_IMPLEMENTED
                if _asks_for_implementation(text):
                    return StubReason.THROW_NOT_IMPLEMENTED
        elif family == "go":
            call = first if kind == "expression_statement" and first is not None else None
            if call is not None and call.type == "call_expression":
                return StubReason.PANIC if self._text(call.child_by_field_name("function")) == "panic" else None
        elif family == "rust":
            macro = first if kind == "expression_statement" else statement
            if macro is not None and macro.type == "macro_invocation":
                name = self._text(macro.child_by_field_name("macro")).rsplit("::", 1)[-1]
                if name == "todo":
                    return StubReason.TODO_MACRO
                if name == "unimplemented":
                    return StubReason.UNIMPLEMENTED_MACRO
                if name == "panic" and _asks_for_implementation(text):
                    return StubReason.PANIC
        elif kind == "throw_statement":
            if family == "java" and re.search(r"\bnew\s+(?:[\w.]+\.)?UnsupportedOperationException\b", text):
                return StubReason.UNSUPPORTED_OPERATION
            if _asks_for_implementation(text):
                if family == "c" and "logic_error" in text:
                    return StubReason.LOGIC_ERROR
                return StubReason.THROW_NOT_IMPLEMENTED
        return None

    def _is_placeholder_return(self, statement: tree_sitter.Node) -> bool:
        text = self._text(statement).strip().rstrip(";").strip()
        if statement.type == "return_statement":
            return _is_placeholder_value(text.removeprefix("return"))
        # Rust returns its tail expression.
        return self._syntax.family == "rust" and _is_placeholder_value(text)

    def _stub_target(self, fn: _Function, reason: StubReason) -> Target:
        symbol = self._span(fn.symbol.start_byte, fn.symbol.end_byte)
        return Target(
            kind="stub",
            language=self.language,
            range=symbol,
            name=fn.name,
            symbol_range=symbol,
            body_range=self._span(fn.body_start, fn.body.end_byte),
            stub_reason=reason,
        )

    # -- selections and TODO comments -----------------------------------------------------------

    def _selection(self, start: tuple[int, int], end: tuple[int, int]) -> Target:
        start, end = min(start, end), max(start, end)
        first, last = self._lines.to_byte(*start), self._lines.to_byte(*end)
        # Whitespace at the edges (a selection of whole lines ends on the next line) says nothing.
        while last > first and self._src[last - 1 : last].isspace():
            last -= 1
        while first < last and self._src[first : first + 1].isspace():
            first += 1
        node: tree_sitter.Node | None = self._root.descendant_for_byte_range(first, last)
        enclosing = None
        while node is not None and enclosing is None:
            enclosing = self._function(node)
            node = node.parent
        return self._with_function(
            Target(kind="selection", language=self.language, range=_range(start, end)), enclosing
        )

    def _with_function(self, target: Target, fn: _Function | None) -> Target:
        if fn is None:
            return target
        return target.model_copy(
            update={
                "name": fn.name,
                "symbol_range": self._span(fn.symbol.start_byte, fn.symbol.end_byte),
                "body_range": self._span(fn.body_start, fn.body.end_byte),
            }
        )

    def _comment_end(self, node: tree_sitter.Node) -> int:
        # Some grammars end a line comment after its newline.
        raw = self._src[node.start_byte : node.end_byte]
        return node.start_byte + len(raw.rstrip())

    def _comments_on(self, line: int) -> list[tree_sitter.Node]:
        kinds = sorted(self._syntax.comments)
        query = self._grammar.query("[" + " ".join(f"({kind})" for kind in kinds) + "] @comment")
        cursor = tree_sitter.QueryCursor(query)
        start = self._lines.byte_starts[line]
        # One past the line's end, so that a blank line inside a block comment still meets it.
        stop = min(self._lines.byte_ends[line] + 1, len(self._src))
        if stop <= start:
            return []
        cursor.set_byte_range(start, stop)
        found = []
        for node in cursor.captures(self._root).get("comment", []):
            first = self._lines.to_position(node.start_byte)[0]
            last = self._lines.to_position(self._comment_end(node))[0]
            if first <= line <= last:
                found.append(node)
        return sorted(found, key=lambda n: n.start_byte)

    def _line_comment(self, line: int) -> tree_sitter.Node | None:
        """The comment that fills a line on its own, if one does."""
        for node in self._starting_nodes(line):
            if node.type in self._syntax.comments:
                last = self._lines.to_position(self._comment_end(node))[0]
                return node if last == line else None
        return None

    def _todos(self, line: int) -> list[Target]:
        targets = []
        for comment in self._comments_on(line):
            if comment == self._line_comment(line):
                group = self._todo_group(line)
            else:
                group = [comment] if _MARKER.search(self._text(comment)) else []
            if not group:
                continue
            head = group[0]
            last_line = self._lines.to_position(self._comment_end(group[-1]))[0]
            enclosing = self._function_after(last_line) if self._starts_line(head) else None
            node: tree_sitter.Node | None = head
            while enclosing is None and node is not None:
                enclosing = self._function(node)
                node = node.parent
            target = Target(
                kind="todo",
                language=self.language,
                range=self._span(head.start_byte, self._comment_end(group[-1])),
                comment="\n".join(self._text(c).strip() for c in group),
            )
            targets.append(self._with_function(target, enclosing))
        return targets

    def _todo_group(self, line: int) -> list[tree_sitter.Node]:
        """A TODO line comment with the comment lines that continue it, if `line` is among them."""
        head_line = line
        while True:
            comment = self._line_comment(head_line)
            if comment is None:
                return []
            if _MARKER.search(self._text(comment)):
                break
            head_line -= 1
            if head_line < 0:
                return []
        group = [comment]
        following = head_line + 1
        while following < len(self._lines):
            nxt = self._line_comment(following)
            if nxt is None or _MARKER.search(self._text(nxt)):
                break
            group.append(nxt)
            following += 1
        return group


# -- regex fallback ------------------------------------------------------------------------------

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
        (?:(?:public|private|protected|internal|static|virtual|override|abstract|sealed|async|final|extern|unsafe)[ \t]+)+
        (?!(?:class|struct|interface|enum|record|object|return|new)\b)
        (?:[\w<>\[\],.?]+[ \t]+)?
        (?P<name>[A-Za-z_]\w*)[ \t]*(?:<[^>]*>)?[ \t]*\(""",
    re.VERBOSE,
)
_CONTAINER_HEADER = re.compile(
    r"^[ \t]*(?:[\w@]+[ \t]+)*?(?:class|struct|object|module|impl|interface|enum|trait|record)[ \t]+(?P<name>[A-Za-z_]\w*)"
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


class _RegexDocument:
    """Reads a document line by line: headers with a `def|fun|func|function|fn` keyword (or a C#-like
    modifier), bodies in braces, after `=`/`=>`, or indented (closed by `end` where the language does)."""

    def __init__(self, index: LineIndex, label: str) -> None:
        self.language = f"{label} (regex)"
        self._text = index.text
        self._lines = _Lines(index)
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
                selection = Target(kind="selection", language=self.language, range=_range(first, last), fallback=True)
                targets.append(self._with_block(selection, enclosing))
        stub = next((b for b in around if b.reason is not None), None)
        if stub is not None:
            targets.append(self._stub_target(stub))
        todo = self._todo(line)
        if todo is not None:
            start, stop, text = todo
            target = Target(kind="todo", language=self.language, range=_range(start, stop), comment=text, fallback=True)
            targets.append(self._with_block(target, around[0] if around else None))
        return targets

    def stubs(self) -> list[Target]:
        return [self._stub_target(b) for b in self._all_blocks if b.reason is not None]

    def _stub_target(self, block: _Block) -> Target:
        symbol = _range(block.start, block.end)
        return Target(
            kind="stub",
            language=self.language,
            range=symbol,
            name=block.name,
            symbol_range=symbol,
            body_range=_range(block.body_start, block.body_end),
            stub_reason=block.reason,
            fallback=True,
        )

    def _with_block(self, target: Target, block: _Block | None) -> Target:
        if block is None:
            return target
        return target.model_copy(
            update={
                "name": block.name,
                "symbol_range": _range(block.start, block.end),
                "body_range": _range(block.body_start, block.body_end),
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
            if cut is None or not _MARKER.search(text[cut:]):
                return None
            comment = text[cut:].rstrip()
            return (line, cut), (line, cut + len(comment)), comment
        head = line
        while not _MARKER.search(lines.line(head)):
            head -= 1
            if head < 0 or not self._is_comment_line(head):
                return None
        last = head
        while last + 1 < len(lines) and self._is_comment_line(last + 1) and not _MARKER.search(lines.line(last + 1)):
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
        has_todo = any(_MARKER.search(c) for c in comments)
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
        if has_todo and re.match(r"return\b", statement) and _is_placeholder_value(statement.removeprefix("return")):
            return StubReason.PLACEHOLDER_RETURN
        return None
