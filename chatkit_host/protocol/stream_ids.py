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
        self._given: dict[str, list[str]] = {}  # model's id → every id we gave its messages

    async def rewrite(
        self, events: AsyncIterator[ThreadStreamEvent]
    ) -> AsyncIterator[ThreadStreamEvent]:
        async for event in events:
            if isinstance(event, ThreadItemRemovedEvent):
                # After a guardrail trips the SDK removes each id it produced once; with a fake id
                # shared by several messages, that one removal stands for all of them.
                for ours in self._given.pop(event.item_id, None) or [event.item_id]:
                    yield event.model_copy(update={"item_id": ours})
                self._open.pop(event.item_id, None)
                continue
            yield self._rewrite(event)

    def _rewrite(self, event: ThreadStreamEvent) -> ThreadStreamEvent:
        if isinstance(event, ThreadItemAddedEvent) and isinstance(event.item, AssistantMessageItem):
            ours = self._new_id()
            self._open[event.item.id] = ours
            self._given.setdefault(event.item.id, []).append(ours)
            return event.model_copy(update={"item": event.item.model_copy(update={"id": ours})})
        if isinstance(event, ThreadItemUpdatedEvent) and event.item_id in self._open:
            return event.model_copy(update={"item_id": self._open[event.item_id]})
        if isinstance(event, ThreadItemDoneEvent) and isinstance(event.item, AssistantMessageItem):
            ours = self._open.pop(event.item.id, "")
            if not ours:
                ours = self._new_id()
                self._given.setdefault(event.item.id, []).append(ours)
            return event.model_copy(update={"item": event.item.model_copy(update={"id": ours})})
        if isinstance(event, ThreadItemDoneEvent) and isinstance(event.item, ClientToolCallItem):
            # Its id comes from the model's call item too: the same fake id for every call.
            return event.model_copy(update={"item": event.item.model_copy(update={"id": self._new_id()})})
        return event
