"""Tool calls a model wrote as text, and tool-call JSON that needs mending.

Small local models often answer with a call written into their reply (a fenced ```tool block, a
Hermes `<tool_call>` tag, Qwen-Coder's `<function=…>` XML, or a bare JSON object in prose) instead of
a native call, and their JSON is often slightly broken: raw newlines in strings, trailing commas,
single quotes, Python literals, a reply cut off before its closing braces. This package finds such
calls and repairs such JSON. Everything here is a pure function: no I/O, no state, and no input
makes it raise; what cannot be repaired comes back as None, never as a guess.

Each repair is recorded by name (e.g. "trailing_comma") so the session can report it as an event.
By concern: json_text mends JSON, arguments fits a call's arguments to the tool's schema, text_calls
finds calls in reply text and strips them from it.
"""

from agent.repair.arguments import MAX_ARGUMENT_NESTING, nests_deeper, repair_arguments
from agent.repair.json_text import TOO_DEEP, repair_json
from agent.repair.text_calls import FoundCall, find_text_calls, strip_calls

__all__ = ["MAX_ARGUMENT_NESTING", "TOO_DEEP", "FoundCall", "find_text_calls", "nests_deeper", "repair_arguments",
           "repair_json", "strip_calls"]
