"""Read: a file's lines, numbered like `cat -n`, a window at a time.

The window ends at `limit` lines or when the text would overflow the tool-output cap, whichever
comes first, and then says exactly which offset continues, so the model never sees a file cut in
the middle without knowing how to get the rest. A file over MAX_FILE_BYTES is never loaded whole:
its window is streamed from disk line by line (its lines are not counted) and the cap is named.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from agent.tools.base import MAX_OUTPUT_CHARS, Tool, ToolContext, ToolResult, cap_output
from agent.tools.failures import failure, missing_file
from agent.workspace import MAX_FILE_BYTES, FileMissing, FileTooLarge, WorkspaceError

DEFAULT_LIMIT = 2000
MAX_LINE_CHARS = 2000
# Room left under the output cap for the closing note.
_WINDOW_CHARS = MAX_OUTPUT_CHARS - 400


class ReadInput(BaseModel):
    file_path: str = Field(description="Path of the file, relative to the workspace root (a folder is refused)")
    offset: int | None = Field(
        None, ge=0, description="First line to return, counting from 1 (default 1, the start of the file)"
    )
    limit: int | None = Field(
        None, ge=1, description=f"Most lines to return (default {DEFAULT_LIMIT}); with offset, reads one part of a file"
    )


def split_lines(text: str) -> list[str]:
    """Lines as editors count them: split on '\\n' only, a final newline ends the last line, and a
    CRLF's '\\r' is not part of the line."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


class Read(Tool):
    name = "Read"
    description = (
        "Read a text file. Each line comes prefixed with its number (from 1) and a tab; the prefix is "
        f"not part of the file. Returns up to limit lines from offset, fewer when they would pass "
        f"{MAX_OUTPUT_CHARS:,} characters, and then names the offset to continue from. Lines over "
        f"{MAX_LINE_CHARS} characters are cut. Files over {MAX_FILE_BYTES // (1024 * 1024)} MiB are read "
        "from disk a window at a time and cannot be changed."
    )
    Input: ClassVar[type[BaseModel]] = ReadInput

    async def run(self, args: ReadInput, ctx: ToolContext) -> ToolResult:
        workspace = ctx.workspace
        try:
            path = workspace.relative(args.file_path)
        except WorkspaceError as exc:
            return failure(exc, args.file_path)
        start = max(args.offset or 1, 1)
        limit = args.limit or DEFAULT_LIMIT
        too_large: FileTooLarge | None = None
        try:
            if await workspace.is_dir(path):
                return ToolResult(
                    content=(
                        f"Error: {path} is a folder, not a file. To see what is in it, call Glob "
                        f'with pattern "*" and path "{path}".'
                    ),
                    is_error=True,
                    summary=f"Read {path}: a folder",
                    path=path,
                )
            try:
                lines = split_lines(await workspace.read_text(path))
                total: int | None = len(lines)
                window = [_cut(line) for line in lines[start - 1 : start - 1 + limit]]
            except FileTooLarge as exc:
                too_large = exc
                streamed = await workspace.read_window(path, start, limit, MAX_LINE_CHARS, _WINDOW_CHARS)
                total, window = streamed.total, streamed.lines
        except FileMissing:
            return await missing_file(workspace, path, "Read")
        except WorkspaceError as exc:
            return failure(exc, path)
        ctx.read_paths.add(path)

        if total == 0:
            return ToolResult(content=f"({path} is empty)", summary=f"Read {path} (empty)", path=path)
        if not window:
            return ToolResult(
                content=f"Error: offset {start} is past the end of {path}, which has {total} lines.",
                is_error=True,
                summary=f"Read {path}: offset past end",
                path=path,
            )
        shown: list[str] = []
        used = 0
        for number, (line, cut) in enumerate(window, start):
            if cut:
                line = f"{line} [... {cut} more characters on this line]"
            entry = f"{number:>6}\t{line}"
            if shown and used + len(entry) + 1 > _WINDOW_CHARS:
                break
            shown.append(entry)
            used += len(entry) + 1
        last = start + len(shown) - 1
        of = f" of {total}" if total is not None else ""
        if total is None or last < total:
            shown.append(f"[... showing lines {start}-{last}{of}. To continue, call Read with offset={last + 1}.]")
        if too_large is not None:
            shown.append(f"[{too_large}]")
        return ToolResult(
            content=cap_output("\n".join(shown)),
            summary=f"Read {path} (lines {start}-{last}{of})",
            path=path,
        )


def _cut(line: str) -> tuple[str, int]:
    """A line as a window holds it: its first MAX_LINE_CHARS characters and how many more it has."""
    return line[:MAX_LINE_CHARS], max(len(line) - MAX_LINE_CHARS, 0)
