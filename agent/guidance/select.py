"""Choosing the cards and knowledge entries for one model call.

Run before every call (cheap: microseconds), so the cards follow what the model is doing now.
Cards, in priority order:
  1. recovery: the newest batch of tool results holds an error -> that tool's card, then the
     workflow cards that answer that tool's failures;
  2. recency: the tools called in the last two assistant messages;
  3. intent: cards whose keywords occur in the task (more hits first, then earliest in the task).
Knowledge entries are scored against the task (a word 1, a phrase 2) and need 2 to be offered.
One token budget is shared: cards first, then knowledge, each greedily, skipping what does not fit.
Intent is the weakest signal, so intent cards leave room for the best matching knowledge entry (a
third generic tool card is worth less than the one algorithm note the task asks for); recovery and
recency cards take precedence over knowledge outright.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache

from agent import tokens
from agent.guidance.library import Card, GuidanceLibrary, KnowledgeEntry
from agent.guidance.words import TaskText
from agent.messages import AssistantMessage, Message, ToolMessage

CARDS_HEADING = "## Tool cards"
KNOWLEDGE_HEADING = "## Reference notes"
SEPARATOR = "\n\n"
RECENT_ASSISTANT_MESSAGES = 2
KNOWLEDGE_THRESHOLD = 2


@dataclass(frozen=True)
class Selection:
    cards: list[Card]
    knowledge: list[KnowledgeEntry]
    tokens: int  # tiktoken count of `text`, measured
    text: str  # the rendered block; "" when nothing was selected


def select(
    library: GuidanceLibrary,
    *,
    task: str,
    history: Sequence[Message],
    tool_names: Collection[str],
    budget: int,
) -> Selection:
    if budget <= 0:
        return Selection(cards=[], knowledge=[], tokens=0, text="")
    text = TaskText.of(task)
    available = {name.lower() for name in tool_names}
    urgent, intent = rank_cards(library, text, history, available)
    entries = rank_knowledge(library, text)
    return _fit(urgent, intent, entries, budget)


def rank_cards(library: GuidanceLibrary, text: TaskText, history: Sequence[Message],
               available: Collection[str]) -> tuple[list[Card], list[Card]]:
    """The usable cards that apply, as (recovery + recency cards, intent cards), each most urgent
    first and without repeats. `available` holds the offered tools' lowercased names."""
    usable = [card for card in library.cards if all(tool.lower() in available for tool in card.tools)]
    usable_names = {card.name for card in usable}
    urgent: list[Card] = []
    taken: set[str] = set()
    for tool in failed_tools(history):
        for card in usable:
            if card.name not in taken and any(tool == recovered.lower() for recovered in card.recovers):
                taken.add(card.name)
                urgent.append(card)
    for tool in recent_tools(history):
        recent = library.tool_cards.get(tool)
        if recent is not None and recent.name in usable_names and recent.name not in taken:
            taken.add(recent.name)
            urgent.append(recent)
    scored: list[tuple[int, int, int]] = []
    for index, card in enumerate(usable):
        if card.name in taken:
            continue
        score, at = card.keywords.match(text)
        if score:
            scored.append((-score, at, index))
    return urgent, [usable[index] for _, _, index in sorted(scored)]


def rank_knowledge(library: GuidanceLibrary, text: TaskText) -> list[KnowledgeEntry]:
    scored: list[tuple[int, int]] = []
    for index, entry in enumerate(library.knowledge):
        score, _ = entry.keywords.match(text)
        if score >= KNOWLEDGE_THRESHOLD:
            scored.append((-score, index))
    return [library.knowledge[index] for _, index in sorted(scored)]


def failed_tools(history: Sequence[Message]) -> list[str]:
    """Lowercased names of tools that failed in the newest result batch (the results after the last
    assistant message), newest first. Harness messages after the batch do not end it."""
    failed: list[str] = []
    for message in reversed(history):
        if isinstance(message, AssistantMessage):
            break
        if isinstance(message, ToolMessage) and message.is_error:
            name = message.name.lower()
            if name not in failed:
                failed.append(name)
    return failed


def recent_tools(history: Sequence[Message]) -> list[str]:
    """Lowercased names of tools called in the last two assistant messages, newest first."""
    names: list[str] = []
    seen = 0
    for message in reversed(history):
        if not isinstance(message, AssistantMessage):
            continue
        for call in message.tool_calls:
            name = call.name.lower()
            if name not in names:
                names.append(name)
        seen += 1
        if seen == RECENT_ASSISTANT_MESSAGES:
            break
    return names


@lru_cache(maxsize=1)
def _fixed_costs() -> tuple[int, int, int]:
    # Constants of the layout; counted once (the encoding loads lazily).
    return tokens.count(CARDS_HEADING), tokens.count(KNOWLEDGE_HEADING), tokens.count(SEPARATOR)


def _fit(urgent: list[Card], intent: list[Card], entries: list[KnowledgeEntry], budget: int) -> Selection:
    cards_heading, knowledge_heading, separator = _fixed_costs()
    chosen_cards: list[Card] = []
    chosen_entries: list[KnowledgeEntry] = []
    used = 0
    reserve = entries[0].section_tokens + knowledge_heading + 2 * separator if entries else 0
    for tier, limit in ((urgent, budget), (intent, budget - reserve)):
        for card in tier:
            cost = card.section_tokens + separator + (0 if chosen_cards else cards_heading + separator)
            if used + cost <= limit:
                chosen_cards.append(card)
                used += cost
    for entry in entries:
        cost = entry.section_tokens + separator + (0 if chosen_entries else knowledge_heading + separator)
        if used + cost <= budget:
            chosen_entries.append(entry)
            used += cost
    text = render(chosen_cards, chosen_entries)
    measured = tokens.count(text)
    # BPE can merge across a join, so the sum of parts is an estimate; the measured total is the
    # contract. Drop the least urgent item until it holds (rare, and by a token or two).
    while measured > budget:
        if chosen_entries:
            chosen_entries.pop()
        else:
            chosen_cards.pop()
        text = render(chosen_cards, chosen_entries)
        measured = tokens.count(text)
    return Selection(cards=chosen_cards, knowledge=chosen_entries, tokens=measured, text=text)


def render(cards: Sequence[Card], entries: Sequence[KnowledgeEntry]) -> str:
    parts: list[str] = []
    if cards:
        parts.append(CARDS_HEADING)
        parts.extend(card.section for card in cards)
    if entries:
        parts.append(KNOWLEDGE_HEADING)
        parts.extend(entry.section for entry in entries)
    return SEPARATOR.join(parts)
