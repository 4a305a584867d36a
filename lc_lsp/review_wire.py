"""The in-editor review's messages (a client announcing `experimental.littleCoder.review`): the
`littleCoder/review` request, its reply, the `littleCoder/reviewUpdate` notification and the
selection a client sends to test or apply. camelCase on the wire; the clients read README's table.

Decisions and edits travel as lists, not maps keyed by hunk id: pygls hands a reply over as nested
namedtuples, which would mangle keys such as "src/leap.py#2".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from lc_lsp.hunk_links import Need
from lc_lsp.review import Hunk, Proposal

REVIEW_REQUEST = "littleCoder/review"
REVIEW_UPDATE = "littleCoder/reviewUpdate"
CAPABILITY = "littleCoder"  # capabilities.experimental.littleCoder.review

Choice = Literal["accept", "reject", "mine", "agent", "both"]


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class Dependency(_Wire):
    hunk: str
    names: list[str]


class ReviewHunk(_Wire):
    id: str
    kind: Literal["change", "conflict"]
    start_line: int
    end_line: int
    old_text: str
    new_text: str
    both_text: str | None
    label: str
    reason: str
    depends_on: list[Dependency]


class ReviewFile(_Wire):
    uri: str
    path: str
    created: bool
    version: int | None
    current_text: str
    hunks: list[ReviewHunk]


class ReviewParams(_Wire):
    session_id: str
    title: str
    label: str
    unfinished: str | None
    test_command: str | None
    files: list[ReviewFile]


class Decision(_Wire):
    hunk: str
    choice: Choice


class EditedHunk(_Wire):
    hunk: str
    text: str


class Selection(_Wire):
    """What the user chose: a hunk without a decision is not applied (undecided, not rejected)."""

    decisions: list[Decision] = Field(default_factory=list)
    edited: list[EditedHunk] = Field(default_factory=list)

    def choices(self) -> dict[str, Choice]:
        return {d.hunk: d.choice for d in self.decisions}

    def texts(self) -> dict[str, str]:
        return {e.hunk: e.text for e in self.edited}


class ReviewResult(Selection):
    action: Literal["apply", "discard", "close"]


class SelectionTest(_Wire):
    command: str | None
    ran: bool
    passed: bool | None
    summary: str
    output: str


def both_text(conflict: Hunk) -> str:
    """A conflict's "keep both": the user's lines, then the agent's, each line whole."""
    mine = list(conflict.old_lines)
    if mine and not mine[-1].endswith(("\n", "\r")):
        newline = "\r\n" if any(line.endswith("\r\n") for line in mine) else "\n"
        mine[-1] += newline
    return "".join(mine) + "".join(conflict.new_lines)


def _hunk(hunk: Hunk, kind: Literal["change", "conflict"], needs: Sequence[Need]) -> ReviewHunk:
    return ReviewHunk(
        id=hunk.id, kind=kind, start_line=hunk.start_line, end_line=hunk.end_line,
        old_text="".join(hunk.old_lines), new_text="".join(hunk.new_lines),
        both_text=both_text(hunk) if kind == "conflict" else None, label=hunk.label, reason=hunk.reason,
        depends_on=[Dependency(hunk=n.on, names=list(n.names)) for n in needs if n.hunk == hunk.id],
    )


def review_file(proposal: Proposal, needs: Sequence[Need]) -> ReviewFile:
    hunks = [_hunk(h, "change", needs) for h in proposal.hunks]
    hunks += [_hunk(c, "conflict", needs) for c in proposal.conflicts]
    hunks.sort(key=lambda h: (h.start_line, h.end_line))
    return ReviewFile(uri=proposal.uri, path=proposal.path, created=proposal.created, version=proposal.version,
                      current_text=proposal.current_text, hunks=hunks)


def plain(value: Any) -> Any:
    """A reply as pygls delivers it (namedtuples, lists) as plain JSON values."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    return value
