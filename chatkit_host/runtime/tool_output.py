"""A tool's return value as the model reads it: one form, in the turn and in every later one (#18).

The Agents SDK hands the model `str(value)` — a Python repr like `{'id': 'A-1'}` — while the thread
kept the same value as ASCII-escaped JSON for later turns, so the model saw two spellings of one
result and a provider's prompt cache missed on every follow-up. Now both are compact JSON with
text left unescaped (the SDK's own form for schema outputs); a string is passed on as it is, and
the SDK's structured outputs (text, image, file parts) keep their shape.
"""

from __future__ import annotations

import json
from typing import Any

from agents import ItemHelpers
from pydantic import BaseModel


def tool_output_text(value: Any) -> Any:
    """``value`` as the model reads it: a str, or the SDK's structured output parts."""
    if isinstance(value, str):
        return value
    structured = ItemHelpers._convert_tool_output_as_structured(value)  # noqa: SLF001
    if structured is not None:
        return structured
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"), default=str)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value
