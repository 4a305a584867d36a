"""Arguments of a native tool call: read (repair_json when they are text) and fitted to the tool's
JSON schema: keys matched case-insensitively and through common aliases, scalars coerced losslessly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from agent.repair.json_text import NUMBER, add_fix, repair_json

# Names small models use for a parameter, mapped to ours. Applied only when the schema has the
# target and lacks the alias (Grep's own `path` is never renamed).
_ALIASES: dict[str, tuple[str, ...]] = {
    "file_path": ("path", "filename", "file", "filepath", "file_name"),
    "old_string": ("old", "old_str", "old_text"),
    "new_string": ("new", "new_str", "new_text"),
    "command": ("cmd",),
}
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}
_INT_TEXT = re.compile(r"\s*[-+]?\d+\s*")


# No tool takes arguments nested anywhere near this deep. Far deeper ones (a model stuck emitting
# brackets) would fail json's recursion limit when history is sent back, so they are refused.
MAX_ARGUMENT_NESTING = 64


def nests_deeper(value: Any, limit: int = MAX_ARGUMENT_NESTING) -> bool:
    """Whether lists and objects in `value` nest more than `limit` levels (counted without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def repair_arguments(raw: str | dict[str, Any] | None,
                     schema: dict[str, Any] | None = None) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    """Arguments of a native call as a dict, repaired and (with the tool's JSON schema) fitted to it.

    With a schema: keys are matched case-insensitively and through common aliases, scalar values
    are coerced to the declared type ("5" -> 5 for an integer); unknown keys are kept (the tool's
    validation reports them). Returns None when a string cannot be read as an object.
    """
    fixes: list[str] = []
    if raw is None:
        return {}, ()
    if isinstance(raw, Mapping):
        args: dict[str, Any] = {str(k): v for k, v in raw.items()}
    elif isinstance(raw, str):
        if not raw.strip():
            return {}, ()
        value, json_fixes = repair_json(raw)
        fixes.extend(json_fixes)
        if isinstance(value, str):  # a JSON string holding the JSON object
            value, json_fixes = repair_json(value)
            fixes.append("double_encoded")
            fixes.extend(f for f in json_fixes if f not in fixes)
        if not isinstance(value, dict):
            return None, tuple(fixes)
        args = value
    else:
        return None, ()
    if isinstance(schema, Mapping):
        args = _fit_object(args, schema, schema, fixes)
    return args, tuple(fixes)


def _resolve(schema: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local `$ref` (pydantic puts nested models under `$defs`)."""
    for _ in range(8):  # refs pointing at refs: a few hops at most, and never a cycle
        if not isinstance(schema, Mapping):
            return {}
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return schema
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part) if isinstance(node, Mapping) else None
        schema = node
    return {}


def _types(schema: Mapping[str, Any], root: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The JSON types a schema allows, each with the sub-schema that allows it."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    declared = schema.get("type")
    if isinstance(declared, str):
        found.append((declared, schema))
    elif isinstance(declared, list):
        found.extend((t, schema) for t in declared if isinstance(t, str))
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list):
            for option in options:
                found.extend(_types(_resolve(option, root), root))
    if not found and isinstance(schema.get("properties"), Mapping):
        found.append(("object", schema))
    return found


def _fit_object(args: dict[str, Any], schema: Mapping[str, Any], root: Mapping[str, Any],
                fixes: list[str]) -> dict[str, Any]:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return args
    names = [p for p in properties if isinstance(p, str)]
    by_lower: dict[str, str] = {}
    for p in names:
        by_lower.setdefault(p.lower(), p)
    renamed: dict[str, Any] = {}
    for key, value in args.items():
        target = key
        if key not in properties:
            match = by_lower.get(key.lower())
            if match is not None and match not in args:
                target = match
                add_fix(fixes, "key_case")
            else:
                for canonical, aliases in _ALIASES.items():
                    if (key.lower() in aliases and canonical in properties and key not in properties
                            and canonical not in args):
                        target = canonical
                        add_fix(fixes, "key_alias")
                        break
        if target in renamed:  # two spellings of one key: the exact one wins
            continue
        renamed[target] = value
    for key, value in renamed.items():
        if key in properties:
            renamed[key] = _coerce(value, _resolve(properties[key], root), root, fixes)
    return renamed


def _coerce(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any], fixes: list[str]) -> Any:
    """Fit one value to its schema where a lossless reading exists; otherwise leave it as it is."""
    types = _types(schema, root)
    if not types:
        return value
    kinds = [t for t, _ in types]
    sub = dict(types)
    if _matches(value, kinds):
        if isinstance(value, dict) and "object" in sub:
            return _fit_object(value, sub["object"], root, fixes)
        if isinstance(value, list) and "array" in sub:
            items = _resolve(sub["array"].get("items"), root)
            return [_coerce(item, items, root, fixes) for item in value] if items else value
        return value
    for kind in ("null", "boolean", "integer", "number", "array", "object", "string"):
        if kind not in sub:
            continue
        converted = _convert(value, kind)
        if converted is not _NO:
            add_fix(fixes, "type_coercion")
            return _coerce(converted, sub[kind], root, fixes) if kind in ("array", "object") else converted
    return value


_NO = object()  # _convert's "no lossless conversion" (None is a real value)


def _matches(value: Any, kinds: list[str]) -> bool:
    for kind in kinds:
        if kind == "string" and isinstance(value, str):
            return True
        if kind == "boolean" and isinstance(value, bool):
            return True
        if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if kind == "array" and isinstance(value, list):
            return True
        if kind == "object" and isinstance(value, dict):
            return True
        if kind == "null" and value is None:
            return True
    return False


def _convert(value: Any, kind: str) -> Any:
    if kind == "null":
        return None if isinstance(value, str) and value.strip().lower() in ("", "null", "none") else _NO
    if kind == "boolean":
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
            return bool(value)
        return _NO
    if kind == "integer":
        if isinstance(value, str) and _INT_TEXT.fullmatch(value):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            number = _convert(value, "number")
            if isinstance(number, float) and number.is_integer():
                return int(number)
        return _NO
    if kind == "number":
        if isinstance(value, str):
            text = value.strip()
            if _INT_TEXT.fullmatch(text):
                return int(text)
            if NUMBER.fullmatch(text.lstrip("+")):
                return float(text)
        return _NO
    if kind in ("array", "object"):
        if isinstance(value, str):
            parsed, _ = repair_json(value)
            if kind == "array" and isinstance(parsed, list) or kind == "object" and isinstance(parsed, dict):
                return parsed
        return _NO
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return json.dumps(value)
        if isinstance(value, (dict, list)):
            return json.dumps(value, ensure_ascii=False)
        return _NO
    return _NO
