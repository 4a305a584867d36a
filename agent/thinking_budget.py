"""Thinking-budget primitives: split `<think>` reasoning out of content, count it, cut it, retry.

Both classes are synchronous and do no I/O: the session feeds them every streamed delta and owns one
of each per model request, so nothing leaks between requests or sessions (the original's
module-level flags did, SCAFFOLD.md §3 and §11.3).
"""

from __future__ import annotations

from typing import Literal

from agent import tokens
from agent.messages import AssistantMessage, Message, UserMessage

Kind = Literal["reasoning", "text"]
Piece = tuple[Kind, str]

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


class ThinkTagSplitter:
    """Splits a content stream into ('reasoning', text) and ('text', text) pieces.

    For servers that put reasoning inside the content as `<think>…</think>`. Tags may be split across
    chunks (`<thi` + `nk>`): a chunk tail that could still become a tag is held back until the next
    chunk decides it. The reasoning may never close; `flush()` then hands back what is left.

    Some chat templates write the opening tag into the prompt, so the reply starts inside the
    reasoning and only `</think>` appears. With `assume_open=True` the stream starts in reasoning
    (a redundant leading `<think>` is dropped); with `assume_open=False` text before a stray
    `</think>` stays text, because it has already been streamed out as such, and the stray tag is
    dropped. Whitespace directly after a tag (and at the very start) is dropped: templates put
    newlines there and they would otherwise lead the answer.
    """

    def __init__(self, assume_open: bool = False) -> None:
        self._assume_open = assume_open
        self._reset()

    def _reset(self) -> None:
        self._thinking = self._assume_open
        self._pending = ""  # a chunk tail that may be the start of a tag
        self._fresh = True  # at the start of the stream or right after a tag

    @property
    def in_reasoning(self) -> bool:
        """True while the stream is inside a reasoning block (an unclosed block at the end)."""
        return self._thinking

    def feed(self, text: str) -> list[Piece]:
        out: list[Piece] = []
        buf = self._pending + text
        self._pending = ""
        while buf:
            if self._fresh:
                buf = buf.lstrip()
                if not buf:
                    break
                if self._thinking:
                    if buf.startswith(OPEN_TAG):
                        buf = buf[len(OPEN_TAG) :]
                        continue
                    if OPEN_TAG.startswith(buf):
                        self._pending = buf
                        break
                self._fresh = False
            kind: Kind = "reasoning" if self._thinking else "text"
            tags = (CLOSE_TAG,) if self._thinking else (OPEN_TAG, CLOSE_TAG)
            found = _first_tag(buf, tags)
            if found is None:
                hold = _partial_tag_suffix(buf, tags)
                _emit(out, kind, buf[: len(buf) - hold])
                self._pending = buf[len(buf) - hold :]
                break
            index, tag = found
            _emit(out, kind, buf[:index])
            buf = buf[index + len(tag) :]
            self._thinking = tag == OPEN_TAG
            self._fresh = True
        return out

    def flush(self) -> list[Piece]:
        """End of stream: a held-back partial tag never completed, so it is literal text.

        Resets the splitter to its initial state.
        """
        out: list[Piece] = []
        _emit(out, "reasoning" if self._thinking else "text", self._pending)
        self._reset()
        return out


def _first_tag(buf: str, tags: tuple[str, ...]) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    for tag in tags:
        index = buf.find(tag)
        if index >= 0 and (best is None or index < best[0]):
            best = (index, tag)
    return best


def _partial_tag_suffix(buf: str, tags: tuple[str, ...]) -> int:
    """Length of the longest tail of `buf` that is a proper prefix of one of `tags`."""
    for size in range(min(len(buf), max(len(t) for t in tags) - 1), 0, -1):
        if any(tag.startswith(buf[-size:]) for tag in tags):
            return size
    return 0


def _emit(out: list[Piece], kind: Kind, text: str) -> None:
    if not text:
        return
    if out and out[-1][0] == kind:
        out[-1] = (kind, out[-1][1] + text)
    else:
        out.append((kind, text))


class ThinkingBudget:
    """Counts the reasoning of one model request and says when it has run past the budget.

    `budget` is in o200k_base tokens (agent.tokens), counted over the reasoning as one text
    (`tokens.RunningCount`), so the count does not depend on how the server chunks its stream. The
    delta that crosses the budget is consumed only up to its first token past the budget, so the
    overshoot is one token whether the server streams single characters or one large chunk.
    """

    def __init__(self, budget: int) -> None:
        if budget <= 0:
            # Zero means "thinking disabled": the session sends no thinking and needs no counter.
            raise ValueError(f"thinking budget must be positive, got {budget}")
        self.budget = budget
        self._count = tokens.RunningCount()
        self._tokens = 0
        self._parts: list[str] = []
        self._exceeded = False

    @property
    def tokens(self) -> int:
        """Reasoning tokens so far (exact; at the cut, budget + 1)."""
        return self._tokens if self._exceeded else self._count.count()

    @property
    def exceeded(self) -> bool:
        return self._exceeded

    @property
    def overshoot(self) -> int:
        """Tokens consumed past the budget (0 until the budget is exceeded)."""
        return max(0, self.tokens - self.budget)

    @property
    def trace(self) -> str:
        """The reasoning kept so far: everything up to and including the token that crossed the budget."""
        return "".join(self._parts)

    def feed(self, text: str) -> bool:
        """Add a reasoning delta; True once the budget is exceeded (later deltas are ignored)."""
        if self._exceeded:
            return True
        if not text:
            return False
        settled_tokens, settled_chars = self._count.settled_tokens, self._count.settled_chars
        self._count.feed(text)
        self._parts.append(text)
        if not self._count.exceeds(self.budget):
            return False
        # The cut lies past what was settled before this delta (this delta may have settled beyond it).
        fed = "".join(self._parts)
        room = self.budget - settled_tokens
        self._parts = [fed[:settled_chars] + tokens.head(fed[settled_chars:], room + 1)]
        self._tokens = self.budget + 1
        self._exceeded = True
        return True

    def retry_messages(self, tail_chars: int = 2000) -> list[Message]:
        """Messages for the retried request (not for history): the trace's tail, then the order to commit.

        The tail is presented as the model's own unfinished notes so that the retry, which runs
        without thinking, continues from them instead of starting its deliberation over.
        """
        tail = _tail_at_boundary(self.trace, tail_chars)
        messages: list[Message] = []
        if tail:
            lead = "My notes so far (cut off before I finished):"
            cut = "…" if len(tail) < len(self.trace.strip()) else ""
            messages.append(AssistantMessage(content=f"{lead}\n\n{cut}{tail}"))
        messages.append(UserMessage(content=_COMMIT_INSTRUCTION, origin="thinking_retry"))
        return messages


_COMMIT_INSTRUCTION = (
    "You have used up your thinking budget for this step, so stop deliberating now. "
    "Commit to the next action: make the tool call your notes lead to, or, if the task is "
    "finished, give your final answer. Do not plan any further."
)


def _tail_at_boundary(trace: str, limit: int) -> str:
    """About the last `limit` characters of `trace`, starting at a line or word boundary."""
    text = trace.strip()
    if len(text) <= limit:
        return text
    tail = text[-limit:]
    # Prefer a line break near the front of the tail; else a space; never give up more than a quarter.
    window = tail[: max(1, limit // 4)]
    for sep in ("\n", " "):
        index = window.find(sep)
        if index >= 0:
            return tail[index + 1 :].strip()
    return tail
