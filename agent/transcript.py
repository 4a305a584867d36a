"""A readable transcript of a session's events: the CLI prints it to stderr, the language server sends it
as window/logMessage. Text and reasoning deltas are buffered into whole lines so a log stays readable.
"""

from __future__ import annotations

import json

from agent.events import (
    BUDGET_KINDS,
    GuidanceSelected,
    Notice,
    ReasoningDelta,
    SessionFinished,
    SessionStarted,
    StreamProgress,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnStarted,
    _Event,
    describe,
)

_ARG_PREVIEW = 120


class Transcript:
    """Turns events into complete lines. `show_reasoning` includes the model's thinking (dimmed by
    the caller if it likes)."""

    def __init__(self, *, show_reasoning: bool = False) -> None:
        self.show_reasoning = show_reasoning
        self._pending: dict[str, str] = {"text": "", "reasoning": ""}

    def lines(self, event: _Event) -> list[str]:
        if isinstance(event, TextDelta):
            return self._buffer("text", event.text)
        if isinstance(event, ReasoningDelta):
            return self._buffer("reasoning", event.text) if self.show_reasoning else []
        if isinstance(event, StreamProgress):
            return []  # a live view: a line per update would bury the log, and must not break a line either
        out = self.flush()
        match event:
            case SessionStarted():
                out.append(f"little-coder · {event.model} on {event.backend} ({event.base_url})"
                           + (" · text tool calls" if event.text_tools else ""))
                out.append(f"workspace {event.workspace}")
            case TurnStarted():
                out.append(f"── turn {event.turn}/{event.cap}")
            case ToolCallStarted():
                out.append(f"→ {event.name} {_preview(event.arguments)}")
            case ToolCallFinished():
                out.append(f"{'✓' if event.ok else '✗'} {event.summary}")
            case SessionFinished():
                out.append(finished_line(event))
            case Notice():
                out.append(f"! {event.message}")
            case GuidanceSelected():
                text = describe(event)  # None when nothing was selected: no line
                if text:
                    out.append(f"  {text}")
            case _ if getattr(event, "kind", "") in BUDGET_KINDS:
                text = describe(event)
                if text:
                    out.append(f"! {text}")
        return out

    def flush(self) -> list[str]:
        out = []
        for kind, text in self._pending.items():
            if text.strip():
                out.append(_prefix(kind) + text.rstrip())
            self._pending[kind] = ""
        return out

    def _buffer(self, kind: str, text: str) -> list[str]:
        data = self._pending[kind] + text
        *complete, rest = data.split("\n")
        self._pending[kind] = rest
        return [_prefix(kind) + line for line in complete if line.strip()]


def finished_line(event: SessionFinished) -> str:
    c = event.counters
    parts = [f"{event.outcome} after {event.turns} turns in {event.duration_s:.1f}s"]
    if event.message:
        parts.append(event.message)
    if event.changed_files:
        parts.append(f"changed: {', '.join(event.changed_files)}")
    fired = {
        "write guard": c.write_guard_fires,
        "thinking budget": c.thinking_budget_fires,
        "repairs": c.repairs,
        "corrections": c.corrections,
        "compactions": c.compactions,
    }
    shown = ", ".join(f"{k} {v}" for k, v in fired.items() if v)
    if shown:
        parts.append(shown)
    return "■ " + " · ".join(parts)


def _prefix(kind: str) -> str:
    return "  " if kind == "text" else "  (thinking) "


def _preview(arguments: dict[str, object]) -> str:
    text = json.dumps(arguments, ensure_ascii=False)
    return text if len(text) <= _ARG_PREVIEW else text[: _ARG_PREVIEW - 1] + "…"
