"""The agent's task text for what the user pointed at: a stub, a TODO, a selection, a diagnostic, or a
free-form instruction — plus the short title a progress bar shows.

A small model does best with the place named exactly: the file, 1-based line numbers, the symbol, and
the code itself in a fenced block, so its first step can be the right Read or Edit instead of a search.
"""

from __future__ import annotations

from dataclasses import dataclass

from lc_lsp.ranges import split_lines
from lc_lsp.stubs import Target, TextRange

# Longest code excerpt quoted in a task; past it the model is told to read the file.
MAX_EXCERPT_LINES = 80
_TITLE_CHARS = 48


@dataclass(frozen=True)
class Problem:
    """A diagnostic the user asked to fix, in Python-string positions (0-based lines)."""

    message: str
    start_line: int
    end_line: int
    source: str | None = None
    code: str | None = None


def implement_task(target: Target, path: str, text: str, instruction: str | None = None) -> str:
    """Task text for a code-action target in `path` (workspace-relative) whose text is `text`."""
    fence = _fence(target.language)
    where = _lines(target.symbol_range or target.range)
    if target.kind == "stub":
        reason = f" ({target.stub_reason.value})" if target.stub_reason else ""
        parts = [
            f"Implement `{target.name}` in {path} ({where}). Its body is only a placeholder{reason}.",
            (
                "Replace the placeholder with a complete, working implementation that does what the name, "
                "the signature, the doc comment and the code around it ask for. Keep the signature as it is "
                "and leave the rest of the file alone unless the implementation needs a helper or an import."
            ),
            _excerpt(text, target.symbol_range or target.range, fence),
        ]
    elif target.kind == "todo":
        comment = (target.comment or "").strip()
        inside = f" inside `{target.name}`" if target.name else ""
        parts = [
            f"Do what this comment in {path} asks ({_lines(target.range)}{inside}): {comment}",
            "Write the code it describes, then remove the comment or reduce it to what is still true.",
            _excerpt(text, target.symbol_range or _context(target.range), fence),
        ]
    else:
        inside = f" inside `{target.name}`" if target.name else ""
        parts = [
            f"Implement the code selected in {path} ({_lines(target.range)}{inside}):",
            _excerpt(text, target.range, fence),
            (
                "Turn the selection into a complete, working implementation; keep the code around it unless "
                "it has to change too."
            ),
        ]
    if instruction and instruction.strip():
        parts.append(f"The user adds: {instruction.strip()}")
    parts.append(_CLOSING)
    return "\n\n".join(p for p in parts if p)


def fix_task(problem: Problem, path: str, text: str, language: str, instruction: str | None = None) -> str:
    origin = f" reported by {problem.source}" if problem.source else ""
    code = f" [{problem.code}]" if problem.code else ""
    span = _line_span(problem.start_line, problem.end_line)
    parts = [
        f"Fix this problem{origin} in {path} ({span}){code}: {problem.message.strip()}",
        _excerpt(text, _context_lines(problem.start_line, problem.end_line), _fence(language)),
        "Make the smallest change that removes the cause; do not silence the check.",
    ]
    if instruction and instruction.strip():
        parts.append(f"The user adds: {instruction.strip()}")
    parts.append(_CLOSING)
    return "\n\n".join(p for p in parts if p)


def ask_task(instruction: str, path: str | None = None, text: str | None = None, span: TextRange | None = None,
             language: str = "") -> str:
    parts = [instruction.strip()]
    if path is not None and text is not None and span is not None:
        parts.append(f"It concerns {path} ({_lines(span)}):")
        parts.append(_excerpt(text, span, _fence(language)))
    elif path is not None:
        parts.append(f"It concerns {path}.")
    parts.append(_CLOSING)
    return "\n\n".join(p for p in parts if p)


def implement_title(target: Target) -> str:
    if target.kind == "selection" or not target.name:
        return "implement the selection" if target.kind == "selection" else "resolve a TODO"
    return f"implement `{target.name}`"


def fix_title(problem: Problem) -> str:
    return f"fix: {_short(problem.message)}"


def ask_title(instruction: str) -> str:
    return _short(instruction)


def revise_title(previous: str) -> str:
    return previous if previous.startswith("revise: ") else f"revise: {previous}"


_CLOSING = "When the change is complete, reply with one or two sentences saying what you did, and no tool call."


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _TITLE_CHARS else line[: _TITLE_CHARS - 1] + "…"


def _fence(language: str) -> str:
    # Fallback targets read "ruby (regex)"; the fence wants the bare name.
    return language.split(" ")[0] if language else ""


def _lines(span: TextRange) -> str:
    end_line = span.end.line
    if span.end.column == 0 and end_line > span.start.line:
        end_line -= 1  # a range ending at column 0 does not include that line
    return _line_span(span.start.line, end_line)


def _line_span(start: int, end: int) -> str:
    return f"line {start + 1}" if end <= start else f"lines {start + 1}–{end + 1}"


def _context(span: TextRange, around: int = 3) -> TextRange:
    return _context_lines(span.start.line, span.end.line, around)


def _context_lines(start: int, end: int, around: int = 3) -> TextRange:
    return TextRange.model_validate(
        {"start": {"line": max(0, start - around), "column": 0}, "end": {"line": end + around, "column": 10**9}}
    )


def _excerpt(text: str, span: TextRange, fence: str) -> str:
    lines = split_lines(text)
    first = max(0, span.start.line)
    last = min(len(lines) - 1, span.end.line)
    if span.end.column == 0 and last > first:
        last -= 1
    if last < first:
        return ""
    chosen = [line.rstrip("\r\n") for line in lines[first : last + 1]]
    note = ""
    if len(chosen) > MAX_EXCERPT_LINES:
        chosen = chosen[:MAX_EXCERPT_LINES]
        note = f"\n(only the first {MAX_EXCERPT_LINES} lines are shown; read the file for the rest)"
    # No line numbers inside the block: a small model copies them into Edit's old_string.
    body = "\n".join(chosen)
    return f"```{fence}\n{body}\n```{note}"
