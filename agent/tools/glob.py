"""Glob: find files by name pattern, always relative to the workspace root.

Patterns follow the usual shell/.gitignore conventions: `*` and `?` stay within one folder, `**`
spans folders, `[abc]` and `{a,b}` work, and a pattern without '/' matches file names at any
depth (as ripgrep and .gitignore do), which is what a model asking for `test_*.py` means.

The cost follows the pattern, not the tree: ripgrep (`rg --files`, a child process, so the event loop
never waits) walks only the folder the pattern's literal prefix names (`pkg/sub/*.py` walks pkg/sub),
no deeper than the pattern reaches, with the Workspace's rules plus .gitignore; at most
MAX_COLLECTED matches are kept. Files a workspace has only over the disk (the editor's: files the
agent proposed) are added. Without ripgrep, the Workspace's own listing is filtered instead.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from agent.tools.base import Tool, ToolContext, ToolResult, cap_output
from agent.tools.failures import failure
from agent.tools.ripgrep import Stop, ripgrep, run_bounded, walk_options
from agent.workspace import SKIP_DIRS, Workspace, WorkspaceError

MAX_RESULTS = 500
# Matches kept before ripgrep is stopped: bounds memory on a huge tree; the answer then says so.
MAX_COLLECTED = 20_000
LISTING_TIMEOUT_S = 30.0
_WILD = re.compile(r"[*?\[{]")
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


@runtime_checkable
class OverlaidWorkspace(Protocol):
    async def texts_over_disk(self, path: str) -> dict[str, str]:
        """Texts under `path` that may differ from disk, by workspace-relative path."""
        ...


def walk_start(pattern: str) -> tuple[str, int | None]:
    """(the folder every match of `pattern` lies in, relative to where it applies, '' for there;
    how many levels below it a match can lie, None for any)."""
    starts: list[list[str]] = []
    depth: int | None = 0
    for option in expand_braces(pattern.removeprefix("./")):
        parts = option.split("/")
        literal = 0  # leading folder names without wildcards (the last part names files)
        while literal < len(parts) - 1 and not _WILD.search(parts[literal]):
            literal += 1
        starts.append(parts[:literal])
        rest = parts[literal:]
        if len(parts) == 1 or any("**" in part for part in rest):
            depth = None
        elif depth is not None:
            depth = max(depth, len(rest))
    common = starts[0]
    for start in starts[1:]:
        size = 0
        while size < min(len(common), len(start)) and common[size] == start[size]:
            size += 1
        common = common[:size]
    if depth is not None:
        depth += max(len(start) for start in starts) - len(common)
    return "/".join(common), depth


@dataclass
class Listing:
    files: list[str] = field(default_factory=list)  # workspace-relative, in no particular order
    cut: str = ""  # why the listing stopped early, if it did


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
            rg = ripgrep()
            if rg is None:
                listing = await _listed(workspace, base, matcher)
            else:
                listing = await list_matching(rg, workspace, base, matcher)
        except WorkspaceError as exc:
            return failure(exc, args.path)

        hits = sorted(set(listing.files))
        where = "the workspace" if base == "." else base
        if not hits:
            return ToolResult(
                content=f"No files match {pattern!r} in {where}.",
                summary=f"Glob {pattern} → 0 files",
            )
        shown = hits[:MAX_RESULTS]
        if listing.cut:
            shown.append(f"... possibly more: {listing.cut} (narrow the pattern or the path)")
        elif len(hits) > MAX_RESULTS:
            shown.append(f"... {len(hits) - MAX_RESULTS} more (narrow the pattern or the path)")
        return ToolResult(
            content=cap_output("\n".join(shown)),
            summary=f"Glob {pattern} → {len(hits)} files",
        )


def _error(message: str) -> ToolResult:
    return ToolResult(content=f"Error: {message}", is_error=True, summary="Glob failed")


async def _listed(workspace: Workspace, base: str, matcher: PathMatcher) -> Listing:
    """Without ripgrep: the Workspace's whole listing of `base`, filtered."""
    prefix = "" if base == "." else base + "/"
    return Listing([f for f in await workspace.list_files(base) if matcher.matches(f[len(prefix) :])])


async def list_matching(rg: str, workspace: Workspace, base: str, matcher: PathMatcher) -> Listing:
    """The files under the folder `base` that `matcher` accepts (relative to `base`): ripgrep walks
    the disk from the pattern's literal folder, and files only the workspace has are added."""
    start, depth = walk_start(matcher.pattern)
    prefix = "" if base == "." else base + "/"
    folder = (prefix + start).rstrip("/")
    listing = Listing()
    skipped = SKIP_DIRS.intersection(PurePosixPath(start).parts)
    if not skipped and await asyncio.to_thread(_plain_folder, workspace.root, folder):
        await _ripgrep_files(rg, workspace.root, folder, depth, prefix, matcher, listing)
    if isinstance(workspace, OverlaidWorkspace):
        extra = [path for path in await workspace.texts_over_disk(base)
                 if path.startswith(prefix) and matcher.matches(path[len(prefix) :])
                 and not SKIP_DIRS.intersection(PurePosixPath(path[len(prefix) :]).parts[:-1])]
        listing.files += await asyncio.to_thread(_not_on_disk, workspace.root, extra)
    return listing


async def _ripgrep_files(
    rg: str, root: Path, folder: str, depth: int | None, prefix: str, matcher: PathMatcher, listing: Listing
) -> None:
    argv = [rg, "--files", *walk_options()]
    if depth is not None:
        argv.append(f"--max-depth={depth}")
    # Run inside the folder, so its paths come out relative to it and nothing above it is walked.
    into = folder + "/" if folder else ""

    def take(raw: bytes) -> None:
        path = into + raw.decode("utf-8", errors="surrogateescape").rstrip("\n").removeprefix("./")
        if matcher.matches(path[len(prefix) :]):
            listing.files.append(path)
            if len(listing.files) >= MAX_COLLECTED:
                raise Stop(f"the listing stopped at {MAX_COLLECTED:,} matching files")

    _, listing.cut = await run_bounded(argv, root / (folder or "."), LISTING_TIMEOUT_S, take)


def _plain_folder(root: Path, folder: str) -> bool:
    """Whether `folder` is a folder reached without a symlink: the Workspace's listing follows none
    (a linked folder can lead out of the workspace, or round in a loop)."""
    path = root / folder
    return path.is_dir() and path.resolve() == path


def _not_on_disk(root: Path, paths: list[str]) -> list[str]:
    return [path for path in paths if not os.path.lexists(root / path)]
