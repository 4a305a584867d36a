"""What the user sees of a running session: agent events → `$/progress`, `littleCoder/event`, the log.

Per session (spec: https://microsoft.github.io/language-server-protocol/specifications/lsp/3.17/specification/#workDoneProgress):

- one cancellable work-done progress, created only when the client supports it: begin with the
  session's title, a report per turn and per tool call ("turn 3/20 · Edit src/leap.py", percentage =
  turn / cap), one per stream progress event ("turn 1/20 · thinking 812/2048", already throttled by
  agent.model_call), one per budget event in `agent.events.describe`'s words, and an end with the result;
- every event as a `littleCoder/event` notification `{"sessionId", "event"}`. Text and reasoning
  deltas are merged and sent at most every 100 ms, so a fast stream cannot flood the client;
- a readable transcript (agent.transcript) as `window/logMessage`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer

from agent.events import (
    BUDGET_KINDS,
    Event,
    Notice,
    ReasoningDelta,
    StreamProgress,
    TextDelta,
    ToolCallStarted,
    TurnStarted,
    _Event,
    describe,
)
from agent.transcript import Transcript

log = logging.getLogger(__name__)

EVENT_NOTIFICATION = "littleCoder/event"
DELTA_INTERVAL_S = 0.1
_TARGET_KEYS = ("file_path", "path", "pattern", "command")
_TARGET_CHARS = 60


class DeltaBatcher:
    """Merges consecutive text/reasoning deltas and hands them on at most every `interval` seconds.
    Order is kept: a change of kind starts a new piece, and `flush()` sends everything pending."""

    def __init__(self, send: Callable[[_Event], None], session_id: str, interval: float = DELTA_INTERVAL_S) -> None:
        self._send = send
        self._session_id = session_id
        self._interval = interval
        self._pending: list[tuple[type[TextDelta | ReasoningDelta], str]] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, delta: TextDelta | ReasoningDelta) -> None:
        kind = type(delta)
        if self._pending and self._pending[-1][0] is kind:
            self._pending[-1] = (kind, self._pending[-1][1] + delta.text)
        else:
            self._pending.append((kind, delta.text))
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, []
        for kind, text in pending:
            self._send(kind(session_id=self._session_id, text=text))


class SessionReporter:
    """Reports one session to the client. Create it, `await start()`, feed `event()`, then `end()`."""

    def __init__(self, ls: LanguageServer, session_id: str, title: str) -> None:
        self._ls = ls
        self.session_id = session_id
        self.title = title
        self.token: str | None = None
        self._turn = 0
        self._cap = 0
        self._ended = False
        self.last_report = ""  # the progress line last sent, for hover
        self._transcript = Transcript()
        # Deltas reach the notification and the log only in merged batches.
        self._batcher = DeltaBatcher(self._publish, session_id)

    @property
    def turn(self) -> int:
        return self._turn

    @property
    def cap(self) -> int:
        return self._cap

    @property
    def supports_progress(self) -> bool:
        return bool(get_capability(self._ls.client_capabilities, "window.work_done_progress", False))

    async def start(self, on_cancel: Callable[[], object]) -> None:
        """Open the progress (when the client has it); `on_cancel` runs when the user cancels it."""
        self.log(f"started: {self.title}")
        if not self.supports_progress:
            return
        token = f"littleCoder/{self.session_id}"
        progress = self._ls.work_done_progress
        try:
            await progress.create_async(token)
        except Exception as exc:  # a client may refuse; the session runs without a progress bar
            log.warning("window/workDoneProgress/create failed: %s", exc)
            return
        self.token = token
        progress.begin(
            token,
            types.WorkDoneProgressBegin(title=f"little-coder: {self.title}", cancellable=True, percentage=0),
        )
        progress.tokens[token].add_done_callback(lambda future: on_cancel() if future.cancelled() else None)

    def event(self, event: Event) -> None:
        if isinstance(event, (TextDelta, ReasoningDelta)):
            self._batcher.add(event)
            return
        if isinstance(event, StreamProgress):
            # A live view beside the deltas, not between them: it must not split their batches.
            self._notify(event)
            self._progress_for(event)
            return
        self._batcher.flush()
        self._publish(event)
        self._progress_for(event)

    def report(self, message: str) -> None:
        self.last_report = message
        if self.token is None or self._ended:
            return
        self._ls.work_done_progress.report(
            self.token, types.WorkDoneProgressReport(message=message, percentage=self._percentage())
        )

    def end(self, message: str) -> None:
        """Close the progress; safe to call more than once (only the first counts)."""
        self._batcher.flush()
        lines = self._transcript.flush()
        if lines:
            self.log("\n".join(lines))
        if self._ended:
            return
        self._ended = True
        if self.token is not None:
            self._ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))

    def log(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        text = "\n".join(f"[{self.session_id}] {line}" for line in message.split("\n"))
        self._ls.window_log_message(types.LogMessageParams(type=kind, message=text))

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self._ls.window_show_message(types.ShowMessageParams(type=kind, message=message))

    # --- internals ------------------------------------------------------------------------------

    def _publish(self, event: _Event) -> None:
        self._notify(event)
        lines = self._transcript.lines(event)
        if lines:
            self.log("\n".join(lines))

    def _notify(self, event: _Event) -> None:
        self._ls.protocol.notify(
            EVENT_NOTIFICATION, {"sessionId": self.session_id, "event": event.model_dump(mode="json")}
        )

    def _progress_for(self, event: _Event) -> None:
        if isinstance(event, TurnStarted):
            self._turn, self._cap = event.turn, event.cap
            self.report(self._turn_text())
        elif isinstance(event, ToolCallStarted):
            target = tool_target(event.arguments)
            self.report(f"{self._turn_text()} · {event.name}" + (f" {target}" if target else ""))
        elif isinstance(event, StreamProgress):
            self.report(f"{self._turn_text()} · {event.text}")
        elif getattr(event, "kind", "") in BUDGET_KINDS or isinstance(event, Notice):
            text = describe(event)
            if text:
                self.report(text)

    def _turn_text(self) -> str:
        return f"turn {self._turn}/{self._cap}"

    def _percentage(self) -> int | None:
        if not self._cap:
            return None
        return max(0, min(100, round(100 * self._turn / self._cap)))


def tool_target(arguments: dict[str, object]) -> str:
    """What a tool call acts on, short enough for a progress line."""
    for key in _TARGET_KEYS:
        value = arguments.get(key)
        if isinstance(value, str) and value.strip():
            text = " ".join(value.split())
            return text if len(text) <= _TARGET_CHARS else text[: _TARGET_CHARS - 1] + "…"
    return ""


def change_summary(files: int, added: int, removed: int) -> str:
    """"3 files, +40 −5" — the end-of-session line."""
    noun = "file" if files == 1 else "files"
    return f"{files} {noun}, +{added} −{removed}"
