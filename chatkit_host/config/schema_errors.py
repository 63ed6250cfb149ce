"""Schema and model errors in plain words, located by key path.

jsonschema's and pydantic's own messages quote the offending value, so none of them is used as is:
each message is rebuilt from the kind of error and the schema alone. A value may be a secret from
the environment, and an error message is no place for it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as JsonSchemaError
from pydantic import ValidationError

from chatkit_host.config import sizes
from chatkit_host.config.models import json_schema
from chatkit_host.config.checking import suggest
from chatkit_host.config.positions import KeyPath


_TYPE_NAMES = {"string": "a string", "integer": "an integer", "number": "a number",
               "boolean": "true or false", "object": "a mapping", "array": "a list", "null": "empty"}
_BOUNDS = {"minimum": "at least", "maximum": "at most",
           "exclusiveMinimum": "greater than", "exclusiveMaximum": "less than"}
_SIZES = {"minLength": ("at least", "characters long"), "maxLength": ("at most", "characters long"),
          "minItems": ("at least", "items"), "maxItems": ("at most", "items"),
          "minProperties": ("at least", "entries"), "maxProperties": ("at most", "entries")}


@dataclass(frozen=True)
class Issue:
    """A problem found in the data, before it is given a line: `at_key` points at the key."""

    path: KeyPath
    message: str
    hint: str | None = None
    at_key: bool = False


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json_schema(annotations=False))


def schema_issues(data: Any) -> list[Issue]:
    """Every way `data` breaks the JSON Schema of chatkit.yaml."""
    return [issue for error in _relevant(_validator().iter_errors(data)) for issue in _issues(error)]


def _relevant(errors: Iterable[JsonSchemaError]) -> list[JsonSchemaError]:
    """`errors` without type errors where the allowed values are listed anyway (`mode: 5`)."""
    errors = list(errors)
    listed = {tuple(e.absolute_path) for e in errors if e.validator in ("enum", "const")}
    return [e for e in errors if not (e.validator == "type" and tuple(e.absolute_path) in listed)]


def _checked(error: JsonSchemaError) -> tuple[str, Any, Any]:
    """The keyword that failed, its value in the schema and the value checked. The validator sets
    all three on every error it reports (the stubs allow them unset)."""
    return str(error.validator), cast(Any, error.validator_value), cast(Any, error.instance)


def _issues(error: JsonSchemaError) -> list[Issue]:
    path = tuple(error.absolute_path)
    kind, expected, instance = _checked(error)
    if kind in ("anyOf", "oneOf"):
        return _alternatives(error)
    if kind == "additionalProperties" and expected is False:
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        allowed = list(schema.get("properties", {}))
        return [Issue((*path, key), f"unknown key '{key}'", suggest(key, allowed, "allowed keys"), True)
                for key in instance if key not in allowed]
    if kind == "required":
        return [Issue(path, f"'{key}' is required") for key in expected if key not in instance]
    if kind == "type":
        return [_type_issue(path, [_either(_types(error))], instance)]
    if kind == "enum" and len(expected) > _LISTED:
        return [Issue(path, f"is not one of the {len(expected)} accepted values", _closest(instance, expected))]
    if kind == "pattern" and expected == sizes.PATTERN:
        return [Issue(path, sizes.MESSAGE, sizes.HINT)]
    return [Issue(path, _constraint(kind, expected))]


_LISTED = 12
"""Enums longer than this (locales, icons) are not listed in a message: a hint names the closest."""


def _closest(value: Any, allowed: list[Any]) -> str:
    if isinstance(value, str):
        language = value.replace("_", "-").split("-")[0]
        if language != value and language in allowed:  # en-US → en
            return f"did you mean '{language}'?"
        close = difflib.get_close_matches(value, [a for a in allowed if isinstance(a, str)], n=1)
        if close:
            return f"did you mean '{close[0]}'?"
    return "docs/configuration.md lists them"


def _type_issue(path: KeyPath, shapes: list[str], instance: Any) -> Issue:
    # Quoting helps `model: 4`, not `titles: 5`, where a string is one shape among others.
    quote = shapes == ["a string"] and isinstance(instance, (int, float, bool))
    return Issue(path, f"expected {' or '.join(shapes)}, got {_type_name(instance)}",
                  "quote it to make it a string" if quote else None)


def _constraint(kind: str, expected: Any) -> str:
    """A sentence for a constraint on a value of the right type."""
    if kind == "enum":
        return "must be one of: " + ", ".join(_literal(value) for value in expected)
    if kind == "const":
        return f"must be {_literal(expected)}"
    if kind in _BOUNDS:
        return f"must be {_BOUNDS[kind]} {expected}"
    if kind in _SIZES:
        if expected == 1 and kind.startswith("min"):
            return "must not be empty"
        bound, unit = _SIZES[kind]
        return f"must be {bound} {expected} {unit}"
    if kind == "pattern":
        return f"does not match the expected format (the pattern {expected})"
    return f"is not valid here (it breaks the schema's '{kind}' rule)"


def _alternatives(error: JsonSchemaError) -> list[Issue]:
    """Explain the alternative the value was most likely meant to be, not all of them.

    An alternative whose type the value has is the one meant; when none has, the message lists
    what each would take. `null` alternatives are not mentioned: leaving a key out does that.
    """
    path = tuple(error.absolute_path)
    branches: dict[int, list[JsonSchemaError]] = {}
    for sub in error.context or []:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    mismatched = {index for index, errors in branches.items()
                  if any(_types(e) for e in errors if not e.relative_path)}
    shapes = [shape for i in sorted(mismatched) if (shape := _shape(branches[i]))]
    fitting: list[list[JsonSchemaError]] = [errors for i, errors in branches.items() if i not in mismatched]
    if not fitting:
        return [_type_issue(path, shapes or ["empty"], error.instance)]
    smallest: list[JsonSchemaError] = min(fitting, key=len)
    issues = [issue for sub in _relevant(smallest) for issue in _issues(sub)]
    if shapes:  # `titles: foo` is told about `{agent: NAME}` too
        also = f"it may also be {' or '.join(shapes)}"
        issues = [Issue(i.path, i.message, also, i.at_key) if i.path == path and not i.hint else i
                  for i in issues]
    return issues


def _shape(errors: list[JsonSchemaError]) -> str | None:
    """What a mismatched alternative takes, in words: its values if it lists them, else its type."""
    for error in errors:
        if not error.relative_path and error.validator == "enum":
            return "one of: " + ", ".join(_literal(value) for value in _checked(error)[1])
        if not error.relative_path and error.validator == "const":
            return _literal(error.validator_value)
    types = [t for e in errors if not e.relative_path for t in _types(e) if t != "null"]
    return _either(types) if types else None


def _types(error: JsonSchemaError) -> list[str]:
    """The JSON types a `type` error wanted (none for other errors)."""
    if error.validator != "type":
        return []
    wanted = _checked(error)[1]
    return [wanted] if isinstance(wanted, str) else list(wanted)


def pydantic_issues(data: Any, error: ValidationError) -> list[Issue]:
    """Model-validator and other errors pydantic finds after the schema passed."""
    issues = []
    for detail in error.errors(include_url=False, include_input=False):
        path = _data_path(data, detail["loc"])
        kind, message = detail["type"], detail["msg"]
        if kind == "value_error":  # our validators' messages, written without values
            message = str(detail.get("ctx", {}).get("error", message))
        elif kind == "size":
            issues.append(Issue(path, sizes.MESSAGE, sizes.HINT))
            continue
        issues.append(Issue(path, message[:1].lower() + message[1:]))
    return issues


def _data_path(data: Any, loc: tuple[int | str, ...]) -> KeyPath:
    """The key path in `data` that pydantic's `loc` means: loc also names union members."""
    path: list[str | int] = []
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            continue
        path.append(part)
    return tuple(path)


def _either(types: list[str]) -> str:
    names = list(dict.fromkeys(_TYPE_NAMES.get(t, t) for t in types))
    return " or ".join(names)


def _type_name(value: Any) -> str:
    """What a value is, in words, without saying what it is exactly."""
    for kind, name in ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"),
                       (dict, "a mapping"), (list, "a list")):
        if isinstance(value, kind):
            return name
    return "nothing" if value is None else f"a {type(value).__name__}"


def _literal(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
