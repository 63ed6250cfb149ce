"""A workflow's steps as ChatKit's own workflow item: one `CustomTask` per step, streamed with
`WorkflowTaskAdded` / `WorkflowTaskUpdated`, so ChatKit.js shows them without a custom widget.

The item is closed (a `ThreadItemDoneEvent`, which the SDK saves) before anything the user reads
appears after it — an agent's reply, an end message — and a new one opens for steps after that, the
way ChatKit closes a workflow when a message follows it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chatkit.types import (
    CustomTask,
    DurationSummary,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    Workflow,
    WorkflowItem,
    WorkflowTaskAdded,
    WorkflowTaskUpdated,
)


class Progress:
    """The open workflow item of one run, if any, and the events that change it."""

    def __init__(self, thread_id: str, new_id: Callable[[], str]) -> None:
        self.thread_id, self.new_id = thread_id, new_id
        self.item: WorkflowItem | None = None
        self.closed: set[str] = set()
        """Ids of items this run has closed (the SDK may try to close one again)."""

    def start(self, title: str) -> tuple[int, list[ThreadStreamEvent]]:
        """A new task, shown as running; its index and the events that show it."""
        task = CustomTask(title=title, status_indicator="loading")
        if self.item is None:
            self.item = WorkflowItem(
                id=self.new_id(), thread_id=self.thread_id, created_at=datetime.now(),
                workflow=Workflow(type="custom", tasks=[task], expanded=True),
            )
            return 0, [ThreadItemAddedEvent(item=self.item)]
        self.item.workflow.tasks.append(task)
        index = len(self.item.workflow.tasks) - 1
        return index, [ThreadItemUpdatedEvent(item_id=self.item.id,
                                              update=WorkflowTaskAdded(task=task, task_index=index))]

    def finish(self, index: int, content: str | None = None) -> list[ThreadStreamEvent]:
        """Mark task `index` done, with an optional line of content."""
        if self.item is None:
            return []
        task = self.item.workflow.tasks[index]
        assert isinstance(task, CustomTask)
        done = task.model_copy(update={"status_indicator": "complete", "content": content or task.content})
        self.item.workflow.tasks[index] = done
        return [ThreadItemUpdatedEvent(item_id=self.item.id, update=WorkflowTaskUpdated(task=done, task_index=index))]

    def step(self, title: str, content: str | None = None) -> list[ThreadStreamEvent]:
        """A task that is done as soon as it is shown (a branch taken, a loop round)."""
        index, events = self.start(title)
        return events + self.finish(index, content)

    def close(self) -> list[ThreadStreamEvent]:
        """Close the open item (it is saved with the thread); nothing when none is open."""
        item, self.item = self.item, None
        if item is None:
            return []
        seconds = int((datetime.now() - item.created_at).total_seconds())
        item.workflow.summary = DurationSummary(duration=seconds)
        item.workflow.expanded = False
        self.closed.add(item.id)
        return [ThreadItemDoneEvent(item=item)]
