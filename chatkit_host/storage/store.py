"""A SQL implementation of the ChatKit SDK's ``Store``, scoped per user.

Security rule every method follows: an object belongs to the ``user_id`` of the request that
created it, and any request from another user behaves exactly as if the object did not exist —
``NotFoundError``, no data, and nothing of the owner's changes.

Nothing is cached in the process: several processes (or hosts) may share one PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar, cast, get_args

from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import Attachment, FeedbackKind, Page, ThreadItem, ThreadMetadata
from pydantic import TypeAdapter
from sqlalchemy import ColumnElement, Connection, Select, Table, bindparam, delete, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatkit_host.context import RequestContext
from chatkit_host.errors import ConfigError, ConfigProblem

from .engine import (
    CONFIG_KEY,
    SQLITE_BEGIN_OPTION,
    engine_for_url,
    is_in_memory,
    redacted_url,
    sqlite_sync_twin,
)
from .fences import FENCE, check_fence
from .tables import AttachmentRow, FeedbackRow, ItemRow, ThreadRow, ensure_schema

__all__ = ["SQLStore", "new_id", "open_store"]

Order = Literal["asc", "desc"]
T = TypeVar("T")

_THREAD = TypeAdapter(ThreadMetadata)
_ITEM: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)
_ATTACHMENT: TypeAdapter[Attachment] = TypeAdapter(Attachment)

_THREADS: Table = ThreadRow.__table__  # type: ignore[attr-defined]
_ITEMS: Table = ItemRow.__table__  # type: ignore[attr-defined]
_ATTACHMENTS: Table = AttachmentRow.__table__  # type: ignore[attr-defined]
_FEEDBACK: Table = FeedbackRow.__table__  # type: ignore[attr-defined]

#: The SDK's id prefixes (``chatkit.store._ID_PREFIXES``, private there).
_ID_PREFIXES: dict[str, str] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "workflow": "wf",
    "task": "tsk",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
}

_FEEDBACK_KINDS = frozenset(get_args(FeedbackKind))


async def open_store(url: str, *, base_dir: Path | None = None) -> SQLStore:
    """Connect to the database ``url`` names, create or check its schema, and return a store.

    Args:
        url: ``sqlite:///relative.db``, ``sqlite:////absolute.db``, ``memory://`` or a
            PostgreSQL URL (``postgresql://``, ``postgres://``, ``postgresql+asyncpg://``).
        base_dir: What relative SQLite paths are relative to (the config file's folder);
            the current directory when ``None``.

    Raises:
        ConfigError: The URL is unsupported or malformed, its driver is missing, or the database
            cannot be reached (all keyed ``store.url``).
        SchemaVersionError: The database was written by a newer release.
    """
    engine = engine_for_url(url, base_dir=base_dir)
    try:
        await ensure_schema(engine)
    except (OSError, DBAPIError) as error:
        await engine.dispose()
        raise ConfigError(
            ConfigProblem(
                message=f"cannot open the database {redacted_url(engine)}: {error}",
                key=CONFIG_KEY,
                hint="check that the database server is running and the URL is right",
            )
        ) from error
    except BaseException:
        await engine.dispose()
        raise
    return SQLStore(engine)


def new_id(prefix: str) -> str:
    """``<prefix>_<32 hex chars>``: a full random UUID, unlike the SDK's 8-hex-char default."""
    return f"{prefix}_{uuid.uuid4().hex}"


class SQLStore(Store[RequestContext]):
    """The SDK ``Store`` over SQLite or PostgreSQL (see :func:`open_store`).

    Pagination follows the SDK's contract and its reference store: a page holds at most
    ``limit`` objects in insertion order (``"asc"``) or its reverse (``"desc"``), starting just
    past the object whose id is ``after``; ``has_more`` says whether objects remain past the page,
    and ``page.after`` is then the id to pass for the next page (``None`` on the last page).
    Insertion order is the order objects were first saved; saving them again keeps their place.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        """Use ``engine``, whose schema must already exist (:func:`open_store` does both)."""
        self._engine = engine
        self._dialect = engine.dialect.name
        # memory:// shares one connection, and one SQLite connection has one transaction:
        # concurrent tasks must take turns or they would interleave each other's transactions.
        self._turns: asyncio.Lock | None = asyncio.Lock() if is_in_memory(engine) else None
        # A SQLite file: each transaction runs whole on a worker thread through the stdlib driver
        # (one thread hop) rather than statement by statement through aiosqlite (a dozen hops).
        self._sync = sqlite_sync_twin(engine)
        self._reads: ThreadPoolExecutor | None = None
        self._writes: ThreadPoolExecutor | None = None
        if self._sync is not None:
            self._reads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chatkit-store-read")
            # SQLite has one writer at a time. This process's writes queue for one thread, in
            # order, rather than in SQLite's busy handler, which sleeps (up to 100 ms a try)
            # while the lock is free; and one write follows another without a trip through the
            # event loop in between.
            self._writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatkit-store-write")
        # Built once: building and keying an upsert costs more than running it on SQLite.
        self._save_thread = _thread_upsert(self._insert(_THREADS))
        self._save_item = _item_upsert(self._insert(_ITEMS))

    @property
    def engine(self) -> AsyncEngine:
        """The engine the store runs on."""
        return self._engine

    async def ping(self) -> None:
        """Run one trivial query the way every store call does; raises what an outage raises."""
        await self._read(lambda connection: connection.scalar(text("SELECT 1")))

    async def close(self) -> None:
        """Close every pooled connection. The store must not be used afterwards."""
        for workers in (self._reads, self._writes):
            if workers is not None:
                workers.shutdown(wait=False)
        if self._sync is not None:
            self._sync.dispose()
        await self._engine.dispose()

    # --- ids ----------------------------------------------------------------------------------

    def generate_thread_id(self, context: RequestContext) -> str:
        """A new ``thr_<uuid4 hex>`` id."""
        return new_id(_ID_PREFIXES["thread"])

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext
    ) -> str:
        """A new id with the SDK's prefix for ``item_type`` (``msg_``, ``tc_``…) and a uuid4."""
        return new_id(_ID_PREFIXES.get(item_type, item_type))

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        """A new ``atc_<uuid4 hex>`` id (for attachment stores that want the same scheme)."""
        return new_id(_ID_PREFIXES["attachment"])

    # --- threads ------------------------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        """The thread's metadata. ``NotFoundError`` unless it exists and is the user's."""
        values = {"thread_id": thread_id, "user_id": context.user_id}
        data = await self._read(lambda connection: connection.scalar(_THREAD_DATA, values))
        if data is None:
            raise _thread_not_found(thread_id)
        return _THREAD.validate_json(data)

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        """Create the thread, or replace the metadata of the user's thread with that id.

        A new thread goes after the user's existing ones; an update keeps the thread's place.

        Raises:
            NotFoundError: The id belongs to another user's thread (which stays unchanged).
        """
        values = {
            "v_id": thread.id,
            "v_user_id": context.user_id,
            "v_created_at": _column_time(thread.created_at),
            "v_data": _THREAD.dump_json(thread).decode(),
        }
        saved = await self._write(
            lambda connection: connection.execute(self._save_thread, values).first()
        )
        if saved is None:
            raise _thread_not_found(thread.id)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        """A page of the user's threads, by creation order (see the class docstring).

        Raises:
            NotFoundError: ``after`` is not the id of one of the user's threads.
            ValueError: ``limit`` < 1 or ``order`` is neither "asc" nor "desc".
        """
        direction = _check_page(limit, order)

        def read(connection: Connection) -> list[tuple[str, str]]:
            after_seq = None
            if after is not None:
                after_seq = connection.scalar(
                    select(_THREADS.c.seq).where(_owned_thread(after, context))
                )
                if after_seq is None:
                    raise _thread_not_found(after)
            return _page_rows(
                connection,
                select(_THREADS.c.id, _THREADS.c.data).where(
                    _THREADS.c.user_id == context.user_id
                ),
                _THREADS.c.seq,
                after_seq,
                limit,
                direction,
            )

        rows = await self._read(read)
        return _page(Page[ThreadMetadata], rows, limit, _THREAD.validate_json)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        """Delete the user's thread with its items, feedback and attachment metadata rows.

        Attachment *files* are not touched: read :meth:`thread_attachment_ids` first to delete
        them from the file store.

        Raises:
            NotFoundError: No such thread of the user's.
        """
        def write(connection: Connection) -> None:
            _require_thread(connection, thread_id, context)
            # The foreign keys cascade too; deleting children explicitly keeps the outcome
            # independent of whether the database enforces them.
            for table in (_FEEDBACK, _ITEMS, _ATTACHMENTS):
                connection.execute(delete(table).where(table.c.thread_id == thread_id))
            connection.execute(delete(_THREADS).where(_owned_thread(thread_id, context)))

        await self._write(write)

    # --- items --------------------------------------------------------------------------------

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: RequestContext,
    ) -> Page[ThreadItem]:
        """A page of the thread's items, by insertion order (see the class docstring).

        Raises:
            NotFoundError: The thread is not the user's, or ``after`` is not an item of it.
            ValueError: ``limit`` < 1 or ``order`` is neither "asc" nor "desc".
        """
        direction = _check_page(limit, order)

        def read(connection: Connection) -> list[tuple[str, str]]:
            _require_thread(connection, thread_id, context)
            after_seq = None
            if after is not None:
                after_seq = connection.scalar(
                    select(_ITEMS.c.seq).where(_item_of(thread_id, after))
                )
                if after_seq is None:
                    raise _item_not_found(thread_id, after)
            return _page_rows(
                connection,
                select(_ITEMS.c.id, _ITEMS.c.data).where(_ITEMS.c.thread_id == thread_id),
                _ITEMS.c.seq,
                after_seq,
                limit,
                direction,
            )

        rows = await self._read(read)
        return _page(Page[ThreadItem], rows, limit, _ITEM.validate_json)

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: RequestContext
    ) -> None:
        """Append ``item`` to the user's thread; if the thread has an item with its id already,
        replace that one in place (the SDK may add the same item twice).

        Raises:
            NotFoundError: The thread is not the user's.
        """
        await self._upsert_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        """Replace the item with ``item.id`` in the user's thread, keeping its place, or append
        it when the thread has no such item.

        Raises:
            NotFoundError: The thread is not the user's.
        """
        await self._upsert_item(thread_id, item, context)

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        """One item. ``NotFoundError`` unless the thread is the user's and holds that item."""
        query = select(_ITEMS.c.data).where(
            _item_of(thread_id, item_id), _ITEMS.c.user_id == context.user_id
        )
        data = await self._read(lambda connection: connection.scalar(query))
        if data is None:
            raise _item_not_found(thread_id, item_id)
        return _ITEM.validate_json(data)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> None:
        """Delete one item of the user's thread, with its feedback.

        Deleting an id the thread does not hold is a no-op: the SDK deletes items it streamed
        but never saved (e.g. after a guardrail trips).

        Raises:
            NotFoundError: The thread is not the user's.
        """
        def write(connection: Connection) -> None:
            _require_thread(connection, thread_id, context)
            connection.execute(
                delete(_FEEDBACK).where(
                    _FEEDBACK.c.thread_id == thread_id, _FEEDBACK.c.item_id == item_id
                )
            )
            connection.execute(delete(_ITEMS).where(_item_of(thread_id, item_id)))

        await self._write(write)

    async def _upsert_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        values = {
            "v_thread_id": thread_id,
            "v_id": item.id,
            "v_user_id": context.user_id,
            "v_type": item.type,
            "v_created_at": _column_time(item.created_at),
            "v_data": _ITEM.dump_json(item).decode(),
        }

        def write(connection: Connection) -> Any:
            _require_thread(connection, thread_id, context)
            try:
                return connection.execute(self._save_item, values).first()
            except IntegrityError as error:
                # Only the thread foreign key can fail: the thread was deleted meanwhile.
                raise _thread_not_found(thread_id) from error

        saved = await self._write(write)
        if saved is None:
            raise _thread_not_found(thread_id)

    # --- attachments --------------------------------------------------------------------------

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        """Create or replace the user's attachment metadata.

        Raises:
            NotFoundError: The id belongs to another user's attachment, or ``attachment.thread_id``
                names a thread that is not the user's. Nothing is changed.
        """
        statement = self._insert(_ATTACHMENTS).values(
            id=attachment.id,
            user_id=context.user_id,
            thread_id=attachment.thread_id,
            created_at=_now(),
            data=_ATTACHMENT.dump_json(attachment).decode(),
        )
        statement = statement.on_conflict_do_update(
            index_elements=[_ATTACHMENTS.c.id],
            set_={"thread_id": statement.excluded.thread_id, "data": statement.excluded.data},
            where=_ATTACHMENTS.c.user_id == statement.excluded.user_id,
        ).returning(_ATTACHMENTS.c.id)

        def write(connection: Connection) -> Any:
            if attachment.thread_id is not None:
                _require_thread(connection, attachment.thread_id, context)
            try:
                return connection.execute(statement).first()
            except IntegrityError as error:
                raise _thread_not_found(str(attachment.thread_id)) from error

        saved = await self._write(write)
        if saved is None:
            raise _attachment_not_found(attachment.id)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        """The user's attachment metadata; ``NotFoundError`` if there is none with that id."""
        query = select(_ATTACHMENTS.c.data).where(_owned_attachment(attachment_id, context))
        data = await self._read(lambda connection: connection.scalar(query))
        if data is None:
            raise _attachment_not_found(attachment_id)
        return _ATTACHMENT.validate_json(data)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        """Delete the user's attachment metadata; ``NotFoundError`` if there is none."""
        statement = delete(_ATTACHMENTS).where(_owned_attachment(attachment_id, context))
        deleted = await self._write(lambda connection: connection.execute(statement).rowcount)
        if deleted == 0:
            raise _attachment_not_found(attachment_id)

    async def thread_attachment_ids(self, thread_id: str, context: RequestContext) -> list[str]:
        """Ids of the attachments saved with ``thread_id`` as their thread, sorted.

        Raises:
            NotFoundError: The thread is not the user's.
        """
        def read(connection: Connection) -> list[str]:
            _require_thread(connection, thread_id, context)
            ids = connection.scalars(
                select(_ATTACHMENTS.c.id)
                .where(
                    _ATTACHMENTS.c.thread_id == thread_id,
                    _ATTACHMENTS.c.user_id == context.user_id,
                )
                .order_by(_ATTACHMENTS.c.id)
            )
            return list(ids)

        return await self._read(read)

    # --- feedback -----------------------------------------------------------------------------

    async def save_feedback(
        self,
        thread_id: str,
        item_ids: Sequence[str],
        kind: FeedbackKind,
        context: RequestContext,
    ) -> None:
        """Record ``kind`` as the user's feedback on each item, replacing earlier feedback.

        All or nothing: if any item is missing, nothing is recorded.

        Raises:
            NotFoundError: The thread is not the user's, or an item is not in it.
            ValueError: ``kind`` is not "positive" or "negative".
            TypeError: ``item_ids`` is a single str.
        """
        if isinstance(item_ids, str):  # a str is a Sequence[str] too: its characters
            raise TypeError("item_ids must be a list of ids, not one str")
        if kind not in _FEEDBACK_KINDS:
            raise ValueError(f"feedback kind must be one of {sorted(_FEEDBACK_KINDS)}: {kind!r}")
        wanted = sorted(set(item_ids))

        def write(connection: Connection) -> None:
            _require_thread(connection, thread_id, context)
            if not wanted:
                return
            _require_items(connection, thread_id, wanted)
            now = _now()
            statement = self._insert(_FEEDBACK).values(
                [
                    {
                        "thread_id": thread_id,
                        "item_id": item_id,
                        "user_id": context.user_id,
                        "kind": kind,
                        "updated_at": now,
                    }
                    for item_id in wanted
                ]
            )
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[_FEEDBACK.c.thread_id, _FEEDBACK.c.item_id],
                    set_={
                        "kind": statement.excluded.kind,
                        "updated_at": statement.excluded.updated_at,
                    },
                )
            )

        await self._write(write)

    async def load_feedback(
        self, thread_id: str, context: RequestContext
    ) -> dict[str, FeedbackKind]:
        """``{item_id: kind}`` for every item of the thread that has feedback.

        Raises:
            NotFoundError: The thread is not the user's.
        """
        def read(connection: Connection) -> dict[str, FeedbackKind]:
            _require_thread(connection, thread_id, context)
            rows = connection.execute(
                select(_FEEDBACK.c.item_id, _FEEDBACK.c.kind).where(
                    _FEEDBACK.c.thread_id == thread_id,
                    _FEEDBACK.c.user_id == context.user_id,
                )
            )
            return {item_id: cast(FeedbackKind, kind) for item_id, kind in rows}

        return await self._read(read)

    async def read_transaction(self, body: Callable[[Connection], T]) -> T:
        """``body(connection)`` in a read transaction, as the store's own reads run."""
        return await self._read(body)

    async def write_transaction(self, body: Callable[[Connection], T]) -> T:
        """``body(connection)`` in a write transaction queued with the store's own writes (on a
        SQLite file, on its one writer thread): for state kept beside the store's tables, which
        would otherwise wait in SQLite's busy handler behind them. Never fenced: the turn locks
        keep their own rows with it."""
        return await self._run(body, write=True)

    # --- plumbing -----------------------------------------------------------------------------

    def _insert(self, table: Table) -> Any:
        """An INSERT supporting ``on_conflict_do_update`` in this database's dialect."""
        if self._dialect == "postgresql":
            # Loaded with a PostgreSQL engine anyway; a SQLite store need not load it.
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        return sqlite.insert(table)

    async def _read(self, body: Callable[[Connection], T]) -> T:
        """``body(connection)`` in a transaction, for reads."""
        return await self._run(body, write=False)

    async def _write(self, body: Callable[[Connection], T]) -> T:
        """``body(connection)`` in a transaction that commits on success, rolls back on error;
        during a turn, only while the turn still holds its thread (see `fences.py`)."""
        fence = FENCE.get()
        if fence is None:
            return await self._run(body, write=True)

        def fenced(connection: Connection) -> T:
            check_fence(connection, fence)
            return body(connection)

        return await self._run(fenced, write=True)

    async def _run(self, body: Callable[[Connection], T], *, write: bool) -> T:
        workers = self._writes if write else self._reads
        if workers is None:
            async with self._transaction(write=write) as connection:
                return await connection.run_sync(body)
        # Cancelled before its thread takes it, the transaction never runs; once taken, it
        # ends (commits or rolls back) on its thread, and the next write waits for that.
        return await asyncio.get_running_loop().run_in_executor(
            workers, self._run_in_thread, body, write
        )

    def _run_in_thread(self, body: Callable[[Connection], T], write: bool) -> T:
        assert self._sync is not None
        with self._sync.connect() as connection:
            if write:
                # Take the write lock up front; see SQLITE_BEGIN_OPTION.
                connection = connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            with connection.begin():
                return body(connection)

    @asynccontextmanager
    async def _transaction(self, *, write: bool) -> AsyncIterator[AsyncConnection]:
        async with self._turns or nullcontext(), self._engine.connect() as connection:
            if write:
                # SQLite: take the write lock up front; see SQLITE_BEGIN_OPTION.
                connection = await connection.execution_options(
                    **{SQLITE_BEGIN_OPTION: "IMMEDIATE"}
                )
            async with connection.begin():
                yield connection


# --- queries ----------------------------------------------------------------------------------


def _values(table: Table, *columns: str) -> dict[str, Any]:
    """``{column: bindparam("v_<column>")}``, typed like the column (a bind parameter may not
    take a column's own name in an INSERT)."""
    return {name: bindparam(f"v_{name}", type_=table.c[name].type) for name in columns}


def _thread_upsert(insert: Any) -> Any:
    """Create a thread, or replace the metadata of the same user's thread with its id; returns
    its ``seq`` (no row: the id is another user's)."""
    statement = insert.values(_values(_THREADS, "id", "user_id", "created_at", "data"))
    return statement.on_conflict_do_update(
        index_elements=[_THREADS.c.id],
        set_={"data": statement.excluded.data, "created_at": statement.excluded.created_at},
        where=_THREADS.c.user_id == statement.excluded.user_id,
    ).returning(_THREADS.c.seq)


def _item_upsert(insert: Any) -> Any:
    """Append an item, or replace the same user's item with its id in place; returns its ``seq``."""
    statement = insert.values(
        _values(_ITEMS, "thread_id", "id", "user_id", "type", "created_at", "data")
    )
    return statement.on_conflict_do_update(
        index_elements=[_ITEMS.c.thread_id, _ITEMS.c.id],
        set_={
            "type": statement.excluded.type,
            "created_at": statement.excluded.created_at,
            "data": statement.excluded.data,
        },
        where=_ITEMS.c.user_id == statement.excluded.user_id,
    ).returning(_ITEMS.c.seq)


_OWNED_THREAD = (_THREADS.c.id == bindparam("thread_id")) & (
    _THREADS.c.user_id == bindparam("user_id")
)
_THREAD_SEQ = select(_THREADS.c.seq).where(_OWNED_THREAD)
_THREAD_DATA = select(_THREADS.c.data).where(_OWNED_THREAD)


def _owned_thread(thread_id: str, context: RequestContext) -> ColumnElement[bool]:
    return (_THREADS.c.id == thread_id) & (_THREADS.c.user_id == context.user_id)


def _owned_attachment(attachment_id: str, context: RequestContext) -> ColumnElement[bool]:
    return (_ATTACHMENTS.c.id == attachment_id) & (_ATTACHMENTS.c.user_id == context.user_id)


def _item_of(thread_id: str, item_id: str) -> ColumnElement[bool]:
    return (_ITEMS.c.thread_id == thread_id) & (_ITEMS.c.id == item_id)


def _require_thread(connection: Connection, thread_id: str, context: RequestContext) -> None:
    found = connection.scalar(_THREAD_SEQ, {"thread_id": thread_id, "user_id": context.user_id})
    if found is None:
        raise _thread_not_found(thread_id)


def _require_items(connection: Connection, thread_id: str, item_ids: Sequence[str]) -> None:
    """Raise ``NotFoundError`` naming the first of ``item_ids`` the thread does not hold."""
    found = set(
        connection.scalars(
            select(_ITEMS.c.id).where(_ITEMS.c.thread_id == thread_id, _ITEMS.c.id.in_(item_ids))
        )
    )
    missing = [item_id for item_id in item_ids if item_id not in found]
    if missing:
        raise _item_not_found(thread_id, missing[0])


def _page_rows(
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


def _page(
    page_type: type[Page[T]],
    rows: list[tuple[str, str]],
    limit: int,
    decode: Callable[[str], T],
) -> Page[T]:
    """The page of (at most) ``limit`` of ``rows``, as returned by :func:`_page_rows`."""
    has_more = len(rows) > limit
    rows = rows[:limit]
    # The SDK's reference store sets ``after`` only when there is a next page to fetch.
    after = rows[-1][0] if has_more else None
    return page_type(data=[decode(data) for _, data in rows], has_more=has_more, after=after)


def _check_page(limit: int, order: str) -> Order:
    if limit < 1:
        raise ValueError(f"page limit must be at least 1: {limit}")
    if order not in ("asc", "desc"):
        raise ValueError(f"page order must be 'asc' or 'desc': {order!r}")
    return order  # type: ignore[return-value]


# --- values -----------------------------------------------------------------------------------


def _column_time(value: datetime) -> datetime:
    """A timestamp for a naive DATETIME column: aware times in UTC, naive ones as given."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _thread_not_found(thread_id: str) -> NotFoundError:
    return NotFoundError(f"thread {thread_id} not found")


def _item_not_found(thread_id: str, item_id: str) -> NotFoundError:
    return NotFoundError(f"item {item_id} not found in thread {thread_id}")


def _attachment_not_found(attachment_id: str) -> NotFoundError:
    return NotFoundError(f"attachment {attachment_id} not found")
