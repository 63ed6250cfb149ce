"""Approval nodes: the run asks, stops, and goes on when the answer comes — on any replica, after
any restart.

The question is ChatKit's own structured-input item (the form item), with Approve and Reject as its
choices, so it is answered with `threads.add_structured_input` like any form and needs no widget
file. Everything the run needs to go on — where it stopped, its state, the outputs so far, the
items its agents added to the conversation in that turn — is kept in the thread's metadata, which is
in the store: the replica that gets the answer resumes from there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chatkit.types import (
    StructuredInputItem,
    StructuredInputMultipleChoice,
    StructuredInputMultipleChoiceOption,
    ThreadItem,
    ThreadMetadata,
)

PAUSED = "workflow_paused"
"""Thread metadata key: the run waiting for an approval."""
QUESTION = "approval"
"""The id of the approval's one question."""
APPROVE, REJECT = "Approve", "Reject"


@dataclass(frozen=True)
class Resumption:
    """A paused run, and the node its answer sends it to."""

    record: dict[str, Any]
    node: str
    approved: bool


def approval_item(item_id: str, thread_id: str, question: str) -> StructuredInputItem:
    return StructuredInputItem(
        id=item_id, thread_id=thread_id, created_at=datetime.now(),
        inputs=[StructuredInputMultipleChoice(
            id=QUESTION, question=question,
            options=[StructuredInputMultipleChoiceOption(value=APPROVE),
                     StructuredInputMultipleChoiceOption(value=REJECT)])],
    )


def pause(thread: ThreadMetadata, record: dict[str, Any]) -> None:
    """Keep `record` with the thread (made plain JSON: it is stored with the thread's metadata)."""
    thread.metadata[PAUSED] = json.loads(json.dumps(record, default=str))


def take_resumption(thread: ThreadMetadata, items: list[ThreadItem], workflow: Any) -> Resumption | None:
    """The paused run of `workflow` the thread's last item answers, taken out of the thread.

    Any other turn abandons a paused run: a new message starts the workflow afresh.
    """
    record = thread.metadata.pop(PAUSED, None)
    last = items[-1] if items else None
    if not isinstance(record, dict) or not isinstance(last, StructuredInputItem) or last.id != record.get("item_id") \
            or last.status == "pending" or record.get("workflow") != workflow.name:
        return None
    node = workflow.config.nodes.get(record.get("node"))
    if node is None or node.approval is None:
        return None  # the workflow changed under the paused run (a reload): start afresh
    answer = next((q.answer for q in last.inputs if q.id == QUESTION), None)
    approved = last.status == "answered" and answer is not None and not answer.skipped \
        and [value.strip().lower() for value in answer.values] == [APPROVE.lower()]
    return Resumption(record, node.approval.approve if approved else node.approval.reject, approved)
