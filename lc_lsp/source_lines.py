"""A document's lines for the target readers: where each starts and ends, in str offsets and in the UTF-8
byte offsets tree-sitter counts in, and the conversions between the two.

Built from the `LineIndex` the language server already holds, so a version's lines are found once.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from lc_lsp.ranges import LineIndex, line_bounds


class SourceLines:
    """Where each line starts and ends, in str offsets (the `LineIndex`'s) and, when given the bytes, in
    UTF-8 offsets."""

    def __init__(self, index: LineIndex, data: bytes | None = None) -> None:
        self.text = index.text
        self.starts: Sequence[int] = index.starts
        self.ends: Sequence[int] = index.content_ends
        self.ascii = self.text.isascii()
        self._data = data
        self.byte_starts: Sequence[int] = self.starts
        self.byte_ends: Sequence[int] = self.ends
        if data is not None and not self.ascii:
            self.byte_starts, self.byte_ends = line_bounds(data)

    def __len__(self) -> int:
        return len(self.starts)

    def line(self, index: int) -> str:
        return self.text[self.starts[index] : self.ends[index]]

    def clamp(self, line: int, column: int) -> tuple[int, int]:
        line = min(max(line, 0), len(self) - 1)
        return line, min(max(column, 0), self.ends[line] - self.starts[line])

    def first_column(self, index: int) -> int | None:
        """Column of the first non-blank character of a line, None for a blank line."""
        text = self.line(index)
        stripped = len(text) - len(text.lstrip())
        return stripped if stripped < len(text) else None

    def last_column(self, index: int) -> int:
        return len(self.line(index).rstrip()) - 1

    def to_byte(self, line: int, column: int) -> int:
        if self.ascii:
            return self.starts[line] + column
        start = self.starts[line]
        return self.byte_starts[line] + len(self.text[start : start + column].encode("utf-8", "surrogatepass"))

    def to_position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.byte_starts, offset) - 1
        if self.ascii or self._data is None:
            return line, offset - self.byte_starts[line]
        prefix = self._data[self.byte_starts[line] : offset]
        return line, len(prefix.decode("utf-8", "surrogatepass"))
