"""The agent's tool set, in the order the model is shown it."""

from __future__ import annotations

from collections.abc import Iterable

from agent.tools.base import Tool
from agent.tools.bash import Bash
from agent.tools.edit import Edit
from agent.tools.glob import Glob
from agent.tools.grep import Grep
from agent.tools.read import Read
from agent.tools.write import Write


def default_tools() -> list[Tool]:
    """Fresh instances of the six tools: Read, Write, Edit, Glob, Grep, Bash."""
    return [Read(), Write(), Edit(), Glob(), Grep(), Bash()]


def tool_map(tools: Iterable[Tool]) -> dict[str, Tool]:
    """Tools by name, for dispatching a model's call."""
    return {tool.name: tool for tool in tools}
