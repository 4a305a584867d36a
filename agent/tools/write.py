"""Write: create a new file. It never overwrites — the write guard.

Small models like to rewrite a whole file to change three lines, and lose code doing it. Write
therefore refuses any path that exists and answers with the exact Edit call to make instead; the
refusal is marked `guard="write_guard"` so the session can count and report it.
"""

from __future__ import annotations

import json
from typing import ClassVar

from pydantic import BaseModel, Field

from agent.tools.base import Tool, ToolContext, ToolResult
from agent.tools.failures import failure
from agent.workspace import FileExists, WorkspaceError, refuse_repository_metadata

GUARD = "write_guard"


class WriteInput(BaseModel):
    file_path: str = Field(
        description="Path of the file to create, relative to the workspace root; it must not exist yet"
    )
    content: str = Field(description="The complete text of the new file, exactly as it is to be saved")


def line_count(text: str) -> int:
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def guard_message(file_path: str, shown_path: str, is_dir: bool) -> str:
    """The refusal: why, and the call to make instead."""
    if is_dir:
        return (
            f"Error: Write refused: {shown_path} is an existing folder. Write only creates new "
            "files; give the path of a new file inside the folder instead."
        )
    edit_call = json.dumps(
        {
            "name": "Edit",
            "arguments": {
                "file_path": file_path,
                "old_string": "<the exact lines to change, copied from the file>",
                "new_string": "<what those lines should become>",
            },
        }
    )
    return "\n".join(
        [
            f"Error: Write refused: {shown_path} already exists. Write only creates new files; "
            "it never replaces one.",
            "To change this file, call Edit instead, for example:",
            edit_call,
            "If you do not know what the file contains now, Read it first and copy old_string "
            "from what Read shows.",
            "Put a few lines around the change into old_string so that it matches one place "
            "only; for changes in several places, make one Edit per place.",
            f"Calling Write on {shown_path} again will be refused again.",
        ]
    )


class Write(Tool):
    name = "Write"
    description = (
        "Create a NEW file holding content; missing folders are created. Refuses any path that already "
        "exists, file or folder, and asking again is refused again: change an existing file with Edit. "
        "Returns the path and its line count."
    )
    Input: ClassVar[type[BaseModel]] = WriteInput

    async def run(self, args: WriteInput, ctx: ToolContext) -> ToolResult:
        workspace = ctx.workspace
        try:
            path = workspace.relative(args.file_path)
            # Before the write guard, which would send the model to Edit a file it may not change.
            refuse_repository_metadata(path)
        except WorkspaceError as exc:
            return failure(exc, args.file_path)
        try:
            if await workspace.exists(path):
                return self._refuse(args.file_path, path, await workspace.is_dir(path))
            await workspace.create(path, args.content)
        except FileExists:  # appeared between the check and the write
            return self._refuse(args.file_path, path, is_dir=False)
        except WorkspaceError as exc:
            return failure(exc, path)
        # The model wrote every line of it, so it knows the content as well as after a Read.
        ctx.read_paths.add(path)
        lines = line_count(args.content)
        return ToolResult(
            content=f"Created {path} ({lines} lines)",
            summary=f"Write {path} ({lines} lines)",
            path=path,
        )

    @staticmethod
    def _refuse(file_path: str, path: str, is_dir: bool) -> ToolResult:
        return ToolResult(
            content=guard_message(file_path, path, is_dir),
            is_error=True,
            summary=f"write guard: Write refused on {path} → Edit",
            path=path,
            guard=GUARD,
        )
