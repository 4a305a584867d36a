"""The neutral conversation format. Providers convert it to and from their wire protocol.

Four roles: system, user, assistant (text, optional reasoning, tool calls) and tool (one result per
call). Messages are immutable once appended: the session's history is append-only so that the prompt
prefix stays byte-stable for the server's KV cache.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class ToolCall(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    # The arguments exactly as the model wrote them when they were not valid JSON (after repair
    # failed); the monitor turns this into a correction instead of running the tool.
    raw_arguments: str | None = None


class SystemMessage(BaseModel):
    model_config = ConfigDict(frozen=True)
    role: Literal["system"] = "system"
    content: str


GUIDANCE_ORIGIN = "guidance"  # a harness note (agent/prompt.py): reference material, never a request


class UserMessage(BaseModel):
    model_config = ConfigDict(frozen=True)
    role: Literal["user"] = "user"
    content: str
    # Why the harness (not the person) wrote this message: "task", "revise", "correction",
    # "cap_warning", "guidance", "thinking_retry", "retry_feedback", "compaction", "tool_result"
    # (text-tool mode). Providers ignore it.
    origin: str = "task"


class AssistantMessage(BaseModel):
    model_config = ConfigDict(frozen=True)
    role: Literal["assistant"] = "assistant"
    content: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCall, ...] = ()


class ToolMessage(BaseModel):
    model_config = ConfigDict(frozen=True)
    role: Literal["tool"] = "tool"
    tool_call_id: str
    name: str
    content: str
    is_error: bool = False


Message = Annotated[
    Union[SystemMessage, UserMessage, AssistantMessage, ToolMessage],
    Field(discriminator="role"),
]


def is_note(message: Message) -> bool:
    """A harness note kept in the history (prompt layout `kept`)."""
    return isinstance(message, UserMessage) and message.origin == GUIDANCE_ORIGIN


def message_text(message: SystemMessage | UserMessage | AssistantMessage | ToolMessage) -> str:
    """Everything in a message that occupies context, as text (for token accounting)."""
    if isinstance(message, AssistantMessage):
        parts = [message.content]
        for call in message.tool_calls:
            parts.append(call.name)
            parts.append(call.raw_arguments if call.raw_arguments is not None else _json(call.arguments))
        return "\n".join(p for p in parts if p)
    return message.content


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
