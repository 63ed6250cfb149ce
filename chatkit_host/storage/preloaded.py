"""A thread read in its turn's lease transaction, handed to the turn's first `load_thread`.

Before a follow-up turn's first event the SDK loads the thread right after the turn locks took
it: one more store round trip, which under load waits for a worker thread and then for the event
loop (~5 ms at the median with 16 conversations, up to ~20 ms at p90: `bench/README.md`). The
lease's own transaction reads the row instead — after the lease is taken, so it is as fresh as the
SDK's read would be — and the first `load_thread` of that thread in the turn's context takes it.
Once only: later loads go to the store, and any write in the turn's context drops it unread.
"""

from __future__ import annotations

from contextvars import ContextVar


class PreloadedThread:
    """One thread's stored JSON for one user, taken at most once."""

    def __init__(self, thread_id: str, user_id: str, data: str):
        self.thread_id = thread_id
        self.user_id = user_id
        self._data: str | None = data

    def take(self, thread_id: str, user_id: str) -> str | None:
        """The stored JSON if it is this thread's and user's and was not taken or dropped yet."""
        if self._data is None or thread_id != self.thread_id or user_id != self.user_id:
            return None
        data, self._data = self._data, None
        return data

    def drop(self) -> None:
        self._data = None


PRELOADED: ContextVar[PreloadedThread | None] = ContextVar("chatkit_preloaded_thread", default=None)
"""Set with the turn's fence (`Lease.fencing`); read by `SQLStore.load_thread`."""
