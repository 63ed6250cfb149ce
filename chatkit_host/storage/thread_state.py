"""Reading and writing a thread's app state (`chatkit_thread_state`), scoped like every store call.

State belongs to the thread's owner: a read or write for a thread that is not the caller's behaves as
if the thread did not exist (`NotFoundError`). Deleting the thread deletes its state (cascade).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chatkit.store import NotFoundError
from sqlalchemy import Connection, select

from chatkit_host.context import RequestContext

from .store import SQLStore
from .tables import THREAD_STATES, THREADS


async def load_thread_state(store: SQLStore, thread_id: str, context: RequestContext) -> dict[str, Any] | None:
    """The state saved for the user's thread, or None when none was saved yet (or the thread is
    not theirs)."""

    def read(connection: Connection) -> str | None:
        return connection.scalar(select(THREAD_STATES.c.data).where(
            THREAD_STATES.c.thread_id == thread_id, THREAD_STATES.c.user_id == context.user_id))

    data = await store.read_transaction(read)
    return None if data is None else json.loads(data)


async def save_thread_state(store: SQLStore, thread_id: str, state: dict[str, Any],
                            context: RequestContext) -> None:
    """Replace the state of the user's thread. Raises `NotFoundError` when the thread is not theirs."""
    values = {"thread_id": thread_id, "user_id": context.user_id, "updated_at": datetime.now(UTC).replace(tzinfo=None),
              "data": json.dumps(state, separators=(",", ":"))}

    def write(connection: Connection) -> bool:
        owned = connection.scalar(select(THREADS.c.id).where(
            THREADS.c.id == thread_id, THREADS.c.user_id == context.user_id))
        if owned is None:
            return False
        insert = store.backend.insert(THREAD_STATES).values(**values)
        connection.execute(insert.on_conflict_do_update(
            index_elements=[THREAD_STATES.c.thread_id],
            set_={"data": insert.excluded.data, "updated_at": insert.excluded.updated_at}))
        return True

    if not await store.write_transaction(write):
        raise NotFoundError(f"Thread {thread_id} not found")


async def stored_states(store: SQLStore, after: str | None, limit: int) -> list[tuple[str, dict[str, Any]]]:
    """A page of every user's saved states, `(thread_id, state)` by thread id after `after`.

    Not scoped to a user: for the reloader, which checks a new `state` schema against what is stored.
    """

    def read(connection: Connection) -> list[tuple[str, str]]:
        query = select(THREAD_STATES.c.thread_id, THREAD_STATES.c.data).order_by(THREAD_STATES.c.thread_id).limit(limit)
        if after is not None:
            query = query.where(THREAD_STATES.c.thread_id > after)
        return [(row[0], row[1]) for row in connection.execute(query)]

    return [(thread_id, json.loads(data)) for thread_id, data in await store.read_transaction(read)]
