"""Fresh store ids for assistant messages, whatever id the model gave them.

Chat Completions models (and scripted test models) give every message the same id, and the SDK's
`stream_agent_response` reuses it as the thread item id: the second reply then overwrites the first in
the store and in the client. Each message the model starts gets a new id from the store instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from chatkit.types import (
    AssistantMessageItem,
    ClientToolCallItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)


class FreshItemIds:
    """Rewrites assistant message ids in one turn's event stream."""

    def __init__(self, new_id: Callable[[], str]):
        self._new_id = new_id
        self._open: dict[str, str] = {}  # model's id → our id, while the message streams
        self._last: dict[str, str] = {}  # model's id → our id of its latest message (for removals)

    async def rewrite(
        self, events: AsyncIterator[ThreadStreamEvent]
    ) -> AsyncIterator[ThreadStreamEvent]:
        async for event in events:
            yield self._rewrite(event)

    def _rewrite(self, event: ThreadStreamEvent) -> ThreadStreamEvent:
        if isinstance(event, ThreadItemAddedEvent) and isinstance(event.item, AssistantMessageItem):
            ours = self._new_id()
            self._open[event.item.id] = ours
            return event.model_copy(update={"item": event.item.model_copy(update={"id": ours})})
        if isinstance(event, ThreadItemUpdatedEvent) and event.item_id in self._open:
            return event.model_copy(update={"item_id": self._open[event.item_id]})
        if isinstance(event, ThreadItemDoneEvent) and isinstance(event.item, AssistantMessageItem):
            ours = self._open.pop(event.item.id, None) or self._new_id()
            self._last[event.item.id] = ours
            return event.model_copy(update={"item": event.item.model_copy(update={"id": ours})})
        if isinstance(event, ThreadItemDoneEvent) and isinstance(event.item, ClientToolCallItem):
            # Its id comes from the model's call item too: the same fake id for every call.
            return event.model_copy(update={"item": event.item.model_copy(update={"id": self._new_id()})})
        if isinstance(event, ThreadItemRemovedEvent):
            ours = self._open.get(event.item_id) or self._last.get(event.item_id)
            if ours:
                return event.model_copy(update={"item_id": ours})
        return event
