"""Context accounting with tiktoken, and compaction only when the next request would not fit.

The original estimated with chars/3.5, measured against a 128K limit on Ollama (so it never fired
before the 32K window truncated silently), ignored tool schemas and call arguments, and pruned the
history destructively every turn, orphaning tool results and invalidating the server's KV cache
(SCAFFOLD §7, §11.1–11.2). Here:

- every message, call argument and tool schema is counted with tiktoken, plus a small per-message
  overhead for the chat template; server-reported prompt sizes calibrate the estimate;
- while the request fits under `limit - reserve` the history is returned untouched, so the prompt
  stays append-only and the server reuses its cache;
- when it would overflow, superseded harness notes go first, then old long tool results are
  snipped; if that is not enough, the oldest turn groups (an assistant message with all its tool
  results) are replaced by one deterministic summary message. Compaction aims well below the limit
  so that it happens rarely.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard

from agent import tokens
from agent.fence import unfence
from agent.messages import AssistantMessage, Message, ToolMessage, UserMessage, is_note, message_text
from agent.providers.base import ToolSpec

# Chat templates wrap each message in role markers (about 4–5 tokens for ChatML-style templates),
# each call in a tool-call envelope and each schema in a function envelope.
MESSAGE_OVERHEAD = 5
CALL_OVERHEAD = 8
SPEC_OVERHEAD = 10

# Snipping (the original's numbers): results outside the last 6 messages and over 2,000 characters
# keep their first 1,000 and last 500 characters.
KEEP_RECENT = 6
SNIP_OVER = 2000
SNIP_HEAD = 1000
SNIP_TAIL = 500

# After compacting, aim for this share of the budget, so the next compaction is many turns away.
TARGET_SHARE = 0.6

# Server counts far below the estimate usually cover only the uncached part of the prompt (Ollama
# reports evaluated tokens); outside this band an observation is ignored rather than trusted.
_RATIO_BAND = (0.5, 2.5)
_MIN_CALIBRATION_TOKENS = 64  # tiny prompts are dominated by template tokens
_SMOOTHING = 0.5

# The compaction summary lists at most this many steps (the newest); older ones are only counted.
MAX_SUMMARY_STEPS = 30
_ARG_CHARS = 120
_ERROR_LINES = 3
_ERROR_LINE_CHARS = 200

COMPACTION_ORIGIN = "compaction"
_STEPS_HEADER = "Steps taken so far:"
_FILES_PREFIX = "Files written or edited: "
_ERROR_HEADER = "Last error"
_OMITTED = "- ({} earlier steps not listed)"
_OMITTED_LINE = re.compile(r"- \((\d+) earlier steps not listed\)")
_NO_STEPS = "- (no tool calls)"
# Argument names that best say what a call was about, most telling first.
_MAIN_ARGS = ("file_path", "path", "command", "pattern", "query", "url")
_WRITING_TOOLS = frozenset({"write", "edit", "multiedit"})


@dataclass(frozen=True)
class FitResult:
    history: list[Message]
    compacted: bool
    tokens_before: int
    tokens_after: int
    snipped_results: int
    dropped_messages: int
    # True when even the smallest history (task, summary, newest turn) exceeds the budget.
    overflow: bool = False


class ContextAccountant:
    """Token accounting for one session. Not shared: its caches hold that session's messages."""

    def __init__(self, limit: int, reserve: int) -> None:
        if limit <= 0 or reserve < 0 or reserve >= limit:
            raise ValueError(f"need 0 <= reserve < limit (limit={limit}, reserve={reserve})")
        self.limit = limit
        self.reserve = reserve
        self.ratio = 1.0
        self._calibrated = False
        # id(message) -> (message, raw count). Holding the message keeps its id from being reused.
        self._message_counts: dict[int, tuple[Message, int]] = {}
        self._text_counts: dict[str, int] = {}

    @property
    def budget(self) -> int:
        return self.limit - self.reserve

    # --- measuring -----------------------------------------------------------------------------

    def _raw_message(self, message: Message) -> int:
        cached = self._message_counts.get(id(message))
        if cached is not None and cached[0] is message:
            return cached[1]
        count = tokens.count(message_text(message)) + MESSAGE_OVERHEAD
        if isinstance(message, AssistantMessage):
            count += CALL_OVERHEAD * len(message.tool_calls)
        self._message_counts[id(message)] = (message, count)
        return count

    def _raw_text(self, text: str) -> int:
        count = self._text_counts.get(text)
        if count is None:
            count = tokens.count(text)
            if len(self._text_counts) > 64:  # system prompts and schemas rarely change; stay small
                self._text_counts.clear()
            self._text_counts[text] = count
        return count

    def _raw_specs(self, specs: Sequence[ToolSpec]) -> int:
        return sum(self._raw_text(spec.model_dump_json()) + SPEC_OVERHEAD for spec in specs)

    def _prune_cache(self, live: Sequence[Message]) -> None:
        # Called by `fit`, which sees the whole history: snipped and dropped messages (and summaries
        # that lost out) would otherwise stay cached for the whole session.
        if len(self._message_counts) > 2 * len(live) + 64:
            keep = {id(m) for m in live}
            self._message_counts = {k: v for k, v in self._message_counts.items() if k in keep}

    def _scaled(self, raw: int) -> int:
        return math.ceil(raw * self.ratio)

    def measure(self, messages: Sequence[Message], specs: Sequence[ToolSpec]) -> int:
        """Estimated prompt tokens of these messages and tool schemas (calibrated)."""
        raw = sum(self._raw_message(m) for m in messages) + self._raw_specs(specs)
        return self._scaled(raw)

    def calibrate(self, estimated: int, server_prompt_tokens: int) -> None:
        """Learn from the server's real prompt size for a request this accountant estimated.

        `estimated` is what `measure` (or `fit`) returned for that request.
        """
        raw = estimated / self.ratio
        if raw < _MIN_CALIBRATION_TOKENS or server_prompt_tokens <= 0:
            return
        observed = server_prompt_tokens / raw
        if not _RATIO_BAND[0] <= observed <= _RATIO_BAND[1]:
            return
        if self._calibrated:
            self.ratio += _SMOOTHING * (observed - self.ratio)
        else:
            self.ratio = observed
            self._calibrated = True

    # --- fitting -------------------------------------------------------------------------------

    def fit(
        self,
        history: list[Message],
        *,
        system: str,
        specs: Sequence[ToolSpec],
        guidance: str | None,
        turn: int,
    ) -> FitResult:
        """The history to send next: `history` itself while it fits, a compacted copy otherwise.

        `history` holds everything after the system prompt (task first); `guidance` is the per-turn
        block the prompt builder adds near the tail. Only `history` is ever shortened.
        """
        fixed = self._raw_text(system) + MESSAGE_OVERHEAD + self._raw_specs(specs)
        if guidance:
            fixed += self._raw_text(guidance) + MESSAGE_OVERHEAD
        counts = [self._raw_message(m) for m in history]
        before = self._scaled(fixed + sum(counts))
        if before <= self.budget:
            self._prune_cache(history)
            return FitResult(list(history), False, before, before, 0, 0)

        target = int(self.budget * TARGET_SHARE)
        raw_total = fixed + sum(counts)

        # 1. Superseded harness notes go first: reference material for steps already taken.
        newest_note = max((i for i, m in enumerate(history) if is_note(m)), default=-1)
        superseded = {i for i, m in enumerate(history) if is_note(m) and i != newest_note}
        work = [m for i, m in enumerate(history) if i not in superseded] if superseded else list(history)
        counts = [c for i, c in enumerate(counts) if i not in superseded] if superseded else counts
        raw_total = fixed + sum(counts)

        # 2. Snip old long tool results, oldest first.
        snipped: set[int] = set()  # ids of the shortened copies
        for i in range(max(0, len(work) - KEEP_RECENT)):
            if self._scaled(raw_total) <= target:
                break
            message = work[i]
            if _snippable(message):
                work[i] = _snip(message)
                raw_total -= counts[i]
                counts[i] = self._raw_message(work[i])
                raw_total += counts[i]
                snipped.add(id(work[i]))
        total = self._scaled(raw_total)

        # 3. Replace the oldest turn groups with a summary.
        dropped = 0
        if total > target:
            work, counts, dropped, total = self._drop_groups(work, counts, fixed, target, turn)

        overflow = False
        if total > self.budget:
            # Nothing more may be dropped: shrink what is left as far as snipping goes, even recent.
            for i, message in enumerate(work):
                if _snippable(message):
                    work[i] = _snip(message)
                    counts[i] = self._raw_message(work[i])
                    snipped.add(id(work[i]))
            total = self._scaled(fixed + sum(counts))
            overflow = total > self.budget

        self._prune_cache(work)
        # Only results still in the history count: snipped ones that were then dropped do not.
        kept_snipped = sum(1 for m in work if id(m) in snipped)
        return FitResult(work, True, before, total, kept_snipped, dropped + len(superseded), overflow)

    def _drop_groups(
        self, work: list[Message], counts: list[int], fixed: int, target: int, turn: int
    ) -> tuple[list[Message], list[int], int, int]:
        """Replace the fewest oldest turn groups by one summary that brings the total to `target`;
        all but the newest group when nothing less will do."""
        head = _task_end(work)
        groups = _groups(work, head)
        # The newest group is never dropped: it holds the calls the model is waiting on.
        if len(groups) < 2:
            return work, counts, 0, self._scaled(fixed + sum(counts))
        pinned = fixed + sum(counts[:head])
        suffix = [0] * (len(work) + 1)
        for i in range(len(work) - 1, -1, -1):
            suffix[i] = suffix[i + 1] + counts[i]
        n = 0
        while True:
            n += 1
            cut = groups[n][0]
            last = n == len(groups) - 1
            if not last and self._scaled(pinned + suffix[cut]) > target:
                continue  # too big even before the summary is added: drop more first
            removed = work[head:cut]
            summary = UserMessage(content=_summarise(removed, turn), origin=COMPACTION_ORIGIN)
            summary_count = self._raw_message(summary)
            total = self._scaled(pinned + summary_count + suffix[cut])
            if total <= target or last:
                dropped = sum(1 for m in removed if not _is_summary(m))
                return (
                    [*work[:head], summary, *work[cut:]],
                    [*counts[:head], summary_count, *counts[cut:]],
                    dropped,
                    total,
                )


# --- history structure ---------------------------------------------------------------------------


def _task_end(history: Sequence[Message]) -> int:
    """Index just past the first user message (the task): everything before it is pinned."""
    for i, message in enumerate(history):
        if isinstance(message, UserMessage):
            return i + 1
    return 0


def _groups(history: Sequence[Message], start: int) -> list[tuple[int, int]]:
    """[start, end) spans after the task: each assistant message with everything that follows it up
    to the next assistant message (its tool results, corrections); messages before the first
    assistant form a leading group of their own (e.g. an earlier compaction summary)."""
    spans: list[tuple[int, int]] = []
    begin = start
    for i in range(start, len(history)):
        if isinstance(history[i], AssistantMessage) and i > begin:
            spans.append((begin, i))
            begin = i
    if begin < len(history):
        spans.append((begin, len(history)))
    return spans


def _snippable(message: Message) -> TypeGuard[ToolMessage]:
    return isinstance(message, ToolMessage) and len(message.content) > SNIP_OVER


def _snip(message: ToolMessage) -> ToolMessage:
    text = message.content
    cut = len(text) - SNIP_HEAD - SNIP_TAIL
    marker = f"\n[... {cut} characters of this older result removed to save context ...]\n"
    return message.model_copy(update={"content": text[:SNIP_HEAD] + marker + text[-SNIP_TAIL:]})


def _is_summary(message: Message) -> TypeGuard[UserMessage]:
    return isinstance(message, UserMessage) and message.origin == COMPACTION_ORIGIN


# --- the summary ---------------------------------------------------------------------------------


@dataclass
class _Digest:
    steps: list[str]
    omitted: int
    files: list[str]
    error_tool: str
    error_lines: list[str]


def _main_argument(arguments: dict[str, object]) -> str:
    value: object = None
    for key in _MAIN_ARGS:
        if isinstance(arguments.get(key), str):
            value = arguments[key]
            break
    if value is None:
        value = next((v for v in arguments.values() if isinstance(v, str)), "")
    text = " ".join(str(value).split())
    return text if len(text) <= _ARG_CHARS else text[: _ARG_CHARS - 1] + "…"


def _error_tail(text: str) -> list[str]:
    lines = [line.rstrip() for line in unfence(text).splitlines() if line.strip()]
    return [line[:_ERROR_LINE_CHARS] for line in lines[-_ERROR_LINES:]]


def _read_previous(summary: str, digest: _Digest) -> None:
    """Carry an earlier summary's steps, files and error into the new one (we wrote its format)."""
    section = ""
    for line in summary.splitlines():
        if line == _STEPS_HEADER:
            section = "steps"
        elif line.startswith(_FILES_PREFIX):
            for path in line[len(_FILES_PREFIX) :].split(", "):
                if path and path not in digest.files:
                    digest.files.append(path)
            section = ""
        elif line.startswith(_ERROR_HEADER):
            section = "error"
            digest.error_tool = line[len(_ERROR_HEADER) :].strip(" ():")
            digest.error_lines = []
        elif section == "steps" and (omitted := _OMITTED_LINE.fullmatch(line)):
            digest.omitted += int(omitted.group(1))
        elif section == "steps" and line.startswith("- ") and line != _NO_STEPS:
            digest.steps.append(line[2:])
        elif section == "error" and line.startswith("  "):
            digest.error_lines.append(line[2:])
        else:
            section = ""


def _digest(removed: Sequence[Message]) -> _Digest:
    digest = _Digest(steps=[], omitted=0, files=[], error_tool="", error_lines=[])
    results = {m.tool_call_id: m for m in removed if isinstance(m, ToolMessage)}
    for message in removed:
        if _is_summary(message):
            _read_previous(message.content, digest)
        elif isinstance(message, AssistantMessage):
            for call in message.tool_calls:
                argument = _main_argument(call.arguments)
                step = f"{call.name} {argument}".rstrip()
                result = results.get(call.id)
                if call.raw_arguments is not None:
                    step += " (arguments were not valid JSON)"
                elif result is None:
                    step += " (no result)"
                elif result.is_error:
                    last = _error_tail(result.content)
                    step += f" → error: {last[-1]}" if last else " → error"
                elif call.name.lower() in _WRITING_TOOLS and argument and argument not in digest.files:
                    digest.files.append(argument)
                digest.steps.append(step)
        elif isinstance(message, ToolMessage) and message.is_error:
            digest.error_tool = message.name
            digest.error_lines = _error_tail(message.content)
        elif isinstance(message, UserMessage) and message.origin in ("task", "revise", "retry_feedback"):
            first = " ".join(message.content.split())[:_ARG_CHARS]
            digest.steps.append(f"(new instruction) {first}")
    if len(digest.steps) > MAX_SUMMARY_STEPS:
        digest.omitted += len(digest.steps) - MAX_SUMMARY_STEPS
        digest.steps = digest.steps[-MAX_SUMMARY_STEPS:]
    return digest


def _summarise(removed: Sequence[Message], turn: int) -> str:
    digest = _digest(removed)
    count = sum(1 for m in removed if not _is_summary(m))
    lines = [
        (
            f"[Context note, turn {turn}] Earlier messages of this session were removed to fit the "
            f"context window ({count} more just now). This is what they did:"
        ),
        _STEPS_HEADER,
    ]
    if digest.omitted:
        lines.append(_OMITTED.format(digest.omitted))
    lines.extend(f"- {step}" for step in digest.steps)
    if not digest.steps and not digest.omitted:
        lines.append(_NO_STEPS)
    if digest.files:
        lines.append(_FILES_PREFIX + ", ".join(digest.files))
    if digest.error_lines:
        lines.append(f"{_ERROR_HEADER} ({digest.error_tool}):")
        lines.extend(f"  {line}" for line in digest.error_lines)
    lines.append("The workspace already holds those changes; read a file again before editing it.")
    return "\n".join(lines)
