"""The live progress line of a benchmark run: exercise i/N, passes so far, ETA.

On a terminal the line is redrawn in place; otherwise (CI logs, files) each update is its own line.
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
        self._drawn = False

    def started(self, key: str, running: int) -> None:
        self._draw(f"running {key}" + (f" (+{running - 1} more)" if running > 1 else ""))

    def finished(self, result: ExerciseResult) -> None:
        self.done += 1
        if result.graded:
            self.graded += 1
            self.passed += result.passed
        self._draw(f"{result.key} {result.status}")

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
        if self._tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, note: str) -> None:
        text = self.line(note)
        if self._tty:
            self.stream.write("\r\x1b[2K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._drawn = True
