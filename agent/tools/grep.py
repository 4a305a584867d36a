"""Grep: search file contents with a regular expression, never holding up the event loop.

ripgrep (`rg`, installed by scripts/deps/base.sh, else found on PATH) searches the workspace's folder
on disk in every kind of workspace, as a child process killed at RIPGREP_TIMEOUT_S. It sees hidden
files, applies .gitignore (and .ignore) files even outside a git repository, leaves out the
workspace's skipped folders, binary files and hard links (as the Workspace does). A workspace whose
texts differ from disk (the editor's: unsaved buffers and the agent's pending files) hands them over
with `texts_over_disk()`; ripgrep searches them in a private temporary copy, beside the ignore files
that govern them, and their matches replace the disk's for those paths.

Without ripgrep, or when it rejects a pattern Python accepts, Python's `re` searches the files the
Workspace lists (.gitignore not applied), overlay texts included, in a child process
(agent/tools/grep_worker.py) killed at PYTHON_SEARCH_TIMEOUT_S: `re` holds the GIL for the whole of
one line's match, so a thread would not free the loop from a backtracking pattern. Either way a search
cut short returns what it found, with a note saying why; output past _READ_LIMIT bytes stops the
child (killed, not drained), so memory stays bounded however much matches. The child-process handling
is agent/tools/ripgrep.py's, shared with Glob.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import ClassVar, Literal

from pydantic import BaseModel, Field, ValidationError

from agent.tools.base import Tool, ToolContext, ToolResult
from agent.tools.failures import failure
from agent.tools.glob import OverlaidWorkspace, PathMatcher
from agent.tools.grep_worker import FileMatches, GrepJob, JobFile
from agent.tools.ripgrep import Stop, ripgrep, run_bounded, walk_options
from agent.workspace import Workspace, WorkspaceError

MAX_OUTPUT_CHARS = 20_000
MAX_LINE_CHARS = 500
RIPGREP_TIMEOUT_S = 30.0
PYTHON_SEARCH_TIMEOUT_S = 30.0
# Output read past this point is not needed to fill MAX_OUTPUT_CHARS: the child is killed there, so
# memory stays bounded however many lines match.
_READ_LIMIT = 4_000_000
# The files ripgrep takes ignore rules from; copied beside overlay texts so the same rules hold there.
_IGNORE_FILES = (".gitignore", ".ignore", ".rgignore")

OutputMode = Literal["files_with_matches", "content", "count"]


class GrepInput(BaseModel):
    pattern: str = Field(
        description="Regular expression (Python syntax) to search for; escape ( [ . * meant literally"
    )
    path: str = Field(".", description="File or folder to search, relative to the workspace root")
    glob: str | None = Field(
        None, description="Only search files matching this glob, e.g. '*.py' or 'src/**/*.ts' (default: all files)"
    )
    output_mode: OutputMode = Field(
        "files_with_matches",
        description="'files_with_matches' lists matching files; 'content' shows matching lines "
        "with line numbers; 'count' gives the number of matching lines per file",
    )
    case_insensitive: bool = Field(False, description="Ignore upper/lower case")
    context: int = Field(
        0, ge=0, le=20, description="Lines shown before and after each match, 0 to 20 (content mode only)"
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
        "output_mode 'content' shows the matching lines with line numbers. Version-control and dependency "
        f"folders are skipped; output stops at {MAX_OUTPUT_CHARS:,} characters and a search at "
        f"{RIPGREP_TIMEOUT_S:.0f} seconds, so narrow path or glob when it is cut."
    )
    Input: ClassVar[type[BaseModel]] = GrepInput

    def __init__(self, use_ripgrep: bool = True) -> None:
        self.use_ripgrep = use_ripgrep

    async def run(self, args: GrepInput, ctx: ToolContext) -> ToolResult:
        workspace = ctx.workspace
        try:
            re.compile(args.pattern, re.IGNORECASE if args.case_insensitive else 0)
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
            overlay = await workspace.texts_over_disk(base) if isinstance(workspace, OverlaidWorkspace) else {}
            search = None
            rg = ripgrep() if self.use_ripgrep else None
            if rg:
                search = await _ripgrep_workspace(rg, workspace, base, args, overlay)
            if search is None:
                search = await _python_search(workspace, base, args, matcher, overlay)
        except WorkspaceError as exc:
            return failure(exc, args.path)
        return _render(search, args, base)


def _error(message: str) -> ToolResult:
    return ToolResult(content=f"Error: {message}", is_error=True, summary="Grep failed")


def _reader(on_line: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """`on_line`, stopped once _READ_LIMIT bytes have been read."""
    read = 0

    def take(raw: bytes) -> None:
        nonlocal read
        read += len(raw)
        on_line(raw)
        if read > _READ_LIMIT:
            raise Stop("too many matches")

    return take


# --- pure Python, in a child process --------------------------------------------------------------


async def _python_search(
    workspace: Workspace, base: str, args: GrepInput, matcher: PathMatcher | None, overlay: dict[str, str]
) -> _Search:
    prefix = "" if base == "." else base + "/"
    files: list[JobFile] = []
    for path in await workspace.list_files(base):
        if matcher is not None and not matcher.matches(path.removeprefix(prefix) if prefix else path):
            continue
        files.append(JobFile(path=path, text=overlay.get(path)))
    job = GrepJob(root=str(workspace.root), pattern=args.pattern, ignore_case=args.case_insensitive,
                  context=args.context, first_match_only=args.output_mode == "files_with_matches",
                  max_line_chars=MAX_LINE_CHARS + 1, files=files)
    search = _Search()

    def take(raw: bytes) -> None:
        try:
            found = FileMatches.model_validate_json(raw)
        except ValidationError:
            return
        hits = search.hit(found.path)
        hits.count = found.count
        hits.lines = {number: (text, is_match) for number, text, is_match in found.lines}

    # -P: the workspace (the child's cwd) must not shadow our modules.
    argv = [sys.executable, "-P", "-m", "agent.tools.grep_worker"]
    status, search.incomplete = await run_bounded(argv, workspace.root, PYTHON_SEARCH_TIMEOUT_S, _reader(take),
                                                  stdin=job.model_dump_json().encode("utf-8"))
    if status != 0 and not search.incomplete:
        search.incomplete = "the search failed part-way" if status is not None else "Python could not be started"
    return search


# --- ripgrep --------------------------------------------------------------------------------------


async def _ripgrep_workspace(
    rg: str, workspace: Workspace, base: str, args: GrepInput, overlay: dict[str, str]
) -> _Search | None:
    """ripgrep over the disk, and over the overlay texts, whose matches replace the disk's for their
    paths; None when ripgrep cannot run or rejects the pattern (Python searches instead)."""
    root = workspace.root
    base_is_dir = await workspace.is_dir(base)
    on_disk = _ripgrep(rg, root, base, args, base_is_dir)
    if overlay:
        search, overlaid = await asyncio.gather(on_disk, _ripgrep_overlay(rg, root, base, args, base_is_dir, overlay))
    else:
        search, overlaid = await on_disk, _Search()
    if search is None or overlaid is None:
        return None
    search.files = await asyncio.to_thread(_plain_files, root, search.files)
    for path in overlay:
        search.files.pop(path, None)
    search.files.update({path: hits for path, hits in overlaid.files.items() if path in overlay})
    search.incomplete = search.incomplete or overlaid.incomplete
    return search


def _plain_files(root: Path, files: dict[str, _FileHits]) -> dict[str, _FileHits]:
    """The matches in regular files with a single link: the Workspace reads no other kind (a hard link
    can lead out of the workspace), and ripgrep cannot be told to skip them."""
    kept: dict[str, _FileHits] = {}
    for path, hits in files.items():
        try:
            found = os.lstat(root / path)
        except OSError:
            continue
        if stat.S_ISREG(found.st_mode) and found.st_nlink == 1:
            kept[path] = hits
    return kept


async def _ripgrep_overlay(
    rg: str, root: Path, base: str, args: GrepInput, base_is_dir: bool, overlay: dict[str, str]
) -> _Search | None:
    try:
        with tempfile.TemporaryDirectory(prefix="lc-grep-") as folder:  # a few small files: quick to remove
            await asyncio.to_thread(_copy_overlay, root, overlay, Path(folder))
            return await _ripgrep(rg, Path(folder), base, args, base_is_dir)
    except OSError:  # no room for the copy, say: the Python search takes the texts directly
        return None


def _copy_overlay(root: Path, overlay: dict[str, str], tree: Path) -> None:
    """Put the overlay texts in `tree` at their paths, with copies of the ignore files on disk that
    apply to them (from the root down to each one's folder)."""
    for path, text in overlay.items():
        target = tree / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8", errors="replace"))
    for path in overlay:
        for folder in PurePosixPath(path).parents:
            for name in _IGNORE_FILES:
                rules = (folder / name).as_posix()
                source, copy = root / rules, tree / rules
                if rules not in overlay and not copy.exists() and source.is_file():
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, copy)


async def _ripgrep(rg: str, root: Path, base: str, args: GrepInput, base_is_dir: bool) -> _Search | None:
    """Search `base` under `root` with ripgrep; None when it cannot run or rejects the pattern."""
    if not (root / base).exists():
        return _Search()  # a file or folder the agent has only proposed: in the overlay alone
    # Run inside the searched folder, so --glob means the same as in the Python search.
    cwd = root / base if base_is_dir else (root / base).parent
    target = "." if base_is_dir else (root / base).name
    folder = base if base_is_dir else base.rpartition("/")[0]
    prefix = "" if folder in (".", "") else folder + "/"
    # --engine=auto: PCRE2 for what the default engine lacks (look-around, backreferences).
    argv = [rg, *walk_options(), "--engine=auto", "--with-filename"]
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

    search = _Search()
    status, search.incomplete = await run_bounded(
        argv, cwd, RIPGREP_TIMEOUT_S, _reader(lambda raw: _parse_ripgrep_line(raw, args.output_mode, prefix, search)))
    if status is None or (status not in (0, 1) and not search.files and not search.incomplete):
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
