"""A starting `data` object for a job type, made from its JSON Schema.

The create dialog opens its editor on this, so that an operator sees the
fields a type expects instead of an empty `{}`.
"""

from __future__ import annotations

from typing import Any

_PLACEHOLDERS: dict[str, Any] = {
    "string": "",
    "integer": 0,
    "number": 0,
    "boolean": False,
    "array": [],
    "object": {},
}


def example_from_schema(schema: dict[str, Any] | None) -> dict[str, Any]:
    """Required fields and fields with a default; required ones without a default get a placeholder."""
    if not schema:
        return {}
    value = _example(schema, schema, depth=0)
    return value if isinstance(value, dict) else {}


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return target if isinstance(target, dict) else {}
    return node


def _example(node: dict[str, Any], root: dict[str, Any], depth: int) -> Any:
    node = _resolve(node, root)
    if "default" in node:
        return node["default"]
    if depth > 6:  # a recursive schema: stop rather than loop
        return None
    for key in ("anyOf", "oneOf"):
        options = [o for o in node.get(key, []) if _resolve(o, root).get("type") != "null"]
        if options:
            return _example(options[0], root, depth + 1)
    if node.get("enum"):
        return node["enum"][0]
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        required = set(node.get("required", []))
        out: dict[str, Any] = {}
        for name, prop in node.get("properties", {}).items():
            prop = _resolve(prop, root)
            if name in required or "default" in prop:
                out[name] = _example(prop, root, depth + 1)
        return out
    if isinstance(kind, str):
        return _PLACEHOLDERS.get(kind)
    return None
