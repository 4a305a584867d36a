"""`textDocument/codeAction` and `codeAction/resolve`: what little-coder offers where.

Offered (never a model call; one tree-sitter parse per document version, kept in `DocumentAnalyses`):

- on a function whose body is a stub, or on a TODO/FIXME comment: "Ask little-coder to implement `name`";
- on a non-empty selection: "Ask little-coder to implement this";
- on each diagnostic in the request's context: "Ask little-coder to fix: <message>".

Nothing is offered on ordinary code, so the lightbulb stays quiet there.

Kinds: the implement actions are `refactor.rewrite`, the fixes `quickfix` (tied to their diagnostic).
VS Code shows a lightbulb for any action at the cursor and lists both kinds in its Ctrl+. menu — fixes
under "Quick Fix", implement actions under "Rewrite" and in the Refactor… menu; a quickfix also shows
in the diagnostic's hover and the Problems panel. Claiming `quickfix` for a stub with no diagnostic
would misfile it. Neovim lists every kind in `vim.lsp.buf.code_action()`.

The command is attached lazily through `codeAction/resolve` when the client says it can resolve the
`command` property (Neovim); VS Code only resolves `edit`, so it gets the command at once — it costs
nothing, the real work starts only when the command runs. `data` carries the command's arguments
(uri, range or position, kind, symbol).

Spec: https://microsoft.github.io/language-server-protocol/specifications/lsp/3.17/specification/#textDocument_codeAction
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from lc_lsp.command_names import IMPLEMENT
from lc_lsp.ranges import Encoding, LineIndex, point
from lc_lsp.reparse import changed_span
from lc_lsp.stubs import AnalyzedDocument, Target, TextRange, analyze

KIND_IMPLEMENT = types.CodeActionKind.RefactorRewrite
KIND_FIX = types.CodeActionKind.QuickFix
# From this size on, every version is analysed in a worker thread (read in chunks there, so the loop runs:
# lc_lsp.reparse). A keystroke's re-parse costs about a millisecond, but a version far from the last
# analysed one (a file just opened, a big paste, a reload from disk) is parsed nearly from scratch: ~30 ms
# at 10,000 lines, which must not stall the loop.
OFF_LOOP_CHARS = 64_000
_MESSAGE_CHARS = 60
_MAX_FIXES = 5


@dataclass(frozen=True)
class Analysis:
    index: LineIndex
    document: AnalyzedDocument


class DocumentAnalyses:
    """An analysis per document version, newest few documents kept: the editor asks for code actions
    on every cursor move, and an unchanged document must not be read again. A new version starts from
    the previous version's syntax tree (lc_lsp.reparse), so a keystroke costs a small re-parse.

    Safe to use from the event loop and worker threads at once: the table is locked only to read and
    store entries, never while parsing."""

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[int | None, str, Analysis]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, uri: str, version: int | None, text: str, language_id: str | None, path: str | None) -> Analysis:
        with self._lock:
            entry = self._entries.get(uri)
            if entry is not None and _same_version(entry, version, text):
                self._entries.move_to_end(uri)
                return entry[2]
        if entry is None:
            index, previous = LineIndex(text), None
        else:
            index, previous = entry[2].index.edited(text, *changed_span(entry[1], text)), entry[2].document
        analysis = Analysis(index, analyze(index, language_id, path, previous))
        with self._lock:
            self._entries[uri] = (version, text, analysis)
            self._entries.move_to_end(uri)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return analysis

    async def analysis(self, uri: str, version: int | None, text: str, language_id: str | None,
                       path: str | None) -> Analysis:
        """`get`, off the event loop for a document of OFF_LOOP_CHARS or more; a small one's re-parse
        stays on the loop (about a millisecond)."""
        with self._lock:
            entry = self._entries.get(uri)
        if entry is not None and _same_version(entry, version, text):
            return entry[2]
        if len(text) >= OFF_LOOP_CHARS:
            return await asyncio.to_thread(self.get, uri, version, text, language_id, path)
        return self.get(uri, version, text, language_id, path)

    def forget(self, uri: str) -> None:
        with self._lock:
            self._entries.pop(uri, None)


def _same_version(entry: tuple[int | None, str, Analysis], version: int | None, text: str) -> bool:
    # A file that is not open has no version: compare its text instead.
    return entry[0] == version and (version is not None or entry[1] == text)


def code_actions(
    params: types.CodeActionParams,
    analysis: Analysis,
    encoding: Encoding,
    *,
    lazy: bool,
) -> list[types.CodeAction]:
    uri = params.text_document.uri
    index = analysis.index
    start = point(index, params.range.start, encoding)
    end = point(index, params.range.end, encoding)
    selection = end if end != start and _has_text(index, start, end) else None
    actions: list[types.CodeAction] = []
    seen: set[tuple[str, str | None]] = set()
    for target in analysis.document.targets_at(start[0], start[1], selection):
        key = (target.kind, target.name)
        if key in seen:
            continue
        seen.add(key)
        args = _target_arguments(uri, target, index, encoding, params.range)
        actions.append(_action(_title(target), KIND_IMPLEMENT, args, lazy=lazy))
    for diagnostic in list(params.context.diagnostics)[:_MAX_FIXES]:
        args = {"uri": uri, "range": _range_json(diagnostic.range), "diagnostic": _diagnostic_json(diagnostic)}
        action = _action(f"Ask little-coder to fix: {_one_line(diagnostic.message)}", KIND_FIX, args, lazy=lazy)
        action.diagnostics = [diagnostic]
        actions.append(action)
    only = params.context.only
    if only:
        actions = [a for a in actions if a.kind is not None and _matches(a.kind, only)]
    return actions


def resolve(action: types.CodeAction) -> types.CodeAction:
    """Attach the command whose arguments the action's `data` carries."""
    data = action.data if isinstance(action.data, dict) else {}
    arguments = data.get("arguments")
    if action.command is None and isinstance(arguments, dict):
        action.command = types.Command(title=action.title, command=IMPLEMENT, arguments=[arguments])
    return action


def _action(title: str, kind: types.CodeActionKind, arguments: dict[str, Any], *, lazy: bool) -> types.CodeAction:
    action = types.CodeAction(title=title, kind=kind, data={"arguments": arguments})
    if not lazy:
        action.command = types.Command(title=title, command=IMPLEMENT, arguments=[arguments])
    return action


def _title(target: Target) -> str:
    if target.kind == "selection":
        return "Ask little-coder to implement this"
    if target.name:
        return f"Ask little-coder to implement `{target.name}`"
    return "Ask little-coder to resolve this TODO"


def _target_arguments(
    uri: str, target: Target, index: LineIndex, encoding: Encoding, requested: types.Range
) -> dict[str, Any]:
    args: dict[str, Any] = {"uri": uri, "kind": target.kind}
    if target.name:
        args["symbol"] = target.name
    if target.kind == "selection":
        args["range"] = _range_json(requested)
    else:
        args["position"] = _position_json(_position(index, target.range, encoding))
    return args


def _position(index: LineIndex, span: TextRange, encoding: Encoding) -> types.Position:
    offset = min(index.line_start(span.start.line) + span.start.column, len(index.text))
    return index.position_at(offset, encoding)


def _has_text(index: LineIndex, start: tuple[int, int], end: tuple[int, int]) -> bool:
    a = index.line_start(start[0]) + start[1]
    b = index.line_start(end[0]) + end[1]
    return bool(index.text[min(a, b) : max(a, b)].strip())


def _matches(kind: str, only: Sequence[str]) -> bool:
    return any(kind == wanted or kind.startswith(f"{wanted}.") for wanted in only)


def _one_line(message: str) -> str:
    """A diagnostic's first line is its summary; the rest is detail a menu has no room for."""
    first = next((line for line in message.splitlines() if line.strip()), "")
    line = " ".join(first.split())
    return line if len(line) <= _MESSAGE_CHARS else line[: _MESSAGE_CHARS - 1] + "…"


def _position_json(position: types.Position) -> dict[str, int]:
    return {"line": position.line, "character": position.character}


def _range_json(span: types.Range) -> dict[str, dict[str, int]]:
    return {"start": _position_json(span.start), "end": _position_json(span.end)}


def _diagnostic_json(diagnostic: types.Diagnostic) -> dict[str, Any]:
    data: dict[str, Any] = {"message": diagnostic.message, "range": _range_json(diagnostic.range)}
    if diagnostic.source:
        data["source"] = diagnostic.source
    if diagnostic.code is not None:
        data["code"] = str(diagnostic.code)
    return data
