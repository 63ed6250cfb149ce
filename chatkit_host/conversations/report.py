"""Conversation test outcomes as text a person reads in a terminal or a CI log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from chatkit_host.conversations.runner import Outcome


def outcome_lines(outcome: Outcome, relative_to: Path) -> Iterator[str]:
    """`✓ file: name`, or `✗ file: name` followed by each failure with its step, line and diff."""
    conversation = outcome.conversation
    where = _display(conversation.file, relative_to)
    mark = "✓" if outcome.passed else "✗"
    yield f"{mark} {where}: {conversation.name}"
    shown = None
    for failure in outcome.failures:
        step = failure.step
        if failure.index != shown:
            yield f"  step {failure.index + 1} ({where}:{step.line}) {step.describe()}"
            shown = failure.index
        label = "the request" if failure.key == "request" else f"expect.{failure.key}"
        yield f"    {label}: {failure.message}"
        if failure.diff:
            for line in failure.diff.splitlines():
                yield f"      {line}"


def summary_line(outcomes: list[Outcome]) -> str:
    failed = sum(not outcome.passed for outcome in outcomes)
    steps = sum(outcome.steps_run for outcome in outcomes)
    if failed:
        return f"{failed} of {len(outcomes)} conversation(s) failed ({steps} step(s) run)."
    return f"{len(outcomes)} conversation(s) passed ({steps} step(s) run)."


def _display(path: Path, relative_to: Path) -> str:
    try:
        return str(path.resolve().relative_to(relative_to.resolve()))
    except ValueError:
        return str(path)
