"""Open editor buffers for an EditorWorkspace outside a language server (its `BufferSource`)."""

from __future__ import annotations

from pathlib import Path


class Buffers:
    """Open editor buffers by absolute path, as the language server keeps them."""

    def __init__(self) -> None:
        self.open: dict[Path, tuple[str, int | None]] = {}

    def buffer(self, path: Path) -> tuple[str, int | None] | None:
        return self.open.get(path)

    def open_paths(self) -> list[Path]:
        return list(self.open)
