"""Which tree-sitter grammar reads a document, and the node kinds the stub finder relies on.

A document is matched by its LSP languageId first and its file extension second. Languages without a
grammar here get a label only; `lc_lsp.regex_targets` reads those line by line.

Compiled `tree_sitter.Language` and `Query` objects are memoised per grammar (an LRU on the factory):
that cache is the only state here, it is filled lazily and never changes once filled. Parsers are
not cached: one costs well under a microsecond to make, and a shared one would race when the server
analyses documents in worker threads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from types import MappingProxyType
from typing import Literal

import tree_sitter
import tree_sitter_c
import tree_sitter_cpp
import tree_sitter_go
import tree_sitter_java
import tree_sitter_javascript
import tree_sitter_python
import tree_sitter_rust
import tree_sitter_typescript

Family = Literal["python", "ecmascript", "go", "rust", "java", "c"]


@dataclass(frozen=True, slots=True)
class Syntax:
    """Node kinds of one grammar, grouped by the role they play for stub finding."""

    family: Family
    functions: frozenset[str]
    """Definitions that carry their own name and a body."""
    anonymous: frozenset[str]
    """Function values, named by the variable, field or key they are bound to."""
    containers: frozenset[str]
    """Classes, impls, traits and structs whose name qualifies the methods inside."""
    wrappers: frozenset[str]
    """Nodes that wrap one definition and belong to its range (decorators, export, template)."""
    comments: frozenset[str]
    leads: frozenset[str]
    """What may sit on the lines just above a definition: comments, decorators, attributes."""
    separator: str


@dataclass(frozen=True, slots=True)
class Grammar:
    name: str
    load: Callable[[], object]
    syntax: Syntax

    def language(self) -> tree_sitter.Language:
        return _compiled(self.load)

    def parser(self) -> tree_sitter.Parser:
        return tree_sitter.Parser(_compiled(self.load))

    def query(self, source: str) -> tree_sitter.Query:
        return _query(self.load, source)


@functools.cache
def _compiled(load: Callable[[], object]) -> tree_sitter.Language:
    return tree_sitter.Language(load())


@functools.cache
def _query(load: Callable[[], object], source: str) -> tree_sitter.Query:
    return tree_sitter.Query(_compiled(load), source)


@dataclass(frozen=True, slots=True)
class Resolution:
    """The grammar for a document, or None with the label the regex fallback reports."""

    grammar: Grammar | None
    label: str


_PYTHON = Syntax(
    family="python",
    functions=frozenset({"function_definition"}),
    anonymous=frozenset(),
    containers=frozenset({"class_definition"}),
    wrappers=frozenset({"decorated_definition"}),
    comments=frozenset({"comment"}),
    leads=frozenset({"comment", "decorator"}),
    separator=".",
)

_JS_FUNCTIONS = frozenset({"function_declaration", "generator_function_declaration", "method_definition"})
_JS_ANONYMOUS = frozenset({"arrow_function", "function_expression", "generator_function"})
_JS_WRAPPERS = frozenset(
    {"export_statement", "lexical_declaration", "variable_declaration", "expression_statement", "pair"}
)

_JAVASCRIPT = Syntax(
    family="ecmascript",
    functions=_JS_FUNCTIONS,
    anonymous=_JS_ANONYMOUS,
    containers=frozenset({"class_declaration", "class", "object"}),
    wrappers=_JS_WRAPPERS | {"field_definition"},
    comments=frozenset({"comment"}),
    leads=frozenset({"comment", "decorator"}),
    separator=".",
)

_TYPESCRIPT = Syntax(
    family="ecmascript",
    functions=_JS_FUNCTIONS,
    anonymous=_JS_ANONYMOUS,
    containers=frozenset({"class_declaration", "abstract_class_declaration", "class", "object"}),
    wrappers=_JS_WRAPPERS | {"public_field_definition"},
    comments=frozenset({"comment"}),
    leads=frozenset({"comment", "decorator"}),
    separator=".",
)

_GO = Syntax(
    family="go",
    functions=frozenset({"function_declaration", "method_declaration"}),
    anonymous=frozenset(),
    containers=frozenset(),
    wrappers=frozenset(),
    comments=frozenset({"comment"}),
    leads=frozenset({"comment"}),
    separator=".",
)

_RUST = Syntax(
    family="rust",
    functions=frozenset({"function_item"}),
    anonymous=frozenset(),
    containers=frozenset({"impl_item", "trait_item"}),
    wrappers=frozenset(),
    comments=frozenset({"line_comment", "block_comment"}),
    leads=frozenset({"line_comment", "block_comment", "attribute_item"}),
    separator="::",
)

_JAVA = Syntax(
    family="java",
    functions=frozenset({"method_declaration", "constructor_declaration", "compact_constructor_declaration"}),
    anonymous=frozenset(),
    containers=frozenset(
        {
            "class_declaration",
            "interface_declaration",
            "enum_declaration",
            "record_declaration",
            "annotation_type_declaration",
        }
    ),
    wrappers=frozenset(),
    comments=frozenset({"line_comment", "block_comment"}),
    leads=frozenset({"line_comment", "block_comment", "marker_annotation", "annotation"}),
    separator=".",
)

_C = Syntax(
    family="c",
    functions=frozenset({"function_definition"}),
    anonymous=frozenset(),
    containers=frozenset(),
    wrappers=frozenset(),
    comments=frozenset({"comment"}),
    leads=frozenset({"comment"}),
    separator="::",
)

_CPP = Syntax(
    family="c",
    functions=frozenset({"function_definition"}),
    anonymous=frozenset(),
    containers=frozenset({"class_specifier", "struct_specifier", "union_specifier"}),
    wrappers=frozenset({"template_declaration"}),
    comments=frozenset({"comment"}),
    leads=frozenset({"comment", "attribute_declaration"}),
    separator="::",
)

GRAMMARS: Mapping[str, Grammar] = MappingProxyType(
    {
        g.name: g
        for g in (
            Grammar("python", tree_sitter_python.language, _PYTHON),
            Grammar("javascript", tree_sitter_javascript.language, _JAVASCRIPT),
            Grammar("typescript", tree_sitter_typescript.language_typescript, _TYPESCRIPT),
            Grammar("tsx", tree_sitter_typescript.language_tsx, _TYPESCRIPT),
            Grammar("go", tree_sitter_go.language, _GO),
            Grammar("rust", tree_sitter_rust.language, _RUST),
            Grammar("java", tree_sitter_java.language, _JAVA),
            Grammar("c", tree_sitter_c.language, _C),
            Grammar("cpp", tree_sitter_cpp.language, _CPP),
        )
    }
)

_BY_LANGUAGE_ID: Mapping[str, str] = MappingProxyType(
    {
        "python": "python",
        "javascript": "javascript",
        "javascriptreact": "javascript",  # the JavaScript grammar parses JSX
        "jsx": "javascript",
        "typescript": "typescript",
        "typescriptreact": "tsx",
        "tsx": "tsx",
        "go": "go",
        "rust": "rust",
        "java": "java",
        "c": "c",
        "cpp": "cpp",
        "c++": "cpp",
        "cuda-cpp": "cpp",
    }
)

_BY_EXTENSION: Mapping[str, str] = MappingProxyType(
    {
        ".py": "python",
        ".pyi": "python",
        ".pyw": "python",
        ".js": "javascript",
        ".mjs": "javascript",
        ".cjs": "javascript",
        ".jsx": "javascript",
        ".ts": "typescript",
        ".mts": "typescript",
        ".cts": "typescript",
        ".tsx": "tsx",
        ".go": "go",
        ".rs": "rust",
        ".java": "java",
        ".c": "c",
        # A bare .h is read as C++: that grammar also reads C headers, the C grammar chokes on C++ ones.
        ".h": "cpp",
        ".cc": "cpp",
        ".cpp": "cpp",
        ".cxx": "cpp",
        ".c++": "cpp",
        ".hh": "cpp",
        ".hpp": "cpp",
        ".hxx": "cpp",
        ".ipp": "cpp",
        ".cu": "cpp",
    }
)

# Labels for languages read by the regex fallback, so a Target says "ruby (regex)", not "rb (regex)".
_FALLBACK_LABELS: Mapping[str, str] = MappingProxyType(
    {
        ".rb": "ruby",
        ".kt": "kotlin",
        ".kts": "kotlin",
        ".php": "php",
        ".swift": "swift",
        ".cs": "csharp",
        ".scala": "scala",
        ".lua": "lua",
        ".ex": "elixir",
        ".exs": "elixir",
        ".dart": "dart",
        ".jl": "julia",
        ".nim": "nim",
        ".zig": "zig",
        ".pl": "perl",
        ".sh": "shellscript",
        ".groovy": "groovy",
        ".fs": "fsharp",
        ".cr": "crystal",
    }
)


def resolve(language_id: str | None, path: str | None) -> Resolution:
    """Pick the grammar for a document: a known languageId wins, then the file extension."""
    lang = (language_id or "").strip().lower()
    suffix = PurePath(path).suffix.lower() if path else ""
    name = _BY_LANGUAGE_ID.get(lang) or _BY_EXTENSION.get(suffix)
    if name is not None:
        return Resolution(GRAMMARS[name], name)
    label = lang or _FALLBACK_LABELS.get(suffix) or suffix.lstrip(".") or "text"
    return Resolution(None, label)
