"""Fencing: a turn's writes land only while the turn still holds its thread (#18).

A turn's lock can be lost while the turn runs: a PostgreSQL restart drops the connection that
held its advisory lock, and a turn on the same thread may then start on another replica. The turn
locks record the current holder of each thread in `chatkit_turn_leases`; while a turn runs,
`FENCE` names its thread and holder, and each store write made in that context first checks, in
the write's own transaction, that the row still names it (on PostgreSQL under `FOR SHARE`, so a
new holder's takeover waits for that write). A turn that lost its thread stops before writing
(`TurnLost`): the two turns' items never interleave.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass

from chatkit.errors import CustomStreamError
from sqlalchemy import Connection, bindparam, select

from .tables import TURN_LEASES

logger = logging.getLogger("chatkit_host.storage.fences")

# FOR SHARE on PostgreSQL (a takeover's upsert waits for the write in progress); SQLite writers
# are serialised by BEGIN IMMEDIATE already and it renders nothing there.
_HOLDER = (
    select(TURN_LEASES.c.holder)
    .where(TURN_LEASES.c.thread_id == bindparam("thread_id"))
    .with_for_update(read=True)
)

TURN_LOST_MESSAGE = "another turn took over this thread, so this reply stopped; reload the thread"


@dataclass(frozen=True)
class Fence:
    """The thread a turn holds, and the token its lease row carries."""

    thread_id: str
    holder: str


FENCE: ContextVar[Fence | None] = ContextVar("chatkit_turn_fence", default=None)
"""Set by the turn locks while a turn runs; the store's writes in this context are fenced."""


class TurnLost(CustomStreamError):
    """The turn's lease now names another turn: this one must not write any more."""

    def __init__(self, thread_id: str) -> None:
        super().__init__(TURN_LOST_MESSAGE, allow_retry=False)
        self.thread_id = thread_id

    def __str__(self) -> str:
        return f"the turn on thread {self.thread_id} lost its lock to another turn"


def check_fence(connection: Connection, fence: Fence) -> None:
    """Raise `TurnLost` unless ``fence`` still holds its thread; run first in a write transaction."""
    holder = connection.scalar(_HOLDER, {"thread_id": fence.thread_id})
    if holder != fence.holder:
        lost = TurnLost(fence.thread_id)
        logger.warning("%s (its connection to the database was lost, e.g. in a restart); it stopped "
                       "before writing", lost)
        raise lost
