"""Partial matching of expectations against what the host answered, and readable diffs.

A pattern is plain YAML data compared with the actual value:

- a mapping matches a mapping that has each of its keys with a matching value (other keys are
  ignored, so an expectation names only what it cares about);
- a list matches a list of the same length, item by item;
- `{contains: X}` matches a string containing X, or a list with an item matching X;
- `{matches: REGEX}` matches a value whose text the regular expression finds (re.search);
- anything else matches an equal value.

`project` reduces the actual value to the pattern's shape, replacing every part that matches by
the pattern itself, so a diff of pattern and projection shows only what is wrong.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import yaml

MATCHERS = ("contains", "matches")
MISSING = "<missing>"


def is_matcher(pattern: Any) -> bool:
    return isinstance(pattern, dict) and len(pattern) == 1 and next(iter(pattern)) in MATCHERS


def matches(pattern: Any, actual: Any) -> bool:
    """True when ``actual`` satisfies ``pattern`` (see the module docstring)."""
    if is_matcher(pattern):
        (kind, expected), = pattern.items()
        if kind == "matches":
            return actual is not None and re.search(str(expected), _text(actual)) is not None
        if isinstance(actual, str):
            return str(expected) in actual
        if isinstance(actual, list):
            return any(matches(expected, item) for item in actual)
        return False
    if isinstance(pattern, dict):
        return isinstance(actual, dict) and all(
            key in actual and matches(value, actual[key]) for key, value in pattern.items()
        )
    if isinstance(pattern, list):
        return (isinstance(actual, list) and len(pattern) == len(actual)
                and all(matches(p, a) for p, a in zip(pattern, actual)))
    if isinstance(pattern, (int, float)) and isinstance(actual, (int, float)):
        return pattern == actual and isinstance(pattern, bool) == isinstance(actual, bool)
    return bool(pattern == actual)


def project(pattern: Any, actual: Any) -> Any:
    """``actual`` in the shape of ``pattern``; equal to ``pattern`` wherever it matches."""
    if matches(pattern, actual):
        return pattern
    if is_matcher(pattern):
        return actual
    if isinstance(pattern, dict) and isinstance(actual, dict):
        return {key: project(value, actual[key]) if key in actual else MISSING
                for key, value in pattern.items()}
    if isinstance(pattern, list) and isinstance(actual, list):
        return [project(pattern[i], item) if i < len(pattern) else item
                for i, item in enumerate(actual)]
    return actual


def diff(pattern: Any, actual: Any) -> str:
    """A unified diff, expected (`-`) against actual (`+`), of the parts the pattern names."""
    expected_lines = _dump(pattern).splitlines()
    actual_lines = _dump(project(pattern, actual)).splitlines()
    lines = difflib.unified_diff(expected_lines, actual_lines, "expected", "actual", lineterm="", n=2)
    return "\n".join(lines)


def _dump(value: Any) -> str:
    if isinstance(value, str) and "\n" not in value:
        return value
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, width=100)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, default_flow_style=True).strip()
