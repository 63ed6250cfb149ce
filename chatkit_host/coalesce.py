"""Coalescing assistant text deltas: fewer, larger events with the same text.

The SDK turns every text delta a model streams into its own `thread.item.updated` event, and each
event costs a pydantic model, a JSON serialization, an SSE frame and a socket write. Deltas that
arrive within a short flush window are merged into one event here, so the client receives the same
text, byte for byte, in fewer pieces (issue 10). Configured by `stream.coalesce_ms`; 0 turns it off.

What a caller may rely on:

- Only consecutive `assistant_message.content_part.text_delta` updates of the same item and
  content index are merged; every other event passes through unchanged and in order.
- Buffered text is flushed before any other event, when the window (counted from the first
  buffered delta) expires, and at the end of the stream; an upstream error is raised after the
  flush.
- The upstream is read ahead only while it yields text deltas: after any other event it waits until
  that event has been consumed downstream, so the store writes the SDK makes for it (items done,
  removed, replaced) happen before the upstream goes on.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from chatkit.types import (
    AssistantMessageContentPartTextDelta,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)


def coalesce_text_deltas(
    events: AsyncIterator[ThreadStreamEvent], window_ms: float
) -> AsyncIterator[ThreadStreamEvent]:
    """``events`` with text deltas arriving within ``window_ms`` of each other merged; ``events``
    itself when ``window_ms`` is 0."""
    if window_ms <= 0:
        return events
    return _coalesced(events, window_ms / 1000)


def _is_text_delta(event: ThreadStreamEvent) -> bool:
    return isinstance(event, ThreadItemUpdatedEvent) and isinstance(
        event.update, AssistantMessageContentPartTextDelta
    )


class _Merged:
    """Text deltas of one item and content index, waiting to go out as one event."""

    def __init__(self, first: ThreadItemUpdatedEvent, deadline: float):
        self.first = first
        self.update: AssistantMessageContentPartTextDelta = first.update  # type: ignore[assignment]
        self.parts = [self.update.delta]
        self.deadline = deadline

    def accepts(self, event: ThreadItemUpdatedEvent) -> bool:
        return (
            event.item_id == self.first.item_id
            and event.update.content_index == self.update.content_index  # type: ignore[union-attr]
        )

    def event(self) -> ThreadItemUpdatedEvent:
        if len(self.parts) == 1:
            return self.first
        update = self.update.model_copy(update={"delta": "".join(self.parts)})
        return self.first.model_copy(update={"update": update})


async def _coalesced(
    events: AsyncIterator[ThreadStreamEvent], window: float
) -> AsyncIterator[ThreadStreamEvent]:
    loop = asyncio.get_running_loop()
    upstream = _ReadAhead(events)
    merged: _Merged | None = None
    try:
        while True:
            if upstream.ready:
                event = upstream.ready.popleft()
                if _is_text_delta(event):
                    if merged is not None and merged.accepts(event):  # type: ignore[arg-type]
                        merged.parts.append(event.update.delta)  # type: ignore[union-attr]
                        if loop.time() < merged.deadline:
                            continue
                        flushed, merged = merged.event(), None
                        yield flushed
                        continue
                    if merged is not None:
                        flushed, merged = merged.event(), None
                        yield flushed
                    merged = _Merged(event, loop.time() + window)  # type: ignore[arg-type]
                    continue
                if merged is not None:
                    flushed, merged = merged.event(), None
                    yield flushed
                yield event
                upstream.resume()
                continue
            if upstream.finished:
                break
            if merged is None:
                await upstream.arrival(None)
            elif not await upstream.arrival(merged.deadline - loop.time()):
                flushed, merged = merged.event(), None
                yield flushed
        if merged is not None:
            yield merged.event()
        if upstream.error is not None:
            raise upstream.error
    finally:
        upstream.close()


class _ReadAhead:
    """Iterates ``events`` in its own task, so the consumer can wait for "next event or deadline"
    without a task (and a loop turn) per event."""

    def __init__(self, events: AsyncIterator[ThreadStreamEvent]):
        self.ready: deque[ThreadStreamEvent] = deque()
        self.finished = False
        self.error: BaseException | None = None
        self._loop = asyncio.get_running_loop()
        self._arrived: asyncio.Future[bool] | None = None
        self._consumed: asyncio.Future[None] | None = None
        self._task = self._loop.create_task(self._run(events))

    async def _run(self, events: AsyncIterator[ThreadStreamEvent]) -> None:
        try:
            async for event in events:
                self.ready.append(event)
                self._signal(True)
                if not _is_text_delta(event):
                    self._consumed = self._loop.create_future()
                    await self._consumed
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
            self.error = error
        finally:
            self.finished = True
            self._signal(True)

    async def arrival(self, timeout: float | None) -> bool:
        """Wait until an event arrives or the upstream ends (True), or ``timeout`` passes (False)."""
        if timeout is not None and timeout <= 0:
            return False
        self._arrived = waiter = self._loop.create_future()
        timer = None if timeout is None else self._loop.call_later(timeout, _settle, waiter, False)
        try:
            return await waiter
        finally:
            self._arrived = None
            if timer is not None:
                timer.cancel()

    def resume(self) -> None:
        """The last non-delta event was consumed: let the upstream go on."""
        _settle(self._consumed, None)

    def close(self) -> None:
        self._task.cancel()

    def _signal(self, value: bool) -> None:
        _settle(self._arrived, value)


def _settle(future: asyncio.Future | None, value: object) -> None:  # type: ignore[type-arg]
    if future is not None and not future.done():
        future.set_result(value)
