"""The model's tool arguments, checked against the tool's JSON Schema before anything runs."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator


def parse_arguments(arguments: str, schema: dict[str, Any]) -> dict[str, Any] | str:
    """The arguments as a dict, or a message telling the model what is wrong with them."""
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return "error: the arguments are not valid JSON"
    if not isinstance(parsed, dict):
        return "error: the arguments must be a JSON object"
    problems = sorted(Draft202012Validator(schema).iter_errors(parsed), key=lambda e: list(e.path))
    if problems:
        first = problems[0]
        where = ".".join(str(part) for part in first.path) or "arguments"
        return f"error: invalid arguments: {where}: {first.message}"
    return parsed
