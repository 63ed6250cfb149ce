"""Reading and writing a thread's app state (`chatkit_thread_state`), scoped like every store call.

State belongs to the thread's owner: a read or write for a thread that is not the caller's behaves as
if the thread did not exist (`NotFoundError`). Deleting the thread deletes its state (cascade).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chatkit.store import NotFoundError
from sqlalchemy import Connection, Table, select

from chatkit_host.context import RequestContext

from .store import SQLStore
from .tables import ThreadRow, ThreadStateRow

_STATE: Table = ThreadStateRow.__table__  # type: ignore[attr-defined]
_THREADS: Table = ThreadRow.__table__  # type: ignore[attr-defined]


async def load_thread_state(store: SQLStore, thread_id: str, context: RequestContext) -> dict[str, Any] | None:
    """The state saved for the user's thread, or None when none was saved yet (or the thread is
    not theirs)."""

    def read(connection: Connection) -> str | None:
        return connection.scalar(select(_STATE.c.data).where(
            _STATE.c.thread_id == thread_id, _STATE.c.user_id == context.user_id))

    data = await store.read_transaction(read)
    return None if data is None else json.loads(data)


async def save_thread_state(store: SQLStore, thread_id: str, state: dict[str, Any],
                            context: RequestContext) -> None:
    """Replace the state of the user's thread. Raises `NotFoundError` when the thread is not theirs."""
    values = {"thread_id": thread_id, "user_id": context.user_id, "updated_at": datetime.now(UTC).replace(tzinfo=None),
              "data": json.dumps(state, separators=(",", ":"))}

    def write(connection: Connection) -> bool:
        owned = connection.scalar(select(_THREADS.c.id).where(
            _THREADS.c.id == thread_id, _THREADS.c.user_id == context.user_id))
        if owned is None:
            return False
        insert = store.backend.insert(_STATE).values(**values)
        connection.execute(insert.on_conflict_do_update(
            index_elements=[_STATE.c.thread_id],
            set_={"data": insert.excluded.data, "updated_at": insert.excluded.updated_at}))
        return True

    if not await store.write_transaction(write):
        raise NotFoundError(f"Thread {thread_id} not found")
