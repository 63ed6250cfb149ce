"""Widgets that stream their text: a `Text` or `Markdown` component with an `id` first appears
with its value empty, and each later state only appends to it, which the SDK's `diff_widget` turns
into `widget.streaming_text.value_delta` events instead of whole-widget replacements.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from typing import Any

from chatkit.widgets import DynamicWidgetRoot, WidgetRoot

from chatkit_host.runtime.widgets import widget_json

_WORDS = re.compile(r"\S+\s*|\s+")
_MAX_DELTAS = 12
"""Most deltas one component streams in (words are grouped to stay under it)."""


def streaming_states(widget: WidgetRoot) -> list[WidgetRoot]:
    """The states a widget streams through; just `[widget]` when nothing in it streams."""
    final = widget_json(widget)
    paths = list(_streaming_paths(final, ()))
    if not paths:
        return [widget]
    values = [_get(final, path)["value"] for path in paths]
    current = widget_json(widget)
    for path in paths:
        _get(current, path)["value"] = ""
    states: list[WidgetRoot] = [DynamicWidgetRoot.model_validate(current)]
    for path, value in zip(paths, values):
        words = _WORDS.findall(value)
        size = max(1, -(-len(words) // _MAX_DELTAS))
        for end in range(size, len(words) + size, size):
            _get(current, path)["value"] = "".join(words[:end])
            states.append(DynamicWidgetRoot.model_validate(current))
    return states


async def stream_states(widget: WidgetRoot) -> AsyncGenerator[WidgetRoot, None]:
    """`streaming_states` as the async generator the SDK's `stream_widget` takes."""
    for state in streaming_states(widget):
        yield state


def _streaming_paths(node: Any, path: tuple[int, ...]) -> Any:
    if not isinstance(node, dict):
        return
    if node.get("type") in ("Text", "Markdown") and node.get("id") and isinstance(node.get("value"), str):
        yield path
    children = node.get("children")
    if isinstance(children, list):
        for index, child in enumerate(children):
            yield from _streaming_paths(child, (*path, index))


def _get(tree: dict[str, Any], path: tuple[int, ...]) -> dict[str, Any]:
    for index in path:
        tree = tree["children"][index]
    return tree
