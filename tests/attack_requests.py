"""Hostile ChatKit requests for the fuzz tests and the attack pass: every request type of the SDK,
first built valid from its request models, then given hostile leaves.

A request starts as a valid instance of `chatkit.types.ChatKitReq` (checked against the SDK's own
models, so the fuzz reaches past parsing), naming the ids it is given; hypothesis then swaps some of
its leaves for NUL and control characters, bidi and astral unicode, numbers past 64 bits, deep
nesting or text shaped like a template, a path or SQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from chatkit.types import ChatKitReq
from hypothesis import strategies as st
from pydantic import TypeAdapter

REQUEST = TypeAdapter(ChatKitReq)

HOSTILE_WORDS = [
    "\x00", "a\x00b", "\r\nSet-Cookie: x=1", "\x1b[31mred\x1b[0m", "\u202egnp.exe", "\ufeff", "\ud7ff",
    "\U0001d54f" * 50, "../../etc/passwd", "..", "%2e%2e%2f", "{{ 7*7 }}", "{% raw %}", "' OR 1=1 --",
    "\\u0000", "<script>alert(1)</script>", "thr_" + "0" * 5000, "", " ", "\t", "null",
]
hostile_text = st.one_of(
    st.sampled_from(HOSTILE_WORDS),
    st.text(max_size=60),
    st.text(st.characters(max_codepoint=0x1F), min_size=1, max_size=20),  # control characters
    st.text(st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF), min_size=1, max_size=20),
)
huge_number = st.one_of(
    st.integers(min_value=2**63 - 2, max_value=2**90), st.integers(min_value=-(2**90), max_value=-(2**63) + 1),
    st.sampled_from([-1, 0, 2**31, 1e308, -1e308, 5e-324]),
)


def nested(depth: int) -> Any:
    """`depth` levels of lists and objects, alternating."""
    value: Any = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


deep_value = st.integers(min_value=30, max_value=400).map(nested)
hostile_value = st.one_of(
    hostile_text, huge_number, deep_value, st.none(), st.booleans(),
    st.lists(hostile_text, max_size=5), st.dictionaries(hostile_text, hostile_text, max_size=3),
)


def user_input(text: str, attachments: list[str] | None = None) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": attachments or [],
            "quoted_text": None, "inference_options": {"tool_choice": None, "model": None}}


Ids = Mapping[str, str]
"""`thread`, `item`, `attachment` (and `widget`): the ids a request may name."""

TEMPLATES: dict[str, Callable[[Ids], dict[str, Any]]] = {
    "threads.get_by_id": lambda ids: {"thread_id": ids["thread"]},
    "threads.create": lambda ids: {"input": user_input("hello", [ids["attachment"]])},
    "threads.list": lambda ids: {"limit": 5, "order": "desc", "after": ids["thread"]},
    "threads.add_user_message": lambda ids: {"thread_id": ids["thread"], "input": user_input("more")},
    "threads.add_client_tool_output": lambda ids: {"thread_id": ids["thread"], "result": {"ok": True}},
    "threads.add_structured_input": lambda ids: {
        "thread_id": ids["thread"], "item_id": ids["item"],
        "input": {"status": "answered", "answers": {"priority": {"values": ["High"], "skipped": False}}}},
    "threads.custom_action": lambda ids: {
        "thread_id": ids["thread"], "item_id": ids["widget"], "action": {"type": "note.add", "payload": {"note": "x"}}},
    "threads.sync_custom_action": lambda ids: {
        "thread_id": ids["thread"], "item_id": ids["widget"], "action": {"type": "note.add", "payload": {"note": "x"}}},
    "threads.retry_after_item": lambda ids: {"thread_id": ids["thread"], "item_id": ids["item"]},
    "items.feedback": lambda ids: {"thread_id": ids["thread"], "item_ids": [ids["item"]], "kind": "positive"},
    "items.list": lambda ids: {"thread_id": ids["thread"], "limit": 10, "order": "asc", "after": ids["item"]},
    "attachments.create": lambda ids: {"name": "a.png", "size": 100, "mime_type": "image/png"},
    "attachments.delete": lambda ids: {"attachment_id": ids["attachment"]},
    "input.transcribe": lambda ids: {"audio_base64": "AAAA", "mime_type": "audio/webm"},
    "threads.update": lambda ids: {"thread_id": ids["thread"], "title": "renamed"},
    "threads.delete": lambda ids: {"thread_id": ids["thread"]},
}
"""One valid request of each of the SDK's request types (a test checks the list is complete)."""


def valid_request(kind: str, ids: Ids) -> dict[str, Any]:
    """A request of type `kind` that the SDK's models accept."""
    request = {"type": kind, "params": TEMPLATES[kind](ids), "metadata": {}}
    REQUEST.validate_python(request)
    return request


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every node under `value` (mappings and lists), the root excluded."""
    found: list[tuple[Any, ...]] = []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


@st.composite
def sdk_request(draw: st.DrawFn, id_sets: list[Ids]) -> dict[str, Any]:
    """A request of any ChatKit type, built valid, then with hostile text in some of its strings
    (still valid: it reaches the handlers) or hostile values anywhere (the type checks meet it)."""
    kind = draw(st.sampled_from(sorted(TEMPLATES)))
    request: Any = valid_request(kind, draw(st.sampled_from(id_sets)))
    paths = [path for path in _paths(request) if path != ("type",)]
    keep_types = draw(st.booleans())
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(paths))
        current = _dig(request, path)
        if keep_types and not isinstance(current, str):
            continue
        request = _replaced(request, path, draw(hostile_text if keep_types else hostile_value))
        paths = [p for p in _paths(request) if p != ("type",)]
    if draw(st.integers(min_value=0, max_value=9)) == 0:  # a stray key at the top or in params
        where = draw(st.sampled_from([(), ("params",)]))
        holder = _dig(request, where)
        if isinstance(holder, dict):
            request = _replaced(request, where, {**holder, draw(hostile_text): draw(hostile_value)})
    return request


def _dig(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def encoded(request: Any) -> bytes:
    """The request as the bytes a client sends (lone surrogates kept, as a broken client would)."""
    return json.dumps(request).encode("utf-8", "surrogatepass")
