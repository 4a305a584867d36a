"""Find what an "implement this" code action can target: a stub function, a TODO comment, a selection.

The language server asks for targets each time the editor asks for code actions, so the cost matters:
one tree-sitter parse (about a millisecond for a 300-line file; a keystroke's re-parse from the previous
version's tree costs about that in a 10,000-line one) and a few node walks. A server that keeps the
`AnalyzedDocument` from `analyze` per document version answers repeated requests without parsing again.

A stub is a function whose body does nothing but mark itself unfinished (see `StubReason`). Nine
languages are read with tree-sitter (`lc_lsp.languages`, `lc_lsp.tree_targets`); any other language, and
any file over `TREE_SITTER_MAX_CHARS`, is read line by line with regular expressions
(`lc_lsp.regex_targets`), and its targets say so: `Target.language` reads "<lang> (regex)" and
`Target.fallback` is true. What a target is, and its positions, is `lc_lsp.targets`.
"""

from __future__ import annotations

from lc_lsp.languages import resolve
from lc_lsp.ranges import LineIndex
from lc_lsp.regex_targets import RegexDocument
from lc_lsp.targets import AnalyzedDocument, StubReason, Target, TextPosition, TextRange
from lc_lsp.tree_targets import TreeDocument

__all__ = [
    "TREE_SITTER_MAX_CHARS",
    "AnalyzedDocument",
    "StubReason",
    "Target",
    "TextPosition",
    "TextRange",
    "analyze",
    "find_targets",
    "list_stubs",
]

TREE_SITTER_MAX_CHARS = 2_000_000
"""Above this many characters a document is read by the regex fallback: a parse of that size takes a
few hundred milliseconds, too slow for a code-action request, and files that large are generated."""


def analyze(text: str | LineIndex, language: str | None, path: str | None,
            previous: AnalyzedDocument | None = None) -> AnalyzedDocument:
    """Read one version of a document. Given the analysis of an earlier version of the same document
    (`previous`), its syntax tree is edited and re-parsed incrementally rather than from scratch."""
    index = text if isinstance(text, LineIndex) else LineIndex(text)
    resolution = resolve(language, path)
    if resolution.grammar is None or len(index.text) > TREE_SITTER_MAX_CHARS:
        return RegexDocument(index, resolution.label)
    return TreeDocument(index, resolution.grammar, previous if isinstance(previous, TreeDocument) else None)


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
