"""Which of the project's own instruction files exist, so the agent reads them before editing.

The original fired its workspace hint from task keywords and, through a tokenising slip, never on a
first attempt (SCAFFOLD §6). Here the filesystem decides: if `.docs/instructions.md` is there, the
agent is told to read it, whatever the task says.
"""

from __future__ import annotations

import asyncio

from agent.workspace import Workspace, WorkspaceError

# Most specific first: the task's own instructions, then notes written for agents, then general docs.
CANDIDATES = (
    ".docs/instructions.md",
    ".docs/instructions.append.md",
    "AGENTS.md",
    "CLAUDE.md",
    "README.md",
    "SPEC.md",
)
DOCS_DIR = "docs"
# A docs folder can hold dozens of pages; every Read costs a turn, so offer only a few.
MAX_DOCS = 2
_DOCS_FIRST = ("readme.md", "index.md")


async def discover(workspace: Workspace) -> list[str]:
    """Workspace-relative paths of the instruction files present, most specific first."""
    present = await asyncio.gather(*(_is_file(workspace, path) for path in CANDIDATES))
    found = [path for path, ok in zip(CANDIDATES, present, strict=True) if ok]
    found.extend(await _docs_pages(workspace))
    return found


async def _is_file(workspace: Workspace, path: str) -> bool:
    try:
        return await workspace.exists(path) and not await workspace.is_dir(path)
    except WorkspaceError:
        return False  # e.g. a symlink that leads outside the root: not the project's to offer


async def _docs_pages(workspace: Workspace) -> list[str]:
    try:
        if not await workspace.is_dir(DOCS_DIR):
            return []
        files = await workspace.list_files(DOCS_DIR)
    except WorkspaceError:
        return []
    pages = [p for p in files if p.count("/") == 1 and p.lower().endswith(".md")]
    # An overview page (docs/README.md, docs/index.md) says the most per turn spent reading it.
    pages.sort(key=lambda p: (p.rsplit("/", 1)[-1].lower() not in _DOCS_FIRST, p))
    return pages[:MAX_DOCS]
