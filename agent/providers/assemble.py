"""Native tool calls put back together from streamed fragments.

OpenAI-compatible servers stream a call as an id/name fragment followed by pieces of its argument
JSON, all keyed by the call's index; Ollama sends each call whole with a parsed dict. Either way the
result is one `AssembledCall` per index with the argument text exactly as received. Arguments that are
not a JSON object are not guessed at here: `arguments` is None and `raw` keeps the text for the
repair step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agent.providers.base import ToolCallChunk


@dataclass(frozen=True)
class AssembledCall:
    index: int
    id: str
    name: str
    raw: str  # the argument text as the model produced it ("" for a call without arguments)
    arguments: dict[str, Any] | None  # None when `raw` is not a JSON object


@dataclass
class _Partial:
    id: str | None = None
    name: str | None = None
    fragments: list[str] = field(default_factory=list)
    arguments: dict[str, Any] | None = None


class ToolCallAssembler:
    """Feed ToolCallChunks in stream order; `finish()` returns the calls ordered by index.

    Calls that arrive without an id get `{id_prefix}_{index}`, the same on every run, so a replayed
    conversation produces byte-identical prompts.
    """

    def __init__(self, id_prefix: str = "call") -> None:
        self._id_prefix = id_prefix
        self._calls: dict[int, _Partial] = {}

    def feed(self, chunk: ToolCallChunk) -> None:
        call = self._calls.setdefault(chunk.index, _Partial())
        if chunk.id and call.id is None:
            call.id = chunk.id
        if chunk.name and call.name is None:
            call.name = chunk.name
        if chunk.arguments is not None:
            call.arguments = chunk.arguments
        if chunk.arguments_fragment:
            call.fragments.append(chunk.arguments_fragment)

    def __bool__(self) -> bool:
        return bool(self._calls)

    def finish(self) -> list[AssembledCall]:
        calls: list[AssembledCall] = []
        for index in sorted(self._calls):
            part = self._calls[index]
            if part.arguments is not None and not part.fragments:
                raw = json.dumps(part.arguments, ensure_ascii=False)
                arguments: dict[str, Any] | None = part.arguments
            else:
                raw = "".join(part.fragments)
                arguments = _parse_object(raw)
            calls.append(AssembledCall(
                index=index,
                id=part.id or f"{self._id_prefix}_{index}",
                name=part.name or "",
                raw=raw,
                arguments=arguments,
            ))
        return calls


def _parse_object(raw: str) -> dict[str, Any] | None:
    if not raw.strip():
        return {}  # a call to a tool that takes no arguments
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
