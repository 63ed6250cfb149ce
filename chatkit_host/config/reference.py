"""The configuration reference (docs/configuration.md), generated from the JSON Schema.

Generated, not written: the reference cannot drift from what the loader accepts, and a test fails when
the committed file is stale (`chatkit-host schema --markdown > docs/configuration.md`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from chatkit_host.config.models import json_schema

HEADER = """\
# Configuration reference

Every key `chatkit.yaml` accepts. Generated from the models in `chatkit_host/config/models.py`
(`chatkit-host schema --markdown`); the JSON Schema for editors is `schemas/chatkit.schema.json`.
`NAME` in a key stands for a name you choose. Values may use `${VAR}` and `${VAR:-default}`.
Sizes are a number of bytes or a number with a unit: KB, MB, GB are powers of 1000 (`64KB` is
64,000 bytes), KiB, MiB, GiB powers of 1024 (`20MiB` is 20,971,520 bytes); messages quote them as written.

| key | type | default | description |
| --- | --- | --- | --- |
"""


def markdown() -> str:
    """The whole reference as Markdown."""
    schema = json_schema()
    rows = [_row(key, prop, schema) for key, prop in _walk(schema, schema, "")]
    return HEADER + "".join(rows)


def _walk(node: dict[str, Any], root: dict[str, Any], prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
    node = _deref(node, root)
    for name, prop in node.get("properties", {}).items():
        key = f"{prefix}{name}"
        yield key, prop
        for target in _object_targets(prop, root):
            yield from _walk(target, root, key + ".")
        for target in _map_targets(prop, root):
            yield from _walk(target, root, key + ".NAME.")


def _object_targets(prop: dict[str, Any], root: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for option in _options(prop):
        resolved = _deref(option, root)
        if resolved.get("properties"):
            yield resolved


def _map_targets(prop: dict[str, Any], root: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for option in _options(prop):
        values = _deref(option, root).get("additionalProperties")
        if isinstance(values, dict):
            resolved = _deref(values, root)
            if resolved.get("properties"):
                yield resolved


def _options(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return list(prop.get("anyOf") or prop.get("oneOf") or [prop])


def _deref(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return root["$defs"][ref.removeprefix("#/$defs/")]
    return node


def _row(key: str, prop: dict[str, Any], root: dict[str, Any]) -> str:
    # A section's default is the sum of its keys' defaults, listed on their own rows.
    shown = "default" in prop and not (isinstance(prop["default"], dict) and prop["default"])
    default = f"`{json.dumps(prop['default'], ensure_ascii=False)}`" if shown else ""
    description = (prop.get("description") or _deref(prop, root).get("description") or "")
    description = " ".join(description.split()).replace("|", "\\|")
    return f"| `{key}` | {_type(prop, root)} | {default} | {description} |\n"


def _type(prop: dict[str, Any], root: dict[str, Any]) -> str:
    kinds = []
    for option in _options(prop):
        resolved = _deref(option, root)
        if "enum" in resolved:
            kinds.append(" \\| ".join(f"`{v}`" for v in resolved["enum"]))
        elif "const" in resolved:
            kinds.append(f"`{resolved['const']}`")
        elif resolved.get("properties"):
            kinds.append("mapping")
        elif resolved.get("type") == "object":
            kinds.append("map")
        elif resolved.get("type") == "array":
            kinds.append("list")
        elif "type" in resolved:
            kinds.append(str(resolved["type"]))
    kinds = [k for k in kinds if k != "null"]
    return " or ".join(dict.fromkeys(kinds)) or "any"
