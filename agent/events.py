"""The event stream of a session: the only thing the outside world consumes.

CLI transcript, LSP progress and notifications, and benchmark results are all views of this stream.
Every event is a pydantic model with a `kind`; `SessionFinished` is the complete record of a run,
with a `Counters` object holding every observable the paper measures, so nobody re-derives them
from strings.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter, computed_field

Outcome = Literal["done", "turn_cap", "cancelled", "error", "stuck"]


class Usage(BaseModel):
    """Token usage. Server counts when the server reports them, tiktoken estimates otherwise."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens the server reused from its KV cache
    reasoning_tokens: int = 0
    calls: int = 0  # model requests made (retries included)
    estimated: bool = False  # True when any figure came from tiktoken rather than the server

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cached_tokens += other.cached_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.calls += other.calls
        self.estimated = self.estimated or other.estimated


class Counters(BaseModel):
    """Observables of one session (the benchmark's columns)."""

    write_guard_fires: int = 0
    thinking_budget_fires: int = 0
    repairs: int = 0  # tool calls recovered from text or from malformed native arguments
    corrections: int = 0  # corrective retries, all reasons
    corrections_by_reason: dict[str, int] = Field(default_factory=dict)
    cap_warnings: int = 0
    cap_hits: int = 0
    compactions: int = 0
    tool_errors: int = 0
    path_refusals: int = 0
    bash_refusals: int = 0
    text_tool_mode: bool = False
    discovery_hinted: bool = False
    guidance_tokens: int = 0  # GuidanceSelected.tokens summed over the session's requests


class _Event(BaseModel):
    session_id: str = ""


class SessionStarted(_Event):
    kind: Literal["session_started"] = "session_started"
    task: str
    workspace: str
    backend: str
    base_url: str
    model: str
    max_turns: int
    text_tools: bool = False
    prompt_version: str = ""  # agent.prompt.PROMPT_VERSION: which system prompt and tool schemas were sent
    prompt_layout: str = ""  # where the harness notes went (settings.prompt_layout)


class TurnStarted(_Event):
    kind: Literal["turn_started"] = "turn_started"
    turn: int
    cap: int


class TextDelta(_Event):
    kind: Literal["text_delta"] = "text_delta"
    text: str


class ReasoningDelta(_Event):
    kind: Literal["reasoning_delta"] = "reasoning_delta"
    text: str


ProgressPhase = Literal["waiting", "loading", "thinking", "writing"]
# A wait this long before the first byte is more likely a model being loaded than a prompt being read.
LOADING_GUESS_S = 5.0


class StreamProgress(_Event):
    """Where the model call in flight stands, at most every PROGRESS_INTERVAL_S (agent/model_call.py).

    `waiting`: no byte yet (the server loads the model or reads the prompt); `tokens` is 0. `thinking`:
    `tokens` of reasoning, counted by the thinking budget's own meter when it is metered (`budget` set).
    `writing`: `tokens` of answer and tool-call text since writing began. `text` says it in words, which
    every view shows as it is. A live view, never a record: transcripts and logs skip it.
    """

    kind: Literal["stream_progress"] = "stream_progress"
    turn: int
    phase: ProgressPhase
    tokens: int = 0
    budget: int | None = None  # the client-side thinking budget this call is metered against
    tokens_per_s: float | None = None  # over the current phase; None until it has run long enough to say
    elapsed: float  # seconds since the request was sent

    @computed_field  # type: ignore[prop-decorator]
    @property
    def text(self) -> str:
        """"thinking 812/2048", "writing 240 tok · 38 tok/s", "waiting for the model (loading?) 12 s"."""
        if self.phase == "loading":
            return f"loading the model {round(self.elapsed)} s"
        if self.phase == "waiting":
            guess = " (loading?)" if self.elapsed >= LOADING_GUESS_S else ""
            return f"waiting for the model{guess} {round(self.elapsed)} s"
        if self.phase == "thinking":
            words = f"thinking {self.tokens}/{self.budget}" if self.budget else f"thinking {self.tokens} tok"
        else:
            words = f"writing {self.tokens} tok"
        return words + (f" · {round(self.tokens_per_s)} tok/s" if self.tokens_per_s is not None else "")


class ToolCallStarted(_Event):
    kind: Literal["tool_call_started"] = "tool_call_started"
    call_id: str
    name: str
    arguments: dict[str, Any]
    turn: int


class ToolCallFinished(_Event):
    kind: Literal["tool_call_finished"] = "tool_call_finished"
    call_id: str
    name: str
    ok: bool
    summary: str  # one line for a progress UI
    path: str | None = None  # workspace-relative path the tool acted on, if any
    duration_s: float = 0.0


class TurnFinished(_Event):
    kind: Literal["turn_finished"] = "turn_finished"
    turn: int
    usage: Usage
    tool_calls: int


# --- budget events: one per firing of a small-model mechanism ------------------------------------


class ThinkingBudgetHit(_Event):
    kind: Literal["thinking_budget"] = "thinking_budget"
    turn: int
    tokens: int  # reasoning tokens counted when the stream was aborted
    budget: int
    kept_chars: int  # how much of the trace was re-injected for the retry
    native: bool = False  # the server enforced the budget itself


class WriteGuardFired(_Event):
    kind: Literal["write_guard"] = "write_guard"
    turn: int
    path: str


class ToolCallRepaired(_Event):
    kind: Literal["repair"] = "repair"
    turn: int
    name: str
    source: str  # "fenced", "tool_call_tag", "xml_function", "bare_json", "native_arguments"
    fixes: list[str] = Field(default_factory=list)  # which JSON repairs were needed


class GuidanceItem(BaseModel):
    name: str  # the card's name ("edit") or the knowledge entry's file name ("dates-times")
    tokens: int  # tiktoken count of its section (heading and body) as sent


class GuidanceSelected(_Event):
    """The skill cards and knowledge entries chosen for one model request, with what they cost."""

    kind: Literal["guidance"] = "guidance"
    turn: int
    # 1-based count of requests built in this session: a turn redone in text-tool mode is a new one; a
    # thinking-budget retry resends the same request, guidance included, and is not.
    call: int
    cards: list[GuidanceItem] = Field(default_factory=list)
    knowledge: list[GuidanceItem] = Field(default_factory=list)
    # Measured tokens of the whole block as sent: the items plus their headings and separators, so
    # slightly more than the items' sum.
    tokens: int
    budget: int  # the guidance budget the selection had to fit
    # Layout `kept`: the same note as the latest one in the conversation, so it was not sent again.
    unchanged: bool = False


class QualityCorrection(_Event):
    kind: Literal["correction"] = "correction"
    turn: int
    reason: str  # "empty", "unknown_tool", "repeated_call", "malformed_arguments"
    detail: str
    accepted: bool = False  # True when the correction cap was reached and the reply was accepted


class CapWarning(_Event):
    kind: Literal["cap_warning"] = "cap_warning"
    turn: int
    cap: int


class ContextCompacted(_Event):
    kind: Literal["compaction"] = "compaction"
    turn: int
    tokens_before: int
    tokens_after: int
    snipped_results: int
    dropped_messages: int


class Notice(_Event):
    """Something the user should know that is not a failure (e.g. text-tool mode chosen)."""

    kind: Literal["notice"] = "notice"
    message: str


class SessionFinished(_Event):
    kind: Literal["session_finished"] = "session_finished"
    outcome: Outcome
    message: str = ""
    turns: int
    usage: Usage
    tool_counts: dict[str, int]
    counters: Counters
    changed_files: list[str] = Field(default_factory=list)
    duration_s: float
    model: str
    final_text: str = ""


BUDGET_KINDS = frozenset(
    {"thinking_budget", "write_guard", "repair", "correction", "cap_warning", "compaction"}
)

Event = Annotated[
    Union[
        SessionStarted,
        TurnStarted,
        TextDelta,
        ReasoningDelta,
        StreamProgress,
        ToolCallStarted,
        ToolCallFinished,
        TurnFinished,
        ThinkingBudgetHit,
        WriteGuardFired,
        ToolCallRepaired,
        GuidanceSelected,
        QualityCorrection,
        CapWarning,
        ContextCompacted,
        Notice,
        SessionFinished,
    ],
    Field(discriminator="kind"),
]

event_adapter: TypeAdapter[Event] = TypeAdapter(Event)


def describe(event: _Event) -> str | None:
    """A short human sentence for budget events, notices and guidance (progress UIs, transcripts)."""
    match event:
        case ThinkingBudgetHit(budget=b, native=True):
            return f"thinking budget {b} reached (server-enforced)"
        case ThinkingBudgetHit(budget=b):
            return f"thinking budget {b} reached → retrying without thinking"
        case WriteGuardFired(path=p):
            return f"write guard: Write refused on {p} → Edit"
        case ToolCallRepaired(name=n, source=s):
            return f"repaired a malformed tool call ({n}, {s.replace('_', ' ')})"
        case QualityCorrection(reason=r, accepted=True):
            return f"accepted after corrections: {r.replace('_', ' ')}"
        case QualityCorrection(reason=r):
            return f"corrected: {r.replace('_', ' ')}"
        case CapWarning(turn=t, cap=c):
            return f"turn {t}/{c}: asked the model to finish"
        case ContextCompacted(tokens_before=a, tokens_after=b):
            return f"context compacted {a} → {b} tokens"
        case Notice(message=m):
            return m
        case GuidanceSelected(cards=cards, knowledge=knowledge, tokens=total) if cards or knowledge:
            items = [f"{c.name} card {c.tokens} tok" for c in cards]
            items += [f"knowledge {k.name} {k.tokens} tok" for k in knowledge]
            kept = " (unchanged: not sent again)" if event.unchanged else ""
            return f"guidance: {', '.join(items)} = {total} tok{kept}"
    return None
