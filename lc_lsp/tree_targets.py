"""Targets read from a tree-sitter syntax tree: stub functions, TODO comments, selections.

A code-action request asks `targets_at` a cursor: the tree is walked from the node under the cursor up,
and only the lines around it are read, so a request costs well under a millisecond whatever the file's
size. The tree comes from the previous version's (lc_lsp.reparse), so a keystroke costs a small
re-parse and nothing is walked until a request comes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter

from lc_lsp.function_names import FunctionNames, node_text
from lc_lsp.languages import Grammar
from lc_lsp.ranges import LineIndex
from lc_lsp.reparse import reparse
from lc_lsp.source_lines import SourceLines
from lc_lsp.targets import (
    MARKER,
    StubReason,
    Target,
    TextRange,
    asks_for_implementation,
    is_placeholder_value,
    text_range,
)


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


class TreeDocument:
    def __init__(self, index: LineIndex, grammar: Grammar, previous: TreeDocument | None = None) -> None:
        self.language = grammar.name
        self._grammar = grammar
        self._syntax = grammar.syntax
        self._src = index.text.encode("utf-8", "surrogatepass")
        self._lines = SourceLines(index, self._src)
        self._names = FunctionNames(self._syntax, self._src)
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
        return node_text(self._src, node)

    def _span(self, start: int, end: int) -> TextRange:
        return text_range(self._lines.to_position(start), self._lines.to_position(end))

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
        name = self._names.qualified(node)
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
            constructor=self._names.is_constructor(node, name),
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
        has_todo = any(MARKER.search(self._text(c)) for c in comments)
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
                if asks_for_implementation(text):
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
                if name == "panic" and asks_for_implementation(text):
                    return StubReason.PANIC
        elif kind == "throw_statement":
            if family == "java" and re.search(r"\bnew\s+(?:[\w.]+\.)?UnsupportedOperationException\b", text):
                return StubReason.UNSUPPORTED_OPERATION
            if asks_for_implementation(text):
                if family == "c" and "logic_error" in text:
                    return StubReason.LOGIC_ERROR
                return StubReason.THROW_NOT_IMPLEMENTED
        return None

    def _is_placeholder_return(self, statement: tree_sitter.Node) -> bool:
        text = self._text(statement).strip().rstrip(";").strip()
        if statement.type == "return_statement":
            return is_placeholder_value(text.removeprefix("return"))
        # Rust returns its tail expression.
        return self._syntax.family == "rust" and is_placeholder_value(text)

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
            Target(kind="selection", language=self.language, range=text_range(start, end)), enclosing
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
                group = [comment] if MARKER.search(self._text(comment)) else []
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
            if MARKER.search(self._text(comment)):
                break
            head_line -= 1
            if head_line < 0:
                return []
        group = [comment]
        following = head_line + 1
        while following < len(self._lines):
            nxt = self._line_comment(following)
            if nxt is None or MARKER.search(self._text(nxt)):
                break
            group.append(nxt)
            following += 1
        return group
