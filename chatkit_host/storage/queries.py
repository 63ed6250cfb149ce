"""The store's SQL: statements, conditions and paging, shared by every backend (what differs
between databases is in `backends/`). Every condition on user data names its owner."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from chatkit.store import NotFoundError
from chatkit.types import Page
from sqlalchemy import ColumnElement, Connection, Select, Table, bindparam, select

from chatkit_host.context import RequestContext

from .tables import ATTACHMENTS, ITEMS, THREADS

Order = Literal["asc", "desc"]
T = TypeVar("T")


def values(table: Table, *columns: str) -> dict[str, Any]:
    """``{column: bindparam("v_<column>")}``, typed like the column (a bind parameter may not
    take a column's own name in an INSERT)."""
    return {name: bindparam(f"v_{name}", type_=table.c[name].type) for name in columns}


def thread_upsert(insert: Any) -> Any:
    """Create a thread, or replace the metadata of the same user's thread with its id; returns
    its ``seq`` (no row: the id is another user's)."""
    statement = insert.values(values(THREADS, "id", "user_id", "created_at", "data"))
    return statement.on_conflict_do_update(
        index_elements=[THREADS.c.id],
        set_={"data": statement.excluded.data, "created_at": statement.excluded.created_at},
        where=THREADS.c.user_id == statement.excluded.user_id,
    ).returning(THREADS.c.seq)


def item_upsert(insert: Any) -> Any:
    """Append an item, or replace the same user's item with its id in place; returns its ``seq``."""
    statement = insert.values(
        values(ITEMS, "thread_id", "id", "user_id", "type", "created_at", "data")
    )
    return statement.on_conflict_do_update(
        index_elements=[ITEMS.c.thread_id, ITEMS.c.id],
        set_={
            "type": statement.excluded.type,
            "created_at": statement.excluded.created_at,
            "data": statement.excluded.data,
        },
        where=ITEMS.c.user_id == statement.excluded.user_id,
    ).returning(ITEMS.c.seq)


OWNED_THREAD = (THREADS.c.id == bindparam("thread_id")) & (
    THREADS.c.user_id == bindparam("user_id")
)
THREAD_SEQ = select(THREADS.c.seq).where(OWNED_THREAD)
THREAD_DATA = select(THREADS.c.data).where(OWNED_THREAD)


def owned_thread(thread_id: str, context: RequestContext) -> ColumnElement[bool]:
    return (THREADS.c.id == thread_id) & (THREADS.c.user_id == context.user_id)


def owned_attachment(attachment_id: str, context: RequestContext) -> ColumnElement[bool]:
    return (ATTACHMENTS.c.id == attachment_id) & (ATTACHMENTS.c.user_id == context.user_id)


def item_of(thread_id: str, item_id: str) -> ColumnElement[bool]:
    return (ITEMS.c.thread_id == thread_id) & (ITEMS.c.id == item_id)


def require_thread(connection: Connection, thread_id: str, context: RequestContext) -> None:
    found = connection.scalar(THREAD_SEQ, {"thread_id": thread_id, "user_id": context.user_id})
    if found is None:
        raise thread_not_found(thread_id)


def require_items(connection: Connection, thread_id: str, item_ids: Sequence[str]) -> None:
    """Raise ``NotFoundError`` naming the first of ``item_ids`` the thread does not hold."""
    found = set(
        connection.scalars(
            select(ITEMS.c.id).where(ITEMS.c.thread_id == thread_id, ITEMS.c.id.in_(item_ids))
        )
    )
    missing = [item_id for item_id in item_ids if item_id not in found]
    if missing:
        raise item_not_found(thread_id, missing[0])


def page_rows(
    connection: Connection,
    query: Select[Any],
    seq: ColumnElement[int],
    after_seq: int | None,
    limit: int,
    direction: Order,
) -> list[tuple[str, str]]:
    """Up to ``limit + 1`` ``(id, data)`` rows of ``query`` past ``after_seq``: the extra row
    only tells whether there is more."""
    if after_seq is not None:
        query = query.where(seq > after_seq if direction == "asc" else seq < after_seq)
    query = query.order_by(seq.asc() if direction == "asc" else seq.desc()).limit(limit + 1)
    return [(row[0], row[1]) for row in connection.execute(query)]


def page(
    page_type: type[Page[T]],
    rows: list[tuple[str, str]],
    limit: int,
    decode: Callable[[str], T],
) -> Page[T]:
    """The page of (at most) ``limit`` of ``rows``, as returned by :func:`page_rows`."""
    has_more = len(rows) > limit
    rows = rows[:limit]
    # The SDK's reference store sets ``after`` only when there is a next page to fetch.
    after = rows[-1][0] if has_more else None
    return page_type(data=[decode(data) for _, data in rows], has_more=has_more, after=after)


def check_page(limit: int, order: str) -> Order:
    if limit < 1:
        raise ValueError(f"page limit must be at least 1: {limit}")
    if order not in ("asc", "desc"):
        raise ValueError(f"page order must be 'asc' or 'desc': {order!r}")
    return "asc" if order == "asc" else "desc"


# --- values -----------------------------------------------------------------------------------


def column_time(value: datetime) -> datetime:
    """A timestamp for a naive DATETIME column: aware times in UTC, naive ones as given."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def thread_not_found(thread_id: str) -> NotFoundError:
    return NotFoundError(f"thread {thread_id} not found")


def item_not_found(thread_id: str, item_id: str) -> NotFoundError:
    return NotFoundError(f"item {item_id} not found in thread {thread_id}")


def attachment_not_found(attachment_id: str) -> NotFoundError:
    return NotFoundError(f"attachment {attachment_id} not found")
