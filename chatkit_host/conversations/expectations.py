"""A step's `expect` mapping checked against what the step observed; failures carry a diff."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from chatkit_host.conversations.matching import diff, matches
from chatkit_host.conversations.spec import Step

NOT_IN_INPUT = "<not in the model input>"

NOTHING = {
    "widget": "the step showed no widget",
    "client_tool": "the step made no client tool call",
    "form": "the step asked no form",
    "thread": "there is no thread",
    "state": "the host keeps no thread state (no `state` in chatkit.yaml)",
    "workflow": "the step ran no workflow",
}


@dataclass(frozen=True)
class Failure:
    """One unmet expectation (or an unexpected refusal) of one step."""

    step: Step
    index: int
    """0-based index of the step in its conversation."""
    key: str
    """The expectation key (`assistant`, `items`, …), or `request` when the request itself failed."""
    message: str
    diff: str | None = None


def check_step(step: Step, index: int, observed: dict[str, Any],
               only: tuple[str, ...] | None = None) -> list[Failure]:
    """Every expectation of ``step`` that ``observed`` (key → actual value) does not meet."""
    failures = []
    for key, pattern in step.expect.items():
        if only is not None and key not in only:
            continue
        problem = _CHECKS.get(key, _plain)(key, pattern, observed.get(key))
        if problem is not None:
            message, difference = problem
            failures.append(Failure(step, index, key, message, difference))
    return failures


Problem = tuple[str, str | None] | None


def _plain(key: str, pattern: Any, actual: Any) -> Problem:
    if actual is None and key in NOTHING:
        return NOTHING[key], None
    if matches(pattern, actual):
        return None
    return "does not match", diff(pattern, actual)


def _error(key: str, pattern: Any, actual: Any) -> Problem:
    if actual is None:
        return "expected the request to be refused, but it was answered", None
    return _plain(key, pattern, actual)


def _items(key: str, pattern: Any, actual: list[dict[str, Any]]) -> Problem:
    """`items: [user_message, {type: widget, …}]`: a bare name stands for `{type: NAME}`."""
    if isinstance(pattern, list) and all(isinstance(p, str) for p in pattern):
        return _plain(key, pattern, [item["type"] for item in actual])
    if isinstance(pattern, list):
        pattern = [{"type": p} if isinstance(p, str) else p for p in pattern]
    return _plain(key, pattern, actual)


def _model_input(key: str, pattern: Any, calls: list[dict[str, Any]]) -> Problem:
    """`calls` (how many model calls), and of the last call: `instructions`, `tools`, `includes`."""
    if not calls:
        return "the model was not called in this step", None
    if not isinstance(pattern, dict):
        return "write model_input as a mapping of calls, instructions, tools, includes", None
    last = calls[-1]
    actual: dict[str, Any] = {}
    for name in pattern:
        if name == "calls":
            actual[name] = len(calls)
        elif name == "includes":
            entries = pattern[name] if isinstance(pattern[name], list) else [pattern[name]]
            actual[name] = [e if _included(e, last["input"]) else NOT_IN_INPUT for e in entries]
            if not isinstance(pattern[name], list):
                actual[name] = actual[name][0]
        else:
            actual[name] = last.get(name)
    if matches(pattern, actual):
        return None
    summary = "\n".join(f"  {line}" for line in _input_summary(last["input"]))
    return ("does not match", diff(pattern, actual) + f"\nthe model's input was:\n{summary}")


def _included(entry: Any, items: list[dict[str, Any]]) -> bool:
    if isinstance(entry, str):
        return any(entry in text for text in _strings(items))
    return any(matches(entry, item) for item in items)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _input_summary(items: list[dict[str, Any]]) -> Iterator[str]:
    for item in items:
        label = item.get("role") or item.get("type") or "?"
        if item.get("type") == "function_call":
            text = f"{item.get('name')}({item.get('arguments')})"
        elif item.get("type") == "function_call_output":
            text = str(item.get("output"))
        else:
            content = item.get("content", "")
            parts = content if isinstance(content, list) else [{"text": content}]
            text = " ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))
        text = " ".join(text.split())
        yield f"{label}: {text[:117] + '…' if len(text) > 120 else text}"


def _workflow(key: str, pattern: Any, actual: dict[str, Any] | None) -> Problem:
    """`workflow: [classify, route, book]` (the nodes, in order) or `{name: support, nodes: [...]}`."""
    if actual is not None and isinstance(pattern, list):
        return _plain(key, pattern, actual["nodes"])
    return _plain(key, pattern, actual)


_CHECKS: dict[str, Callable[[str, Any, Any], Problem]] = {
    "workflow": _workflow,
    "error": _error,
    "items": _items,
    "model_input": _model_input,
}
