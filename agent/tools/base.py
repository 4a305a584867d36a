"""The tool contract: a pydantic input model, an async `run` on a Workspace, a `ToolResult` back.

The JSON schema the model sees is generated from the input model, so the schema, the validation
and the text-tool instructions can never disagree.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from agent.providers.base import ToolSpec
from agent.settings import Settings
from agent.workspace import Workspace

# Tool output beyond this is cut to head + marker + tail (the original used 32,000 / 16,000 / 8,000).
MAX_OUTPUT_CHARS = 32_000
HEAD_CHARS = 16_000
TAIL_CHARS = 8_000


@dataclass
class ToolResult:
    content: str
    is_error: bool = False
    summary: str = ""  # one line for progress UIs: "Edit src/leap.py (+3 −1)"
    path: str | None = None  # workspace-relative path acted on
    # Which mechanism spoke, when one did: "write_guard", "path_refused", "bash_refused".
    guard: str | None = None


@dataclass
class ToolContext:
    workspace: Workspace
    settings: Settings
    # Paths the agent has Read in this session (Edit guidance uses it); owned by the session.
    read_paths: set[str] = field(default_factory=set)
    # Asks the user to allow a Bash command outside the allow-list (bash policy "ask"). None when
    # nobody can be asked (headless): "ask" then behaves like "allowlist".
    confirm: Callable[[str], Awaitable[bool]] | None = None


class Tool(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    Input: ClassVar[type[BaseModel]]

    @classmethod
    def spec(cls) -> ToolSpec:
        schema = cls.Input.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        return ToolSpec(name=cls.name, description=cls.description, parameters=schema)

    @classmethod
    def parse(cls, arguments: dict[str, Any]) -> BaseModel:
        """Validate arguments; raises ValidationError (the monitor reports missing fields)."""
        return cls.Input.model_validate(arguments)

    @abstractmethod
    async def run(self, args: Any, ctx: ToolContext) -> ToolResult: ...


def cap_output(text: str, limit: int = MAX_OUTPUT_CHARS, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = len(text) - head - tail
    return f"{text[:head]}\n\n[... {cut} characters cut ...]\n\n{text[-tail:]}"


def validation_message(tool: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "input"
        parts.append(f"{loc}: {err['msg']}")
    return f"Error: invalid arguments for {tool}: " + "; ".join(parts)
