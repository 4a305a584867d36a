"""Glob: find files by name pattern, always relative to the workspace root.

Patterns follow the usual shell/.gitignore conventions: `*` and `?` stay within one folder, `**`
spans folders, `[abc]` and `{a,b}` work, and a pattern without '/' matches file names at any
depth (as ripgrep and .gitignore do), which is what a model asking for `test_*.py` means.
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import BaseModel, Field

from agent.tools.base import Tool, ToolContext, ToolResult, cap_output
from agent.tools.failures import failure
from agent.workspace import WorkspaceError

MAX_RESULTS = 500
# A pattern like '{a,b}{c,d}{e,f}...' multiplies; past this many alternatives it is refused.
_MAX_ALTERNATIVES = 256


class GlobInput(BaseModel):
    pattern: str = Field(
        description="Glob such as '**/*.py', 'src/*.ts' or 'test_*.py', relative to path. '*' stays within "
        "one folder, '**' spans folders, '{a,b}' gives alternatives; a pattern without '/' matches file "
        "names at any depth"
    )
    path: str = Field(".", description="Folder to search in, relative to the workspace root ('.' searches all of it)")


def expand_braces(pattern: str) -> list[str]:
    """'src/*.{ts,tsx}' -> ['src/*.ts', 'src/*.tsx']; unbalanced braces stay literal."""
    start = pattern.find("{")
    if start == -1:
        return [pattern]
    depth = 0
    for end in range(start, len(pattern)):
        if pattern[end] == "{":
            depth += 1
        elif pattern[end] == "}":
            depth -= 1
            if depth == 0:
                break
    else:
        return [pattern]
    inner = pattern[start + 1 : end]
    options: list[str] = []
    depth = last = 0
    for index, char in enumerate(inner):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            options.append(inner[last:index])
            last = index + 1
    options.append(inner[last:])
    head, tail = pattern[:start], pattern[end + 1 :]
    expanded: list[str] = []
    for option in options:
        expanded.extend(expand_braces(head + option + tail))
        if len(expanded) > _MAX_ALTERNATIVES:
            raise ValueError(f"the pattern expands to more than {_MAX_ALTERNATIVES} alternatives")
    return expanded


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if pattern.startswith("**", i):
            if pattern.startswith("**/", i):
                out.append("(?:[^/]*/)*")  # any number of folders, including none
                i += 3
            else:
                out.append(".*")
                i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            j = i + 1
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1  # a ']' first in the set is a member, not the end
            close = pattern.find("]", j)
            if close == -1:
                out.append(re.escape(char))
            else:
                members = pattern[i + 1 : close]
                if members[0] in "!^":
                    members = "^" + members[1:]
                out.append("(?!/)[" + members.replace("\\", "\\\\") + "]")
                i = close + 1
                continue
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


class PathMatcher:
    """Matches '/'-separated relative paths against one glob pattern."""

    def __init__(self, pattern: str) -> None:
        pattern = pattern.removeprefix("./")
        alternatives = []
        for option in expand_braces(pattern):
            anywhere = "/" not in option
            alternatives.append(("(?:.*/)?" if anywhere else "") + _translate(option))
        self.pattern = pattern
        self._regex = re.compile("|".join(f"(?:{alt})" for alt in alternatives), re.DOTALL)

    def matches(self, relative_path: str) -> bool:
        return self._regex.fullmatch(relative_path) is not None


class Glob(Tool):
    name = "Glob"
    description = (
        "Find files whose paths match a glob pattern, such as '**/*.py'. "
        f"Returns paths relative to the workspace root, sorted, at most {MAX_RESULTS}; version-control "
        "and dependency folders (.git, node_modules, .venv, ...) are skipped."
    )
    Input: ClassVar[type[BaseModel]] = GlobInput

    async def run(self, args: GlobInput, ctx: ToolContext) -> ToolResult:
        workspace = ctx.workspace
        pattern = args.pattern.strip()
        if not pattern or pattern.startswith(("/", "~")) or ".." in pattern.split("/"):
            # Such a pattern can only mean files outside the folder searched: say so, do not answer "no match".
            return _error(
                "give the pattern relative to path (for example '**/*.py'), without '..', '~' or a leading '/'; "
                "only files inside the workspace can be found."
            )
        try:
            matcher = PathMatcher(pattern)
        except (ValueError, re.error) as exc:
            return _error(f"invalid pattern {pattern!r}: {exc}")
        try:
            base = workspace.relative(args.path)
            if not await workspace.is_dir(base):
                if await workspace.exists(base):
                    return _error(f"{base} is a file; path must be a folder.")
                return _error(f"no folder {base}. Use path '.' to search the whole workspace.")
            files = await workspace.list_files(base)
        except WorkspaceError as exc:
            return failure(exc, args.path)

        prefix = "" if base == "." else base + "/"
        hits = [f for f in files if matcher.matches(f[len(prefix) :])]
        where = "the workspace" if base == "." else base
        if not hits:
            return ToolResult(
                content=f"No files match {pattern!r} in {where}.",
                summary=f"Glob {pattern} → 0 files",
            )
        shown = hits[:MAX_RESULTS]
        if len(hits) > MAX_RESULTS:
            shown.append(f"... {len(hits) - MAX_RESULTS} more (narrow the pattern or the path)")
        return ToolResult(
            content=cap_output("\n".join(shown)),
            summary=f"Glob {pattern} → {len(hits)} files",
        )


def _error(message: str) -> ToolResult:
    return ToolResult(content=f"Error: {message}", is_error=True, summary="Glob failed")
