"""Edit: replace an exact piece of a file, changing nothing else.

Matching folds CRLF to LF (the model sees LF from Read), and the file keeps its own line endings
on write. When the exact text is absent, a whitespace-tolerant pass looks for one region whose
lines equal old_string's up to trailing whitespace, then up to a uniform indentation shift; only
that region is replaced, never the rest of the file. Failing that, the error names the file's
closest line so the model can copy the real text.
"""

from __future__ import annotations

import difflib
from bisect import bisect_left
from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel, Field

from agent.tools.base import Tool, ToolContext, ToolResult, cap_output
from agent.tools.failures import failure, missing_file
from agent.workspace import MAX_FILE_BYTES, FileMissing, WorkspaceError, refuse_repository_metadata

DIFF_CONTEXT = 3
MAX_DIFF_LINES = 80
_MAX_LISTED_LINES = 10
_QUOTE_CHARS = 200
# Below this similarity the "closest line" would only mislead.
_CLOSEST_CUTOFF = 0.4


class EditInput(BaseModel):
    file_path: str = Field(description="Path of an existing file, relative to the workspace root")
    old_string: str = Field(
        description="Text now in the file, copied exactly from Read (indentation included, line-number "
        "prefixes left out), with enough surrounding lines to occur only once; never empty"
    )
    new_string: str = Field(description="The text that replaces old_string; must differ from it")
    replace_all: bool = Field(
        False, description="true: replace every occurrence of old_string; false: it must occur exactly once"
    )


@dataclass(frozen=True)
class _Text:
    """A file's text with CRLF folded to LF for matching, and the way back to original offsets."""

    original: str
    normal: str
    folded: tuple[int, ...]  # offsets in `normal` of each '\n' that was '\r\n'
    crlf: bool  # CRLF is the file's usual line ending: new text is written with it

    @classmethod
    def of(cls, original: str) -> _Text:
        normal = original.replace("\r\n", "\n")
        folded: list[int] = []
        at = original.find("\r\n")
        while at != -1:
            folded.append(at - len(folded))  # each earlier CRLF lost one character
            at = original.find("\r\n", at + 2)
        return cls(original, normal, tuple(folded), 2 * len(folded) > normal.count("\n"))

    def to_original(self, offset: int) -> int:
        return offset + bisect_left(self.folded, offset)

    def splice(self, spans: list[tuple[int, int]], replacement: str) -> str:
        """Replace `normal` spans (sorted, disjoint) in the original text, leaving all else as is."""
        if self.crlf:
            replacement = replacement.replace("\n", "\r\n")
        parts: list[str] = []
        last = 0
        for start, end in spans:
            a, b = self.to_original(start), self.to_original(end)
            parts += [self.original[last:a], replacement]
            last = b
        parts.append(self.original[last:])
        return "".join(parts)


@dataclass(frozen=True)
class _Region:
    start: int  # offsets in the normalised text
    end: int
    replacement: str
    line: int  # 1-based


def _occurrences(text: str, needle: str) -> list[int]:
    found: list[int] = []
    at = text.find(needle)
    while at != -1:
        found.append(at)
        at = text.find(needle, at + len(needle))
    return found


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _shift(file_line: str, old_line: str) -> tuple[str, str] | None:
    """How old_line's indentation must change to become file_line's: ("add" | "remove", prefix)."""
    fi, oi = _indent(file_line), _indent(old_line)
    if file_line[len(fi) :] != old_line[len(oi) :]:
        return None
    if fi.endswith(oi):
        return ("add", fi[: len(fi) - len(oi)])
    if oi.endswith(fi):
        return ("remove", oi[: len(oi) - len(fi)])
    return None


def _reindent(text: str, shift: tuple[str, str]) -> str:
    how, prefix = shift
    out = []
    for line in text.split("\n"):
        if not line.strip():
            out.append(line)
        elif how == "add":
            out.append(prefix + line)
        else:
            out.append(line[len(prefix) :] if line.startswith(prefix) else line.lstrip(" \t"))
    return "\n".join(out)


def _loose_regions(normal: str, old: str, new: str) -> tuple[list[_Region], str]:
    """Regions matching old_string line by line, ignoring trailing whitespace (first pass) or also a
    uniform indentation shift (second pass). Returns the regions of the first pass that finds any,
    and how they matched."""
    old_lines = old.split("\n")
    takes_newline = len(old_lines) > 1 and old_lines[-1] == ""
    if takes_newline:
        old_lines.pop()
    old_lines = [line.rstrip() for line in old_lines]
    if not any(old_lines):
        return [], ""
    lines = normal.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    stripped = [line.rstrip() for line in lines]
    span = len(old_lines)

    def region(i: int, replacement: str) -> _Region:
        end = starts[i + span - 1] + len(lines[i + span - 1])
        if takes_newline and end < len(normal):
            end += 1  # old_string ended with a newline: so does the region
        return _Region(starts[i], end, replacement, i + 1)

    exact = [region(i, new) for i in range(len(lines) - span + 1) if stripped[i : i + span] == old_lines]
    if exact:
        return exact, "matched ignoring trailing whitespace"

    shifted: list[_Region] = []
    for i in range(len(lines) - span + 1):
        shift: tuple[str, str] | None = None
        for file_line, old_line in zip(stripped[i : i + span], old_lines, strict=True):
            if not file_line or not old_line:
                if file_line or old_line:
                    break  # a blank line must meet a blank line
                continue
            pair = _shift(file_line, old_line)
            if pair is None or (shift is not None and pair != shift):
                break
            shift = pair
        else:
            if shift is not None and shift[1]:
                shifted.append(region(i, _reindent(new, shift)))
    return shifted, "matched with different indentation; new_string was re-indented to fit"


def _closest_line(lines: list[str], needle: str) -> tuple[int, str] | None:
    """(1-based number, text) of the file line most like `needle`, if any is reasonably close."""
    target = needle.strip()
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)  # seq2 is the one SequenceMatcher caches
    best, best_index = _CLOSEST_CUTOFF, -1
    for index, line in enumerate(lines):
        candidate = line.strip()
        if not candidate:
            continue
        matcher.set_seq1(candidate)
        if matcher.real_quick_ratio() <= best or matcher.quick_ratio() <= best:
            continue
        ratio = matcher.ratio()
        if ratio > best:
            best, best_index = ratio, index
    return (best_index + 1, lines[best_index]) if best_index >= 0 else None


def _line_list(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:_MAX_LISTED_LINES])
    return shown + (", ..." if len(numbers) > _MAX_LISTED_LINES else "")


def _quote(line: str) -> str:
    line = line.strip()
    return line if len(line) <= _QUOTE_CHARS else line[:_QUOTE_CHARS] + "..."


def _diff(path: str, before: str, after: str) -> tuple[str, int, int]:
    """A unified diff (capped) and the counts of added and removed lines."""
    lines = list(
        difflib.unified_diff(
            before.split("\n"), after.split("\n"), f"a/{path}", f"b/{path}", n=DIFF_CONTEXT, lineterm=""
        )
    )
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    if len(lines) > MAX_DIFF_LINES:
        cut = len(lines) - MAX_DIFF_LINES
        lines = [*lines[:MAX_DIFF_LINES], f"[... {cut} more diff lines]"]
    return "\n".join(lines), added, removed


class Edit(Tool):
    name = "Edit"
    description = (
        "Change an existing file: replace old_string, copied exactly from the file, with new_string; "
        "nothing else in the file changes. old_string must match exactly one place unless replace_all "
        "is true; when it occurs several times, add context lines. Differences in trailing whitespace or "
        "uniform indentation are tolerated; otherwise the error names the closest line. Returns a diff. "
        f"Files over {MAX_FILE_BYTES // (1024 * 1024)} MiB cannot be changed."
    )
    Input: ClassVar[type[BaseModel]] = EditInput

    async def run(self, args: EditInput, ctx: ToolContext) -> ToolResult:
        workspace = ctx.workspace
        try:
            path = workspace.relative(args.file_path)
            # Before matching, so the model is not sent to fix an old_string it may not apply.
            refuse_repository_metadata(path)
        except WorkspaceError as exc:
            return failure(exc, args.file_path)
        try:
            original = await workspace.read_text(path)
        except FileMissing:
            result = await missing_file(workspace, path, "Edit")
            result.content += " To create a new file, use Write."
            return result
        except WorkspaceError as exc:
            return failure(exc, path)

        text = _Text.of(original)
        old = args.old_string.replace("\r\n", "\n")
        new = args.new_string.replace("\r\n", "\n")
        if not old:
            if original:
                return self._error(
                    path,
                    "old_string is empty. Edit replaces text that is already in the file, so "
                    "old_string must quote part of it (copy it from Read). To create a new file, "
                    "use Write.",
                )
            # An existing empty file: Write refuses it, so Edit with empty old_string fills it.
            return await self._apply(ctx, path, text, [(0, 0)], new, "filled the empty file")
        if old == new:
            return self._error(
                path, "old_string and new_string are the same, so the Edit would change nothing."
            )

        found = _occurrences(text.normal, old)
        if len(found) > 1 and not args.replace_all:
            numbers = [text.normal.count("\n", 0, at) + 1 for at in found]
            return self._error(
                path,
                f"old_string occurs {len(found)} times in {path} (lines {_line_list(numbers)}). "
                "Add surrounding lines to old_string so it matches only the place you mean, or "
                "set replace_all to true to change every occurrence.",
            )
        if found:
            spans = [(at, at + len(old)) for at in found]
            how = f"replaced {len(found)} occurrences" if len(found) > 1 else "replaced 1 occurrence"
            return await self._apply(ctx, path, text, spans, new, how)

        regions, how = _loose_regions(text.normal, old, new)
        if len(regions) == 1:
            region = regions[0]
            return await self._apply(ctx, path, text, [(region.start, region.end)], region.replacement, how)
        if regions:
            return self._error(
                path,
                f"old_string is not in {path} exactly, and it {how.split(';')[0]} at "
                f"{len(regions)} places (lines {_line_list([r.line for r in regions])}). Read the "
                "file and copy old_string exactly, with enough lines to match one place.",
            )
        return self._not_found(ctx, path, text.normal, old)

    async def _apply(
        self, ctx: ToolContext, path: str, text: _Text, spans: list[tuple[int, int]], new: str, how: str
    ) -> ToolResult:
        updated = text.splice(spans, new)
        try:
            await ctx.workspace.replace(path, updated)
        except WorkspaceError as exc:
            return failure(exc, path)
        diff, added, removed = _diff(path, text.normal, updated.replace("\r\n", "\n"))
        return ToolResult(
            content=cap_output(f"Edited {path}: {how}.\n{diff}"),
            summary=f"Edit {path} (+{added} −{removed})",
            path=path,
        )

    def _not_found(self, ctx: ToolContext, path: str, normal: str, old: str) -> ToolResult:
        first = next((line for line in old.split("\n") if line.strip()), "")
        closest = _closest_line(normal.split("\n"), first) if first else None
        parts = [f"old_string was not found in {path}, not even ignoring whitespace differences."]
        if closest:
            number, line = closest
            parts.append(f"The closest line to its first line is line {number}: `{_quote(line)}`.")
            parts.append(f"Read {path} around line {number} and copy old_string from it exactly.")
        else:
            parts.append(
                f"No line of {path} resembles its first line. Read the file and copy old_string exactly."
            )
        if path not in ctx.read_paths:
            parts.append(
                "You have not read this file in this session, so it may differ from what you expect."
            )
        return self._error(path, " ".join(parts))

    @staticmethod
    def _error(path: str, message: str) -> ToolResult:
        return ToolResult(
            content=f"Error: {message}", is_error=True, summary=f"Edit {path}: failed", path=path
        )
