"""A widget's jsonSchema as the strict function schema a widget tool offers the model, and back.

Strict function calling accepts a subset of JSON Schema and wants every property required; optional
properties become nullable, and the nulls the model then sends are dropped before the data is
validated against the widget's own schema and rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_STRICT_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties", "items",
                              "enum", "const", "anyOf", "description", "$defs", "$ref"})
"""What strict function schemas accept; other keywords (minLength, format, …) are dropped from the
schema the model sees and still enforced when the data is validated before rendering."""


class NotStrict(Exception):
    """A schema strict function calling cannot express (free-form maps, tuples, …)."""


def strict_parameters(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A widget's jsonSchema as a strict function schema: every property required, optional ones
    nullable (`drop_nulls` undoes that), no additional properties. Raises `NotStrict`."""
    schema = dict(schema)
    schema.pop("$schema", None)
    if not schema.get("properties") and schema.get("type", "object") == "object":
        return {"type": "object", "properties": {}, "required": [], "additionalProperties": False}
    return _strict(schema)


def _strict(schema: Mapping[str, Any]) -> dict[str, Any]:
    out = {key: value for key, value in schema.items() if key in _STRICT_KEYWORDS}
    if "properties" in out or out.get("type") == "object":
        if schema.get("additionalProperties") not in (None, False) or "patternProperties" in schema:
            raise NotStrict("an object with free-form keys")
        required = set(schema.get("required", []))
        properties = {}
        for name, sub in (schema.get("properties") or {}).items():
            strict = _strict(sub)
            properties[name] = strict if name in required else {"anyOf": [strict, {"type": "null"}]}
        out.update(type="object", properties=properties, required=list(properties),
                   additionalProperties=False)
    if isinstance(out.get("items"), dict):
        out["items"] = _strict(out["items"])
    elif "items" in out:
        raise NotStrict("tuple-style items")
    if "anyOf" in out:
        out["anyOf"] = [_strict(sub) for sub in out["anyOf"]]
    if "$defs" in out:
        out["$defs"] = {name: _strict(sub) for name, sub in out["$defs"].items()}
    return out


def drop_nulls(data: Any, schema: Mapping[str, Any]) -> Any:
    """`data` without the nulls the strict schema made the model send for optional properties."""
    if isinstance(data, dict) and isinstance(schema.get("properties"), dict):
        required = set(schema.get("required", []))
        properties = schema["properties"]
        return {key: drop_nulls(value, properties.get(key, {})) for key, value in data.items()
                if not (value is None and key not in required)}
    if isinstance(data, list) and isinstance(schema.get("items"), dict):
        return [drop_nulls(item, schema["items"]) for item in data]
    return data
