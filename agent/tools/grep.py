"""Grep: search file contents with a regular expression.

On a DiskWorkspace with ripgrep installed, ripgrep does the work (fast on big trees); otherwise,
or when ripgrep rejects a pattern Python accepts (look-arounds, say), Python's `re` searches the
files the Workspace lists. Both see the same files: hidden ones included, .gitignore not applied,
the workspace's skipped folders left out, binary files ignored.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from agent.tools.base import Tool, ToolContext, ToolResult
from agent.tools.failures import failure
from agent.tools.glob import PathMatcher
from agent.workspace import SKIP_DIRS, DiskWorkspace, NotText, Workspace, WorkspaceError

MAX_OUTPUT_CHARS = 20_000
MAX_LINE_CHARS = 500
RIPGREP_TIMEOUT_S = 30.0
# The Python search matches in a worker thread, line by line, so the event loop (the editor's connection)
# gets the GIL back between lines even for a backtracking pattern; past this it stops with a note.
PYTHON_SEARCH_TIMEOUT_S = 30.0
# ripgrep output read past this point is not needed to fill MAX_OUTPUT_CHARS.
_RIPGREP_READ_LIMIT = 4_000_000
_RIPGREP_LINE_LIMIT = 16 * 1024 * 1024

OutputMode = Literal["files_with_matches", "content", "count"]


class GrepInput(BaseModel):
    pattern: str = Field(description="Regular expression (Python syntax) to search for")
    path: str = Field(".", description="File or folder to search, relative to the workspace root")
    glob: str | None = Field(
        None, description="Only search files matching this glob, e.g. '*.py' or 'src/**/*.ts'"
    )
    output_mode: OutputMode = Field(
        "files_with_matches",
        description="'files_with_matches' lists matching files; 'content' shows matching lines "
        "with line numbers; 'count' gives the number of matching lines per file",
    )
    case_insensitive: bool = Field(False, description="Ignore upper/lower case")
    context: int = Field(
        0, ge=0, le=20, description="Lines of context before and after each match (content mode)"
    )


@dataclass
class _FileHits:
    """Matches in one file: line number -> (text, is_match); context lines have is_match False."""

    lines: dict[int, tuple[str, bool]] = field(default_factory=dict)
    count: int = 0


@dataclass
class _Search:
    files: dict[str, _FileHits] = field(default_factory=dict)  # workspace-relative path -> hits
    incomplete: str = ""  # why the search stopped early, if it did

    def hit(self, path: str) -> _FileHits:
        return self.files.setdefault(path, _FileHits())


class Grep(Tool):
    name = "Grep"
    description = (
        "Search file contents for a regular expression. Lists matching files by default; "
        "output_mode 'content' shows the matching lines with line numbers."
    )
    Input: ClassVar[type[BaseModel]] = GrepInput

    def __init__(self, use_ripgrep: bool = True) -> None:
        self.use_ripgrep = use_ripgrep

    async def run(self, args: GrepInput, ctx: ToolContext) -> ToolResult:
        workspace = ctx.workspace
        flags = re.IGNORECASE if args.case_insensitive else 0
        try:
            regex = re.compile(args.pattern, flags)
        except re.error as exc:
            return _error(
                f"invalid regular expression {args.pattern!r}: {exc}. "
                "Put a backslash before special characters meant literally, such as ( [ . *"
            )
        try:
            matcher = PathMatcher(args.glob) if args.glob else None
        except (ValueError, re.error) as exc:
            return _error(f"invalid glob {args.glob!r}: {exc}")
        try:
            base = workspace.relative(args.path)
            if not await workspace.exists(base):
                return _error(f"no file or folder {base}. Use path '.' to search the whole workspace.")
            search = None
            rg = shutil.which("rg") if self.use_ripgrep else None
            if rg and isinstance(workspace, DiskWorkspace):
                search = await _ripgrep(rg, workspace.root, base, args, await workspace.is_dir(base))
            if search is None:
                search = await _python_search(workspace, base, regex, matcher, args.context)
        except WorkspaceError as exc:
            return failure(exc, args.path)
        return _render(search, args, base)


def _error(message: str) -> ToolResult:
    return ToolResult(content=f"Error: {message}", is_error=True, summary="Grep failed")


# --- pure Python --------------------------------------------------------------------------------


async def _python_search(
    workspace: Workspace, base: str, regex: re.Pattern[str], matcher: PathMatcher | None, context: int
) -> _Search:
    search = _Search()
    prefix = "" if base == "." else base + "/"
    deadline = time.monotonic() + PYTHON_SEARCH_TIMEOUT_S
    for path in await workspace.list_files(base):
        if matcher is not None and not matcher.matches(path.removeprefix(prefix) if prefix else path):
            continue
        try:
            text = await workspace.read_text(path)
        except (NotText, WorkspaceError):
            continue  # binary or unreadable: not searchable text
        lines = [line.removesuffix("\r") for line in text.split("\n")]
        if lines and lines[-1] == "":
            lines.pop()
        matched, finished = await asyncio.to_thread(_matching_lines, lines, regex, deadline)
        if not finished:
            search.incomplete = (f"the search took longer than {PYTHON_SEARCH_TIMEOUT_S:.0f} s; "
                                 "simplify the pattern or narrow the path")
        if not matched:
            if not finished:
                break
            continue
        hits = search.hit(path)
        hits.count = len(matched)
        for n in matched:
            hits.lines[n + 1] = (lines[n], True)
        for n in matched:
            for k in range(max(0, n - context), min(len(lines), n + context + 1)):
                hits.lines.setdefault(k + 1, (lines[k], False))
        if not finished:
            break
    return search


def _matching_lines(lines: list[str], regex: re.Pattern[str], deadline: float) -> tuple[list[int], bool]:
    """Indexes of the lines that match, and False when the deadline cut the scan short."""
    matched: list[int] = []
    for n, line in enumerate(lines):
        if time.monotonic() > deadline:
            return matched, False
        if regex.search(line):
            matched.append(n)
    return matched, True


# --- ripgrep ------------------------------------------------------------------------------------


async def _ripgrep(rg: str, root: Path, base: str, args: GrepInput, base_is_dir: bool) -> _Search | None:
    """Search with ripgrep; None when it cannot run or rejects the pattern (use Python instead)."""
    # Run inside the searched folder, so --glob means the same as in the Python search.
    cwd = root / base if base_is_dir else (root / base).parent
    target = "." if base_is_dir else (root / base).name
    folder = base if base_is_dir else base.rpartition("/")[0]
    prefix = "" if folder in (".", "") else folder + "/"
    argv = [rg, "--no-config", "--hidden", "--no-ignore", "--no-messages", "--color=never", "--with-filename"]
    for name in sorted(SKIP_DIRS):
        argv += ["--glob", f"!{name}/"]
    if args.glob:
        argv += ["--glob", args.glob]
    if args.case_insensitive:
        argv.append("--ignore-case")
    if args.output_mode == "files_with_matches":
        argv.append("--files-with-matches")
    elif args.output_mode == "count":
        argv.append("--count")
    else:
        argv += ["--json", f"--context={args.context}"]
    argv += ["--", args.pattern, target]

    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            limit=_RIPGREP_LINE_LIMIT,
        )
    except OSError:
        return None
    assert proc.stdout is not None  # a pipe, by the call above
    search = _Search()
    read = 0
    try:
        async with asyncio.timeout(RIPGREP_TIMEOUT_S):
            while raw := await proc.stdout.readline():
                read += len(raw)
                _parse_ripgrep_line(raw, args.output_mode, prefix, search)
                if read > _RIPGREP_READ_LIMIT:
                    search.incomplete = "too many matches"
                    break
    except TimeoutError:
        search.incomplete = f"the search took longer than {RIPGREP_TIMEOUT_S:.0f} s"
    except ValueError:
        search.incomplete = "a matching line was too long to read"
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    if proc.returncode not in (0, 1) and not search.files and not search.incomplete:
        # ripgrep failed without finding anything (exit 2: typically a pattern it cannot parse; any
        # other status: it did not run properly): the Python search answers instead.
        return None
    return search


def _parse_ripgrep_line(raw: bytes, mode: OutputMode, prefix: str, search: _Search) -> None:
    line = raw.decode("utf-8", errors="replace").rstrip("\n")
    if mode == "files_with_matches":
        if line:
            search.hit(prefix + line.removeprefix("./"))
        return
    if mode == "count":
        path, _, count = line.rpartition(":")
        if path and count.isdigit():
            search.hit(prefix + path.removeprefix("./")).count = int(count)
        return
    try:
        message = json.loads(line)
    except json.JSONDecodeError:
        return
    kind = message.get("type")
    if kind not in ("match", "context"):
        return
    data = message["data"]
    path_text = data.get("path", {}).get("text")
    text = data.get("lines", {}).get("text")
    if path_text is None or text is None:
        return  # non-UTF-8 path or line: ripgrep sends bytes we do not show
    hits = search.hit(prefix + path_text.removeprefix("./"))
    number = int(data["line_number"])
    text = text.removesuffix("\n").removesuffix("\r")
    if kind == "match":
        hits.lines[number] = (text, True)
        hits.count += 1
    else:
        hits.lines.setdefault(number, (text, False))


# --- output -------------------------------------------------------------------------------------


def _clip(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " [...]"


def _render(search: _Search, args: GrepInput, base: str) -> ToolResult:
    paths = sorted(search.files)
    where = "the workspace" if base == "." else base
    if not paths:
        note = f" (search stopped early: {search.incomplete})" if search.incomplete else ""
        return ToolResult(
            content=f"No matches for {args.pattern!r} in {where}.{note}",
            summary=f"Grep {args.pattern} → no matches",
        )
    out: list[str] = []
    if args.output_mode == "files_with_matches":
        out = paths
    elif args.output_mode == "count":
        out = [f"{path}:{search.files[path].count}" for path in paths]
    else:
        for path in paths:
            previous = None
            for number in sorted(search.files[path].lines):
                text, is_match = search.files[path].lines[number]
                if args.context and previous is not None and number != previous + 1:
                    out.append("--")
                out.append(f"{path}{':' if is_match else '-'}{number}{':' if is_match else '-'}{_clip(text)}")
                previous = number
            if args.context and path != paths[-1]:
                out.append("--")
    content, cut = _cap_lines(out)
    if cut or search.incomplete:
        reason = search.incomplete or f"output longer than {MAX_OUTPUT_CHARS} characters"
        content += (
            f"\n[... results cut ({reason}); narrow the search with path, glob or a more specific pattern]"
        )
    return ToolResult(content=content, summary=f"Grep {args.pattern} → {len(paths)} files")


def _cap_lines(lines: list[str]) -> tuple[str, bool]:
    kept: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > MAX_OUTPUT_CHARS:
            return "\n".join(kept), True
        kept.append(line)
    return "\n".join(kept), False
