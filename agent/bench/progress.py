"""The live progress line of a benchmark run: exercise i/N, passes so far, ETA.

Each finished exercise prints a line that stays; on a terminal a transient line shows what is running
in between. (CI logs and files get only the finished lines.)
The ETA extrapolates from the exercises finished in this process, so a resumed run does not count the
exercises it found already done as instant.
"""

from __future__ import annotations

import time
from typing import TextIO

from agent.bench.results import ExerciseResult


class ProgressLine:
    def __init__(self, stream: TextIO, total: int, *, done: int = 0, passed: int = 0, graded: int = 0) -> None:
        self.stream = stream
        self.total = total
        self.done = done
        self.passed = passed
        self.graded = graded
        self._resumed = done
        self._started = time.monotonic()
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._transient = False  # the terminal's last line is a "running" line to be overwritten

    def started(self, key: str, running: int) -> None:
        """An exercise began: shown on a terminal only (a log would fill with these)."""
        if self._tty:
            more = f" (+{running - 1} more)" if running > 1 else ""
            self.stream.write(f"\r\x1b[2K{self.line(f'running {key}{more}')}")
            self.stream.flush()
            self._transient = True

    def finished(self, result: ExerciseResult) -> None:
        """An exercise ended: one line that stays."""
        self.done += 1
        if result.graded:
            self.graded += 1
            self.passed += result.passed
        note = f"{result.key} {result.status}"
        if result.status != "unavailable":
            note += f" in {result.duration_s:.0f} s"
        self.stream.write(("\r\x1b[2K" if self._tty else "") + self.line(note) + "\n")
        self.stream.flush()
        self._transient = False

    def line(self, note: str) -> str:
        rate = f" ({100 * self.passed / self.graded:.0f}%)" if self.graded else ""
        return (f"[bench] {self.done}/{self.total} | passed {self.passed}/{self.graded}{rate} | "
                f"ETA {self.eta()} | {note}")

    def eta(self) -> str:
        finished_here = self.done - self._resumed
        left = self.total - self.done
        if left <= 0:
            return "0:00"
        if finished_here <= 0:
            return "?"
        seconds = int((time.monotonic() - self._started) / finished_here * left)
        hours, rest = divmod(seconds, 3600)
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"

    def close(self) -> None:
        if self._transient:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._transient = False
