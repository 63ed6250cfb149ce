"""Thread leases: the primitive under "one turn at a time per thread" (`protocol/turns.py` holds the
policy — refuse or queue a second turn; each backend module holds its own kind of lease).

A lease also carries the turn's fence (`fences.py`): while it is held, the store's writes in the
turn's context check that the lease was not lost to another turn. A lease taken for a user may carry
the thread as its transaction read it (`preloaded.py`), for the turn's first `load_thread`.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from .fences import FENCE, Fence
from .preloaded import PRELOADED, PreloadedThread
from .outages import is_store_outage

logger = logging.getLogger("chatkit_host.storage.leases")


class Lease:
    """A held thread; ``release()`` is safe to call twice and never raises. ``fence`` is what the
    store's writes during the turn check (None: nothing to check, e.g. one process); ``preloaded``
    the thread read with the lease, if it was."""

    def __init__(self, release: Callable[[], Awaitable[None]], fence: Fence | None = None,
                 preloaded: PreloadedThread | None = None):
        self._release = release
        self._released = False
        self.fence = fence
        self.preloaded = preloaded

    @property
    def released(self) -> bool:
        return self._released

    async def release(self) -> None:
        if self._released:
            return
        self._released = True
        try:
            await self._release()
        except Exception as error:
            # Raised past a stream's end it would cut a finished response short (#18 F2). A lock
            # whose connection died went with it; a lease row left behind is taken over.
            if is_store_outage(error):
                logger.info("a turn lock went with its database connection: %s", _first_line(error))
            else:
                logger.warning("could not release a turn lock", exc_info=True)

    @contextmanager
    def fencing(self) -> Iterator[None]:
        """Fence the store's writes made in this context until the block ends (and offer the
        preloaded thread to its loads)."""
        token = FENCE.set(self.fence)
        preloaded = PRELOADED.set(self.preloaded)
        try:
            yield
        finally:
            try:
                PRELOADED.reset(preloaded)
                FENCE.reset(token)
            except ValueError:  # ended in another context (a generator closed elsewhere)
                PRELOADED.set(None)
                FENCE.set(None)


class ThreadLeases(ABC):
    """Leases threads for one store; made by the store's backend (`SQLStore.leases`)."""

    @abstractmethod
    async def try_lease(self, thread_id: str, user_id: str | None = None) -> Lease | None:
        """The thread's lease, or None when another turn holds it. With ``user_id``, the lease
        may carry the thread as read, if it is that user's, after the lease was taken."""

    async def close(self) -> None:
        """Let go of any resources (leases still held are released by their streams)."""


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""
