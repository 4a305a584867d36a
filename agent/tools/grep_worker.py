"""The Python search behind Grep, run as a child process (`python -P -m agent.tools.grep_worker`).

Python's `re` holds the GIL for the whole of one line's match, so a backtracking pattern in a thread
still freezes the parent's event loop (the editor's connection); in a child process it freezes
nothing, and the parent kills it at its deadline. The job comes as one JSON object on stdin
(`GrepJob`); each file with matches goes out as one JSON line (`FileMatches`) as soon as it is
searched, so a search killed part-way still leaves the files done before. Files are read through a
DiskWorkspace, under its rules (regular single-link files only, none over MAX_FILE_BYTES).
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

from pydantic import BaseModel

from agent.workspace import DiskWorkspace, WorkspaceError


class JobFile(BaseModel):
    path: str  # workspace-relative
    text: str | None = None  # the text to search (an unsaved buffer, a pending file); None: the disk's


class GrepJob(BaseModel):
    root: str  # the workspace's folder
    pattern: str
    ignore_case: bool = False
    context: int = 0
    first_match_only: bool = False  # enough to list the file
    max_line_chars: int  # longer lines are sent cut to this (the output clips them anyway)
    files: list[JobFile]


class FileMatches(BaseModel):
    path: str
    count: int  # matching lines
    lines: list[tuple[int, str, bool]]  # (1-based number, text, is a match); context lines are False


def search_file(regex: re.Pattern[str], text: str, job: GrepJob) -> tuple[int, list[tuple[int, str, bool]]]:
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    matched: list[int] = []
    for n, line in enumerate(lines):
        if regex.search(line):
            matched.append(n)
            if job.first_match_only:
                break
    shown: dict[int, bool] = {}
    for n in matched:
        for k in range(max(0, n - job.context), min(len(lines), n + job.context + 1)):
            shown[k] = shown.get(k, False) or k == n
    return len(matched), [(k + 1, lines[k][: job.max_line_chars], shown[k]) for k in sorted(shown)]


async def _search(job: GrepJob) -> None:
    workspace = DiskWorkspace(Path(job.root))
    regex = re.compile(job.pattern, re.IGNORECASE if job.ignore_case else 0)
    for entry in job.files:
        text = entry.text
        if text is None:
            try:
                text = await workspace.read_text(entry.path)
            except WorkspaceError:
                continue  # binary, too large, vanished or not a plain file: not searchable text
        count, lines = search_file(regex, text, job)
        if count:
            sys.stdout.write(FileMatches(path=entry.path, count=count, lines=lines).model_dump_json() + "\n")
            sys.stdout.flush()


def main() -> None:
    asyncio.run(_search(GrepJob.model_validate_json(sys.stdin.buffer.read())))


if __name__ == "__main__":
    main()
