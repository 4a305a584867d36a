"""Turning workspace failures into tool results the model can act on.

Every tool reports a model's mistake as a `ToolResult(is_error=True)` and never raises: the
message says what went wrong and what to do instead.
"""

from __future__ import annotations

import difflib

from agent.tools.base import ToolResult
from agent.workspace import PathRefused, Workspace, WorkspaceError

_MAX_SUGGESTIONS = 5


def failure(exc: WorkspaceError, path: str | None = None) -> ToolResult:
    """The result for a WorkspaceError; a guarded path (outside the root, a hard link, `.git`) is
    marked as a guard refusal."""
    refused = isinstance(exc, PathRefused)
    return ToolResult(
        content=f"Error: {exc}",
        is_error=True,
        summary="path refused" if refused else str(exc)[:80],
        path=path,
        guard="path_refused" if refused else None,
    )


def close_paths(missing: str, files: list[str]) -> list[str]:
    """Files the model may have meant: similar names in the same folder first, then the same or a
    similar file name elsewhere in the tree."""
    folder, _, name = missing.rpartition("/")
    siblings = [f for f in files if f.rpartition("/")[0] == folder]
    picks = difflib.get_close_matches(missing, siblings, n=_MAX_SUGGESTIONS, cutoff=0.6)
    by_name: dict[str, list[str]] = {}
    for f in files:
        by_name.setdefault(f.rpartition("/")[2], []).append(f)
    for similar in difflib.get_close_matches(name, list(by_name), n=_MAX_SUGGESTIONS, cutoff=0.75):
        picks.extend(p for p in by_name[similar] if p not in picks)
    return picks[:_MAX_SUGGESTIONS]


async def missing_file(workspace: Workspace, path: str, tool: str) -> ToolResult:
    """'File not found', with the names the model most likely meant."""
    try:
        files = await workspace.list_files(".")
    except WorkspaceError:
        files = []
    suggestions = close_paths(path, files)
    if suggestions:
        hint = "Did you mean: " + ", ".join(suggestions) + "?"
    else:
        hint = "Use Glob to find the file's real path."
    return ToolResult(
        content=f"Error: file not found: {path}. {hint}",
        is_error=True,
        summary=f"{tool} {path}: not found",
        path=path,
    )
