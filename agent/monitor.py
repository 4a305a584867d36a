"""The quality monitor and the loop detector: cheap checks on every model reply and tool result.

Small models go wrong in a few recognisable ways: an empty reply, a tool that does not exist, arguments
that do not fit the tool, the same call again with nothing changed in between. Each gets a short
correction that names the fix (the real tool names, the missing fields) instead of a generic "try
again". Corrections are capped per run of consecutive bad replies, so a model that cannot comply is
let through rather than retried forever (the session ends one still calling a tool that does not
exist, since that call cannot run). Separately, a call that keeps failing the same way with
nothing changed means the session is stuck and should end.

One monitor belongs to one session; it is synchronous and does no I/O.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from agent.messages import AssistantMessage, ToolCall

Reason = Literal["empty", "unknown_tool", "malformed_arguments", "repeated_call"]

# Names small models reach for out of habit (other agents' tool sets), normalised as by _norm(),
# mapped to the tools they most likely meant. A name not listed whole is looked up word by word
# (`run_tests` → run → Bash), so single verbs are listed too.
_ALIASES: dict[str, tuple[str, ...]] = {
    "read": ("Read",),
    "write": ("Write",),
    "create": ("Write",),
    "edit": ("Edit",),
    "exec": ("Bash",),
    "test": ("Bash",),
    "tests": ("Bash",),
    "pytest": ("Bash",),
    "list": ("Glob",),
    "readfile": ("Read",),
    "view": ("Read",),
    "viewfile": ("Read",),
    "cat": ("Read",),
    "open": ("Read",),
    "writefile": ("Write",),
    "createfile": ("Write",),
    "editfile": ("Edit",),
    "strreplace": ("Edit",),
    "strreplaceeditor": ("Edit",),
    "replace": ("Edit",),
    "applypatch": ("Edit",),
    "run": ("Bash",),
    "runcommand": ("Bash",),
    "shell": ("Bash",),
    "execute": ("Bash",),
    "executecommand": ("Bash",),
    "terminal": ("Bash",),
    "search": ("Grep", "Glob"),
    "find": ("Grep", "Glob"),
    "searchfiles": ("Grep", "Glob"),
    "findfiles": ("Glob",),
    "listfiles": ("Glob",),
    "listdir": ("Glob",),
    "ls": ("Glob",),
}

# The words of a tool name as written: snake_case, kebab-case, camelCase and dotted names.
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")

_ARGS_SHOWN = 200  # characters of a call's arguments quoted back in a correction


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: Reason | None
    detail: str  # one line for events and logs
    correction: str | None  # the message to send back to the model, when ok is False
    accepted: bool = False  # a bad reply let through because the correction cap was reached


_OK = Verdict(ok=True, reason=None, detail="", correction=None)


@dataclass(frozen=True)
class _Problem:
    reason: Reason
    detail: str
    correction: str


class QualityMonitor:
    def __init__(
        self,
        tools: Mapping[str, type[BaseModel]],
        max_corrections: int = 2,
        loop_limit: int = 3,
        repeat_window: int = 2,
    ) -> None:
        self._tools = dict(tools)
        self._max_corrections = max_corrections
        self._loop_limit = loop_limit
        # Call signatures of the last accepted replies, newest last; cleared when the workspace changes.
        self._recent: deque[frozenset[str]] = deque(maxlen=max(1, repeat_window))
        self._consecutive = 0
        self._unrecorded: frozenset[str] | None = None  # the last checked reply, until accepted
        self._failures: Counter[str] = Counter()
        self._stuck_detail: str | None = None

    @property
    def stuck_detail(self) -> str | None:
        """Why record_result() declared the session stuck (None while it has not)."""
        return self._stuck_detail

    def check(self, reply: AssistantMessage) -> Verdict:
        self._unrecorded = frozenset(self._signature(call) for call in reply.tool_calls)
        problem = (
            _empty(reply)
            or self._unknown_tools(reply.tool_calls)
            or self._malformed(reply.tool_calls)
            or self._repeated(reply.tool_calls)
        )
        if problem is None:
            self.accept()
            return _OK
        if self._consecutive >= self._max_corrections:
            self.accept()
            return Verdict(ok=True, reason=problem.reason, detail=problem.detail, correction=None, accepted=True)
        self._consecutive += 1
        return Verdict(ok=False, reason=problem.reason, detail=problem.detail, correction=problem.correction)

    def accept(self) -> None:
        """The session goes ahead with the last checked reply: reset the consecutive-correction count.

        check() calls this itself for replies it lets through; the session calls it when it uses a
        reply the monitor objected to for reasons of its own.
        """
        self._consecutive = 0
        if self._unrecorded is not None:
            self._recent.append(self._unrecorded)
            self._unrecorded = None

    def note_workspace_change(self) -> None:
        """A file changed: earlier calls may now give different results, so nothing before is a repeat."""
        self._recent.clear()
        self._failures.clear()

    def record_result(self, call: ToolCall, is_error: bool, content: str) -> bool:
        """Count a tool result; True when this same call has now failed `loop_limit` times (stuck)."""
        if not is_error:
            return False
        signature = self._signature(call)
        self._failures[signature] += 1
        if self._failures[signature] < self._loop_limit:
            return False
        first_line = content.strip().splitlines()[0] if content.strip() else "(no output)"
        self._stuck_detail = (
            f"{call.name} failed {self._failures[signature]} times with the same arguments and no file "
            f"changed in between; last error: {_clip(first_line, _ARGS_SHOWN)}"
        )
        return True

    # --- the checks -------------------------------------------------------------------------

    def _unknown_tools(self, calls: tuple[ToolCall, ...]) -> _Problem | None:
        unknown = [call.name for call in calls if call.name not in self._tools]
        if not unknown:
            return None
        available = ", ".join(self._tools)
        lines = []
        hints = []
        for name in dict.fromkeys(unknown):
            guesses = self._closest_tools(name)
            guess_text = " or ".join(guesses)
            hints.append(f"{name or '(no name)'} → {guess_text or '?'}")
            missing = f"There is no tool `{name}`" if name else "A tool call had no name"
            if guesses:
                # The parameters too: a model that invented the name usually invented its arguments.
                takes = "; ".join(_parameters(g, self._tools[g]) for g in guesses)
                lines.append(f"{missing}; you probably want {guess_text}: {takes}.")
            else:
                lines.append(f"{missing}.")
        correction = (
            " ".join(lines) + f" The only tools you can call are: {available}. Call one of them by its exact name."
        )
        detail = f"unknown tool ({'; '.join(hints)}); available: {available}"
        return _Problem("unknown_tool", detail, correction)

    def _malformed(self, calls: tuple[ToolCall, ...]) -> _Problem | None:
        reports = []
        summaries = []
        for call in calls:
            model = self._tools[call.name]
            if call.raw_arguments is not None:
                problems = f"its arguments are not valid JSON (`{_clip(call.raw_arguments, _ARGS_SHOWN)}`)"
            else:
                try:
                    model.model_validate(call.arguments)
                    continue
                except ValidationError as exc:
                    problems = _describe_errors(exc, call.arguments, model)
            summaries.append(f"{call.name}: {problems}")
            reports.append(f"{call.name}: {problems}. Expected {_parameters(call.name, model)}.")
        if not reports:
            return None
        one = len(reports) == 1
        lead = "This tool call could not be run." if one else "These tool calls could not be run."
        again = "Send it again" if one else "Send them again"
        correction = f"{lead} {' '.join(reports)} {again} with a JSON object that has exactly these parameters."
        return _Problem("malformed_arguments", _clip("; ".join(summaries), 2 * _ARGS_SHOWN), correction)

    def _repeated(self, calls: tuple[ToolCall, ...]) -> _Problem | None:
        earlier: set[str] = set().union(*self._recent)
        seen: set[str] = set()
        repeats = []
        for call in calls:
            signature = self._signature(call)
            if signature in earlier or signature in seen:
                repeats.append(call)
            seen.add(signature)
        if not repeats:
            return None
        shown = "; ".join(f"{c.name} {_clip(_dumps(c.arguments), _ARGS_SHOWN)}" for c in repeats)
        correction = (
            f"You already made this call with the same arguments ({shown}) and no file has changed "
            "since, so it would return the same result. Work from the result you already have, or "
            "take a different step."
        )
        return _Problem("repeated_call", f"repeated call: {shown}", correction)

    # --- helpers ----------------------------------------------------------------------------

    def _signature(self, call: ToolCall) -> str:
        """Name plus arguments after validation, so `{"path": "a"}` and `{"path": "a", "offset": 0}`
        (a default spelled out) are the same call."""
        if call.raw_arguments is not None:
            return f"{call.name}\0raw\0{call.raw_arguments}"
        arguments: Any = call.arguments
        model = self._tools.get(call.name)
        if model is not None:
            with contextlib.suppress(ValidationError):  # invalid arguments are compared as written
                arguments = model.model_validate(call.arguments).model_dump(mode="json")
        return f"{call.name}\0{_dumps(arguments)}"

    def _closest_tools(self, name: str) -> list[str]:
        by_norm = {_norm(tool): tool for tool in self._tools}
        key = _norm(name)
        if key in by_norm:
            return [by_norm[key]]
        for word in [key, *(w.lower() for w in _WORDS.findall(name))]:
            aliased = [tool for tool in _ALIASES.get(word, ()) if tool in self._tools]
            if aliased:
                return aliased
        return [by_norm[m] for m in difflib.get_close_matches(key, list(by_norm), n=1, cutoff=0.6)]


def _empty(reply: AssistantMessage) -> _Problem | None:
    if reply.content.strip() or reply.tool_calls:
        return None
    detail = "reply had reasoning only" if reply.reasoning.strip() else "reply was empty"
    correction = (
        "Your last reply had no text and no tool call"
        + (" (only thinking)" if reply.reasoning.strip() else "")
        + ". Continue the task: call a tool, or give your final answer if the task is done."
    )
    return _Problem("empty", detail, correction)


def _describe_errors(exc: ValidationError, arguments: dict[str, Any], model: type[BaseModel]) -> str:
    missing: list[str] = []
    invalid: list[str] = []
    unexpected: list[str] = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "arguments"
        if err["type"] == "missing":
            missing.append(field)
        elif err["type"] == "extra_forbidden":
            unexpected.append(field)
        else:
            invalid.append(f"{field} ({err['msg']})")
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing))
    if invalid:
        parts.append("invalid " + ", ".join(invalid))
    # Keys the tool does not have are usually a misnamed required field: say which.
    known = set(model.model_fields) | {f.alias for f in model.model_fields.values() if f.alias}
    strays = [key for key in arguments if key not in known]
    for key in unexpected:
        if key not in strays:
            strays.append(key)
    renames = []
    for key in strays:
        match = difflib.get_close_matches(key, missing, n=1, cutoff=0.4)
        renames.append(f"{key} (did you mean {match[0]}?)" if match else key)
    if renames:
        parts.append("unknown " + ", ".join(renames))
    return "; ".join(parts) or str(exc)


def _parameters(name: str, model: type[BaseModel]) -> str:
    """The tool's parameters as the model sees them in the schema: `Edit(file_path: string, …)`."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    params = []
    for field, prop in schema.get("properties", {}).items():
        text = f"{field}: {_type_name(prop)}"
        if field not in required:
            text += f" = {json.dumps(prop['default'])}" if "default" in prop else " (optional)"
        params.append(text)
    return f"{name}({', '.join(params)})"


def _type_name(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    if "anyOf" in prop:
        names = [_type_name(p) for p in prop["anyOf"] if p.get("type") != "null"]
        return " | ".join(names) or "null"
    kind = prop.get("type")
    if kind == "array" and isinstance(prop.get("items"), dict):
        return f"array of {_type_name(prop['items'])}"
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    return str(kind) if kind else "object"


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
