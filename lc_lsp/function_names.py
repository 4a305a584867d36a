"""The names a code action shows for a function found by tree-sitter, per language: qualified by the
classes, impls and namespaces around it (`Clock.add`, `Clock::plus`, `(*Stack).Push`), or the name a
function value is bound to (`const isLeap = () => ...`), and whether it is a constructor.
"""

from __future__ import annotations

import re

import tree_sitter

from lc_lsp.languages import Syntax

_GENERIC_ARGS = re.compile(r"<.*>|\[.*\]")


def node_text(src: bytes, node: tree_sitter.Node | None) -> str:
    """A node's source text; tree-sitter nodes carry no text of their own when parsed through a callback."""
    if node is None:
        return ""
    return src[node.start_byte : node.end_byte].decode("utf-8", "replace")


class FunctionNames:
    """Names of the functions in one parsed version of a document."""

    def __init__(self, syntax: Syntax, src: bytes) -> None:
        self._syntax = syntax
        self._src = src

    def _text(self, node: tree_sitter.Node | None) -> str:
        return node_text(self._src, node)

    def qualified(self, node: tree_sitter.Node) -> str | None:
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

    def is_constructor(self, node: tree_sitter.Node, name: str) -> bool:
        family = self._syntax.family
        if family == "java":
            return node.type in ("constructor_declaration", "compact_constructor_declaration")
        if family == "ecmascript":
            return node.type == "method_definition" and self._text(node.child_by_field_name("name")) == "constructor"
        if family == "c":
            parts = name.split("::")
            return parts[-1].startswith("~") or (len(parts) >= 2 and parts[-2] == parts[-1])
        return False
