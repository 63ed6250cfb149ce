"""One turn at a time per thread, across every process that shares the store: the policy.

Two requests that would both run a turn on one thread (a double click, two tabs, two replicas) would
interleave their items. Before a turn starts, its thread is leased; the lease travels with the stream
and is released when the stream ends, fails, is cancelled or the client leaves. A second turn is
answered 409 `thread_busy` before any stream (`server.turns: reject`) or waits for the first
(`queue`, up to `server.turn_wait`, first come first served: `turn_queue.py`).

The lease itself is the store backend's (`storage/backends/`): an advisory lock on PostgreSQL, a
renewed row on SQLite, an in-process set for memory://. While it is held, the store's writes made
for the turn are fenced (`storage/fences.py`): a turn that lost its lease stops before writing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from chatkit.server import StreamingResult
from chatkit.types import ChatKitReq, is_streaming_req

from chatkit_host.config.models import ServerConfig
from chatkit_host.errors import Refusal
from chatkit_host.protocol.cleanup import finish
from chatkit_host.protocol.turn_queue import WaitingLines
from chatkit_host.storage.leases import Lease, ThreadLeases
from chatkit_host.storage.store import SQLStore


class ThreadBusy(Refusal):
    """Another turn is running on the thread."""

    def __init__(self) -> None:
        super().__init__(409, "thread_busy",
                         "another turn is running on this thread; try again when it has finished")


class TurnLocks:
    """Leases threads for turns, refusing or queueing a second turn; one per host (`turn_locks_for`)."""

    def __init__(self, leases: ThreadLeases, config: ServerConfig):
        self.leases = leases
        self.mode = config.turns
        self.wait = config.turn_wait
        self._lines = WaitingLines()

    async def try_lease(self, thread_id: str, user_id: str | None = None) -> Lease | None:
        """The thread's lease, or None when another turn holds it; with ``user_id`` it carries the
        thread for the turn's first load (`storage/preloaded.py`)."""
        return await self.leases.try_lease(thread_id, user_id)

    async def close(self) -> None:
        """Let go of any resources (leases still held are released by their streams)."""
        await self.leases.close()

    @asynccontextmanager
    async def turn(
        self, request: ChatKitReq, user_id: str, recheck: Callable[[], Awaitable[None]]
    ) -> AsyncIterator[Turn]:
        """Hold ``request``'s thread, if it runs a turn on one, until the block ends — or, when the
        block hands it to a stream with `Turn.keep_while_streaming`, until that stream ends.

        Raises:
            ThreadBusy: Another turn holds the thread (and `queue` waited `turn_wait` in vain).
        """
        thread_id = _turn_thread(request)
        lease = await self._lease(thread_id, user_id, recheck) if thread_id else None
        turn = Turn(lease)
        try:
            with lease.fencing() if lease is not None else nullcontext():
                yield turn
        finally:
            if lease is not None and not turn.handed_over:
                await release(lease)

    def waiting(self, thread_id: str) -> int:
        """How many `queue`d turns of this process wait for ``thread_id``."""
        return self._lines.waiting(thread_id)

    async def _lease(
        self, thread_id: str, user_id: str, recheck: Callable[[], Awaitable[None]]
    ) -> Lease:
        # Behind turns already waiting here, a newcomer queues even if the thread is free now.
        lease = None if self._lines.busy(thread_id) else await self._announced(thread_id, user_id)
        if lease is not None:
            return lease
        if self.mode == "reject":
            raise ThreadBusy()
        lease = await self._lines.wait(thread_id, self.wait, lambda: self._announced(thread_id, user_id))
        if lease is None:
            raise ThreadBusy()
        try:
            # The turn before may have changed the thread (closed it, answered the form).
            await recheck()
        except BaseException:
            await release(lease)
            raise
        return lease

    async def _announced(self, thread_id: str, user_id: str) -> Lease | None:
        """`try_lease`, with a release that wakes the next turn waiting here."""
        lease = await self.try_lease(thread_id, user_id)
        if lease is None:
            return None

        async def release() -> None:
            try:
                await lease.release()
            finally:
                self._lines.freed(thread_id)

        return Lease(release, lease.fence, lease.preloaded)


async def release(lease: Lease) -> None:
    """Release ``lease`` to the end, even from a cancelled request (the ASGI server cancels every
    await of a cancelled request again)."""
    await finish(lease.release())


class Turn:
    """The lease of one request; hand it to the stream so it outlives the request handler."""

    def __init__(self, lease: Lease | None):
        self._lease = lease
        self.handed_over = False

    def keep_while_streaming(self, result: Any) -> Any:
        """``result``, holding the lease until its stream ends when it is a stream."""
        if self._lease is None or not isinstance(result, StreamingResult):
            return result
        self.handed_over = True
        return _LeasedStream(result, self._lease)


class _LeasedStream(StreamingResult):
    """A stream that releases its thread's lease when it ends, however it ends."""

    _pending: set[asyncio.Task[None]] = set()

    def __init__(self, inner: StreamingResult, lease: Lease):
        super().__init__(inner.json_events)
        self._lease = lease
        self._loop = asyncio.get_running_loop()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            with self._lease.fencing():
                async for event in self.json_events:
                    yield event
        finally:
            # Runs after the SDK's own clean-up (it is inside json_events): the next turn sees
            # everything this one saved.
            await release(self._lease)

    def __del__(self) -> None:
        # A client that leaves before the first byte: the ASGI server never starts the stream.
        if not self._lease.released and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._release_later)

    def _release_later(self) -> None:
        task = self._loop.create_task(release(self._lease))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)


def _turn_thread(request: ChatKitReq) -> str | None:
    """The thread a request runs a turn on: streaming requests on an existing thread."""
    if not is_streaming_req(request):
        return None
    thread_id = getattr(request.params, "thread_id", None)
    return thread_id if isinstance(thread_id, str) else None


def turn_locks_for(store: SQLStore, config: ServerConfig) -> TurnLocks:
    """Turn locks on the leases the store's database supports."""
    return TurnLocks(store.leases(), config)
