"""Skill cards and knowledge entries: markdown files with a small `---` frontmatter, parsed once.

A card teaches one tool (`type: tool`, `tool: Edit`) or one way of working (`type: workflow`, with
`tools` it needs and optionally `recovers`: the tools whose failures it answers). A knowledge entry
is a short algorithm note with a `topic` and `keywords`. Token costs are measured with tiktoken at
load time, never declared by the author (the original's declared costs were off by up to 3x).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent import tokens
from agent.guidance.words import Keywords

CardKind = Literal["tool", "workflow"]
Frontmatter = dict[str, str | list[str]]


class GuidanceFormatError(ValueError):
    """A card or entry file that cannot be used; `source` names the file."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(f"{source}: {message}")


def parse_frontmatter(text: str, source: str = "<text>") -> tuple[Frontmatter, str]:
    """Split `---`-fenced `key: value` lines (values may be `[a, b]` lists) from the body."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise GuidanceFormatError(source, "must start with a '---' frontmatter line")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise GuidanceFormatError(source, "frontmatter is not closed by a '---' line") from None
    meta: Frontmatter = {}
    for number, line in enumerate(lines[1:end], start=2):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise GuidanceFormatError(source, f"line {number}: expected 'key: value', got {stripped!r}")
        if key in meta:
            raise GuidanceFormatError(source, f"line {number}: '{key}' is given twice")
        if value.startswith("[") and value.endswith("]"):
            meta[key] = [_unquote(item) for item in value[1:-1].split(",") if item.strip()]
        else:
            meta[key] = _unquote(value)
    return meta, "\n".join(lines[end + 1 :]).strip()


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


class _CardMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    type: CardKind
    tool: str | None = None
    title: str | None = None
    tools: list[str] = Field(default_factory=list)
    recovers: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _shape(self) -> _CardMeta:
        if self.type == "tool" and not self.tool:
            raise ValueError("a tool card needs 'tool: <ToolName>'")
        if self.type == "workflow" and not self.tools:
            raise ValueError("a workflow card needs 'tools: [..]' (the tools it relies on)")
        return self


class _KnowledgeMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)


@dataclass(frozen=True)
class Card:
    name: str
    kind: CardKind
    title: str
    tools: tuple[str, ...]  # the tools it relies on; it is offered only when all are available
    recovers: tuple[str, ...]  # tools whose failed result makes this card urgent
    keywords: Keywords
    body: str
    tokens: int  # measured tokens of the body
    section: str  # the card as rendered in a guidance block
    section_tokens: int

    @property
    def tool(self) -> str | None:
        return self.tools[0] if self.kind == "tool" else None


@dataclass(frozen=True)
class KnowledgeEntry:
    name: str
    topic: str
    keywords: Keywords
    body: str
    tokens: int
    section: str
    section_tokens: int


def _section(title: str, body: str) -> tuple[str, int]:
    text = f"### {title}\n{body}"
    return text, tokens.count(text)


def parse_card(name: str, text: str) -> Card:
    meta, body = parse_frontmatter(text, name)
    try:
        parsed = _CardMeta.model_validate(meta)
    except ValidationError as exc:
        raise GuidanceFormatError(name, _first_error(exc)) from exc
    if not body:
        raise GuidanceFormatError(name, "the card has no body")
    if parsed.type == "tool" and parsed.tool is not None:  # _CardMeta guarantees the tool
        tools: tuple[str, ...] = (parsed.tool,)
        recovers: tuple[str, ...] = (parsed.tool,)
        title = parsed.title or parsed.tool
    else:
        tools = tuple(parsed.tools)
        recovers = tuple(parsed.recovers)
        title = parsed.title or parsed.name
    section, section_tokens = _section(title, body)
    return Card(
        name=parsed.name,
        kind=parsed.type,
        title=title,
        tools=tools,
        recovers=recovers,
        keywords=Keywords.parse(parsed.keywords),
        body=body,
        tokens=tokens.count(body),
        section=section,
        section_tokens=section_tokens,
    )


def parse_knowledge(name: str, text: str) -> KnowledgeEntry:
    meta, body = parse_frontmatter(text, name)
    try:
        parsed = _KnowledgeMeta.model_validate(meta)
    except ValidationError as exc:
        raise GuidanceFormatError(name, _first_error(exc)) from exc
    if not body:
        raise GuidanceFormatError(name, "the entry has no body")
    section, section_tokens = _section(parsed.topic, body)
    return KnowledgeEntry(
        name=name,
        topic=parsed.topic,
        keywords=Keywords.parse(parsed.keywords),
        body=body,
        tokens=tokens.count(body),
        section=section,
        section_tokens=section_tokens,
    )


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else err["msg"]


@dataclass(frozen=True)
class GuidanceLibrary:
    """Every card and entry, in a fixed order (tool cards, then workflows; each by file name), so
    selection is deterministic. Immutable after construction."""

    cards: tuple[Card, ...]
    knowledge: tuple[KnowledgeEntry, ...]
    # Tool card per lowercased tool name (the registry's spelling may differ in case from the card's).
    tool_cards: Mapping[str, Card] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_tool: dict[str, Card] = {}
        names: set[str] = set()
        for card in self.cards:
            if card.name in names:
                raise GuidanceFormatError(card.name, "two cards share this name")
            names.add(card.name)
            if card.tool is not None:
                key = card.tool.lower()
                if key in by_tool:
                    raise GuidanceFormatError(card.name, f"a second card for the tool {card.tool}")
                by_tool[key] = card
        object.__setattr__(self, "tool_cards", by_tool)

    @classmethod
    def from_texts(cls, cards: Mapping[str, str], knowledge: Mapping[str, str]) -> GuidanceLibrary:
        """Build from file name -> markdown text (tests use this for small custom libraries)."""
        parsed = [parse_card(name, cards[name]) for name in sorted(cards)]
        parsed.sort(key=lambda card: card.kind != "tool")  # stable: tool cards first
        return cls(
            cards=tuple(parsed),
            knowledge=tuple(parse_knowledge(name, knowledge[name]) for name in sorted(knowledge)),
        )

    @classmethod
    def load(cls, directory: Traversable) -> GuidanceLibrary:
        """Load `cards/*.md` and `knowledge/*.md` under a directory (or package resource)."""
        return cls.from_texts(_read_md(directory / "cards"), _read_md(directory / "knowledge"))

    @classmethod
    def bundled(cls) -> GuidanceLibrary:
        """The library shipped in this package, parsed once per process."""
        return _bundled()


def _read_md(directory: Traversable) -> dict[str, str]:
    if not directory.is_dir():
        return {}
    return {
        entry.name.removesuffix(".md"): entry.read_text(encoding="utf-8")
        for entry in directory.iterdir()
        if entry.name.endswith(".md") and entry.is_file()
    }


@lru_cache(maxsize=1)
def _bundled() -> GuidanceLibrary:
    # Read-only package data: one parsed copy is shared by every session in the process.
    return GuidanceLibrary.load(resources.files("agent.guidance"))
