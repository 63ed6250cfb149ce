"""Coalescing a model's text deltas: fewer, larger events with the same text.

A model streams its reply a token or a word at a time, and every delta costs the Agents SDK's
runner, ChatKit's `stream_agent_response`, a pydantic event, a JSON serialization, an SSE frame and
a socket write. Deltas that arrive within a short flush window are merged here, as they leave the
model, so every layer after it handles one event per flush instead of one per delta and the client
receives the same text, byte for byte, in fewer pieces (issue 10). Configured by
`stream.coalesce_ms`; 0 turns it off.

What a caller may rely on:

- Only consecutive `response.output_text.delta` events of the same item, output and content index
  are merged; every other event passes through unchanged and in order.
- The first delta of each item and content index goes out at once: a reply's first words are
  never held for the window, only what follows them.
- Buffered text is flushed before any other event, when the window (counted from the first
  buffered delta) expires, and at the end of the stream; an upstream error is raised after the
  flush.
- The upstream is read ahead only while it yields text deltas: after any other event it waits until
  that event has been consumed downstream, so whatever the runner does with it (tool calls, item
  bookkeeping) happens before the model goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from agents.items import TResponseStreamEvent
from agents.models.interface import Model
from openai.types.responses import ResponseTextDeltaEvent

from chatkit_host.runtime.models import chains_responses


class CoalescingModel(Model):
    """``model`` with the text deltas of its streamed responses coalesced; everything else, the
    model's own (its name, whether it chains responses, how it closes)."""

    def __init__(self, model: Model, window_ms: float):
        self.model = model
        self.window = window_ms / 1000
        self.chains = chains_responses(model)

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        return await self.model.get_response(*args, **kwargs)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        return _coalesced(self.model.stream_response(*args, **kwargs), self.window)

    def get_retry_advice(self, request: Any) -> Any:
        return self.model.get_retry_advice(request)

    async def _cleanup_on_run_end(self, owner: object) -> None:
        await self.model._cleanup_on_run_end(owner)

    async def close(self) -> None:
        await self.model.close()

    def __getattr__(self, name: str) -> Any:
        # Whatever else callers read off a model (`model_name`, a scripted model's script) is the
        # wrapped model's. Not `model` itself: a copy made without __init__ must not recurse.
        if name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)


def coalescing(model: Any, window_ms: float) -> Any:
    """``model`` wrapped in a `CoalescingModel`; unchanged when coalescing is off, it is a name the
    SDK resolves later, or it is wrapped already."""
    if window_ms <= 0 or not isinstance(model, Model) or isinstance(model, CoalescingModel):
        return model
    return CoalescingModel(model, window_ms)


class _Merged:
    """Text deltas of one item and content index, waiting to go out as one event."""

    def __init__(self, first: ResponseTextDeltaEvent, deadline: float):
        self.first = first
        self.last = first
        self.parts = [first.delta]
        self.logprobs = list(first.logprobs or ())
        self.deadline = deadline

    def accepts(self, event: ResponseTextDeltaEvent) -> bool:
        return (
            event.item_id == self.first.item_id
            and event.output_index == self.first.output_index
            and event.content_index == self.first.content_index
        )

    def add(self, event: ResponseTextDeltaEvent) -> None:
        self.parts.append(event.delta)
        if event.logprobs:
            self.logprobs.extend(event.logprobs)
        self.last = event

    def event(self) -> ResponseTextDeltaEvent:
        if len(self.parts) == 1:
            return self.first
        return self.first.model_copy(update={
            "delta": "".join(self.parts),
            "logprobs": self.logprobs,
            # Later events carry higher numbers: the merged one takes its last delta's.
            "sequence_number": self.last.sequence_number,
        })


async def _coalesced(
    events: AsyncIterator[TResponseStreamEvent], window: float
) -> AsyncIterator[TResponseStreamEvent]:
    loop = asyncio.get_running_loop()
    upstream = _ReadAhead(events)
    merged: _Merged | None = None
    expired = False
    started: set[tuple[str, int, int]] = set()  # item, output and content index with text sent
    try:
        while True:
            # Everything that arrived is merged or passed on before the window is looked at, so
            # deltas that came in while this waited for the deadline still join its flush. What
            # arrives meanwhile goes to a fresh list (a non-delta is always the last of a batch:
            # the upstream waits until it is consumed).
            batch, upstream.ready = upstream.ready, []
            for event in batch:
                if isinstance(event, ResponseTextDeltaEvent):
                    if merged is not None and merged.accepts(event):
                        merged.add(event)
                        continue
                    if merged is not None:
                        flushed, merged = merged.event(), None
                        yield flushed
                    part = (event.item_id, event.output_index, event.content_index)
                    if part not in started:
                        started.add(part)
                        yield event
                        continue
                    merged, expired = _Merged(event, loop.time() + window), False
                    continue
                if merged is not None:
                    flushed, merged = merged.event(), None
                    yield flushed
                yield event
                upstream.resume()
            if upstream.ready:
                continue
            if merged is not None and (expired or loop.time() >= merged.deadline):
                flushed, merged = merged.event(), None
                yield flushed
                continue
            if upstream.finished:
                break
            if merged is None:
                await upstream.arrival(None, None)
            else:
                expired = not await upstream.arrival(merged.deadline - loop.time(), merged)
        if merged is not None:
            yield merged.event()
        if upstream.error is not None:
            raise upstream.error
    finally:
        upstream.close()


class _ReadAhead:
    """Iterates ``events`` in its own task, so the consumer can wait for "next event or deadline"
    without a task (and a loop turn) per event. While the consumer holds a merge open it is woken
    only by what ends the merge early (another kind of event, a delta of another item, the end of
    the stream), not by every delta that joins it: with a model pacing its deltas, that is one wake
    per flush window instead of one per delta."""

    # Slots and a list: one of these lives as long as its stream, idle or not (an empty deque
    # alone holds a 64-slot block).
    __slots__ = ("ready", "finished", "error", "_loop", "_arrived", "_merging", "_consumed", "_task")

    def __init__(self, events: AsyncIterator[TResponseStreamEvent]):
        self.ready: list[TResponseStreamEvent] = []
        self.finished = False
        self.error: BaseException | None = None
        self._loop = asyncio.get_running_loop()
        self._arrived: asyncio.Future[bool] | None = None
        self._merging: _Merged | None = None
        self._consumed: asyncio.Future[None] | None = None
        self._task = self._loop.create_task(self._run(events))

    async def _run(self, events: AsyncIterator[TResponseStreamEvent]) -> None:
        try:
            async for event in events:
                self.ready.append(event)
                if not isinstance(event, ResponseTextDeltaEvent):
                    self._signal(True)
                    self._consumed = self._loop.create_future()
                    await self._consumed
                elif self._merging is None or not self._merging.accepts(event):
                    self._signal(True)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
            self.error = error
        finally:
            self.finished = True
            self._signal(True)

    async def arrival(self, timeout: float | None, merging: _Merged | None) -> bool:
        """Wait until an event arrives that does not join ``merging`` or the upstream ends (True),
        or ``timeout`` passes (False)."""
        if timeout is not None and timeout <= 0:
            return False
        self._arrived = waiter = self._loop.create_future()
        self._merging = merging
        timer = None if timeout is None else self._loop.call_later(timeout, _settle, waiter, False)
        try:
            return await waiter
        finally:
            self._arrived = self._merging = None
            if timer is not None:
                timer.cancel()

    def resume(self) -> None:
        """The last non-delta event was consumed: let the upstream go on."""
        _settle(self._consumed, None)
        self._consumed = None

    def close(self) -> None:
        self._task.cancel()

    def _signal(self, value: bool) -> None:
        _settle(self._arrived, value)


def _settle(future: asyncio.Future[Any] | None, value: object) -> None:
    if future is not None and not future.done():
        future.set_result(value)
