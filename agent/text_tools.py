"""Text-tool mode: tool calling for models or servers without native tool calls.

The model is told (in the stable system prompt) to write each call as a fenced ```tool block holding
{"name": ..., "arguments": {...}}; `agent.repair.find_text_calls` reads the blocks back. History is
replayed in the same shape: the model's own calls appear as the blocks it was asked to write, and
each tool result arrives as a user message, because such a model cannot read `tool` messages.

Both renderings are pure functions of their input, so the prompt prefix stays byte-stable across
turns and the server's KV cache keeps matching.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from agent.messages import AssistantMessage, Message, ToolCall, ToolMessage, UserMessage
from agent.providers.base import ToolSpec

__all__ = ["call_block", "instructions", "to_text_mode"]

FENCE_TAG = "tool"

_HEADER = """# Calling tools
To call a tool, write a fenced block tagged `tool` holding one JSON object, its "name" and "arguments":

```tool
{"name": "TOOL", "arguments": {"PARAMETER": "value"}}
```

One call per block; several blocks run in order. Then stop: results come in the next message.
Use strict JSON: double quotes; inside strings write \\n for a newline, \\" for a quote, \\\\ for a backslash.
A reply without a tool block ends the task.

## Tools (parameters not marked required may be left out)"""


def instructions(specs: Sequence[ToolSpec]) -> str:
    """The call format and each tool's parameters, for the end of the stable system prompt."""
    parts = [_HEADER]
    for spec in specs:
        parts.append(_describe_tool(spec))
    return "\n".join(parts) + "\n"


def call_block(name: str, arguments: Mapping[str, Any]) -> str:
    """One call in the exact form `instructions` asks for."""
    payload = json.dumps({"name": name, "arguments": dict(arguments)}, ensure_ascii=False)
    return f"```{FENCE_TAG}\n{payload}\n```"


def to_text_mode(messages: Sequence[Message]) -> list[Message]:
    """History as a model without native tool calling can read it.

    Assistant calls become ```tool blocks appended to the assistant's text; tool results become
    one user message per run of consecutive results ("Result of Edit (call_3):" / "Error from …").
    A user message right after results is merged into theirs, because some chat templates (Gemma's)
    refuse two user turns in a row.
    """
    out: list[Message] = []
    merging = False  # the last message in `out` is a user message built from tool results
    for message in messages:
        if isinstance(message, ToolMessage):
            text = _result_text(message)
            if merging:
                out[-1] = UserMessage(content=f"{out[-1].content}\n\n{text}", origin="tool_result")
            else:
                out.append(UserMessage(content=text, origin="tool_result"))
                merging = True
        elif isinstance(message, UserMessage) and merging:
            out[-1] = UserMessage(content=f"{out[-1].content}\n\n{message.content}", origin="tool_result")
        elif isinstance(message, AssistantMessage) and message.tool_calls:
            blocks = "\n\n".join(_block_for(call) for call in message.tool_calls)
            content = f"{message.content.rstrip()}\n\n{blocks}" if message.content.strip() else blocks
            out.append(AssistantMessage(content=content, reasoning=message.reasoning))
            merging = False
        else:
            out.append(message)
            merging = False
    return out


# --- rendering helpers -----------------------------------------------------------------------


def _block_for(call: ToolCall) -> str:
    if call.raw_arguments is None:
        return call_block(call.name, call.arguments)
    # Arguments that were never valid JSON are replayed as written: the error result that follows
    # refers to exactly this text.
    name = json.dumps(call.name, ensure_ascii=False)
    return f"```{FENCE_TAG}\n{{\"name\": {name}, \"arguments\": {call.raw_arguments}}}\n```"


def _result_text(message: ToolMessage) -> str:
    head = "Error from" if message.is_error else "Result of"
    body = message.content if message.content else "(empty)"
    return f"{head} {message.name} ({message.tool_call_id}):\n{body}"


def _describe_tool(spec: ToolSpec) -> str:
    schema = spec.parameters if isinstance(spec.parameters, Mapping) else {}
    lines = [f"\n### {spec.name}"]
    if spec.description.strip():
        lines.append(_one_line(spec.description))
    properties = schema.get("properties")
    required = schema.get("required")
    required_names = set(required) if isinstance(required, list) else set()
    if not isinstance(properties, Mapping) or not properties:
        lines.append("(no parameters: \"arguments\": {})")
        return "\n".join(lines)
    for name, prop in properties.items():
        prop = _resolve(prop, schema)
        facts = [_type_label(prop, schema)]
        if name in required_names:
            facts.append("required")
        elif "default" in prop and prop["default"] is not None:
            facts.append(f"default {json.dumps(prop['default'], ensure_ascii=False)}")
        line = f"- {name} ({', '.join(facts)})"
        description = prop.get("description")
        if isinstance(description, str) and description.strip():
            line += f": {_one_line(description)}"
        lines.append(line)
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _resolve(schema: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(schema, Mapping):
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        defs = root.get("$defs")
        target = defs.get(ref[len("#/$defs/"):]) if isinstance(defs, Mapping) else None
        return target if isinstance(target, Mapping) else {}
    return schema


def _type_label(schema: Mapping[str, Any], root: Mapping[str, Any]) -> str:
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return "one of " + "|".join(json.dumps(v, ensure_ascii=False) for v in enum)
    declared = schema.get("type")
    if isinstance(declared, str):
        if declared == "array":
            items = _resolve(schema.get("items"), root)
            return f"array of {_type_label(items, root)}" if items else "array"
        return declared
    if isinstance(declared, list):
        return "|".join(str(t) for t in declared if t != "null") or "null"
    options = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(options, list):
        labels = [_type_label(_resolve(o, root), root) for o in options]
        return "|".join(dict.fromkeys(label for label in labels if label != "null")) or "null"
    if isinstance(schema.get("properties"), Mapping):
        return "object"
    return "any"
