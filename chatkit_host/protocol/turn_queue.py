"""`server.turns: queue`: waiting turns of one thread served first come, first served (#18).

Every waiter used to poll the lease on its own back-off, so whichever woke first after a release
won: 3 of 6 trials answered queued turns out of order. Now the turns one process holds for a
thread stand in a line: only the first polls, a release in this process wakes it at once, and
when it leaves (with the lease, or given up) the next one moves up. A request arriving while
others wait joins the end of the line, even if the thread is free at that instant.

Across processes (replicas) the lease itself is the only order: each process's line is served in
order, and the processes' heads race for the lease.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

L = TypeVar("L")

RETRY_FIRST, RETRY_MOST = 0.02, 0.25
"""Seconds between the head's attempts: a release in another process wakes no one here."""


class _Line:
    def __init__(self) -> None:
        self.waiters: deque[asyncio.Event] = deque()
        self.freed = asyncio.Event()


class WaitingLines:
    """The waiting turns of one process, by thread, in arrival order."""

    def __init__(self) -> None:
        self._lines: dict[str, _Line] = {}

    def waiting(self, thread_id: str) -> int:
        """How many turns wait for ``thread_id`` here."""
        line = self._lines.get(thread_id)
        return len(line.waiters) if line else 0

    def freed(self, thread_id: str) -> None:
        """A lease on ``thread_id`` held by this process was released: the head tries at once."""
        line = self._lines.get(thread_id)
        if line is not None:
            line.freed.set()

    async def wait(
        self, thread_id: str, wait: float, attempt: Callable[[], Awaitable[L | None]]
    ) -> L | None:
        """Stand in ``thread_id``'s line; at its head, ``attempt`` until it gives a lease.

        Returns None when ``wait`` seconds pass first.
        """
        deadline = time.monotonic() + wait
        line = self._lines.setdefault(thread_id, _Line())
        me = asyncio.Event()
        line.waiters.append(me)
        try:
            if line.waiters[0] is not me and not await _until(me.wait(), deadline):
                return None
            pause = RETRY_FIRST
            while True:
                line.freed.clear()
                lease = await attempt()
                if lease is not None:
                    return lease
                if not await _until(line.freed.wait(), min(deadline, time.monotonic() + pause)):
                    if time.monotonic() >= deadline:
                        return None
                    pause = min(pause * 2, RETRY_MOST)
        finally:
            line.waiters.remove(me)
            if line.waiters:
                line.waiters[0].set()  # the next in line moves up
            else:
                del self._lines[thread_id]

    def busy(self, thread_id: str) -> bool:
        """Whether turns wait for ``thread_id`` here: a newcomer must queue behind them."""
        return thread_id in self._lines


async def _until(event: Awaitable[object], deadline: float) -> bool:
    """Whether ``event`` happened before ``deadline`` (monotonic seconds)."""
    try:
        await asyncio.wait_for(event, max(deadline - time.monotonic(), 0))
    except asyncio.TimeoutError:
        return False
    return True
