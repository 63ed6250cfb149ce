"""A SQL implementation of the ChatKit SDK's ``Store``, scoped per user.

Security rule every method follows: an object belongs to the ``user_id`` of the request that
created it, and any request from another user behaves exactly as if the object did not exist —
``NotFoundError``, no data, and nothing of the owner's changes.

Nothing is cached in the process: several processes (or hosts) may share one PostgreSQL database.
(A turn's first load of its thread may be the row its lease transaction read a moment before:
`preloaded.py`.)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast, get_args

from chatkit.store import Store, StoreItemType
from chatkit.types import Attachment, FeedbackKind, Page, ThreadItem, ThreadMetadata
from pydantic import TypeAdapter
from sqlalchemy import Connection, delete, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from chatkit_host.context import RequestContext
from chatkit_host.errors import ConfigError, ConfigProblem

from .backends import Backend, backend_of
from .engine import CONFIG_KEY, engine_for_url, redacted_url
from .fences import FENCE, check_fence
from .leases import ThreadLeases
from .preloaded import PRELOADED
from .queries import (
    THREAD_DATA,
    attachment_not_found,
    check_page,
    column_time,
    item_not_found,
    item_of,
    item_upsert,
    utc_now,
    owned_attachment,
    owned_thread,
    page,
    page_rows,
    require_items,
    require_thread,
    thread_not_found,
    thread_upsert,
)
from .tables import ATTACHMENTS, FEEDBACK, ITEMS, THREADS, ensure_schema

__all__ = ["SQLStore", "new_id", "open_store"]

T = TypeVar("T")

_THREAD = TypeAdapter(ThreadMetadata)
_ITEM: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)
_ATTACHMENT: TypeAdapter[Attachment] = TypeAdapter(Attachment)


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
        self._backend = backend_of(engine)
        self._runner = self._backend.runner(engine)
        # Built once: building and keying an upsert costs more than running it on SQLite.
        self._save_thread = thread_upsert(self._backend.insert(THREADS))
        self._save_item = item_upsert(self._backend.insert(ITEMS))

    @property
    def engine(self) -> AsyncEngine:
        """The engine the store runs on."""
        return self._engine

    @property
    def backend(self) -> Backend:
        """The backend of the store's database (`backends/`): its dialect's INSERT, its leases."""
        return self._backend

    def leases(self) -> ThreadLeases:
        """Thread leases (turn locks) on this store's database, across every process sharing it."""
        return self._backend.leases(self)

    async def ping(self) -> None:
        """Run one trivial query the way every store call does; raises what an outage raises."""
        await self._read(lambda connection: connection.scalar(text("SELECT 1")))

    async def close(self) -> None:
        """Close every pooled connection. The store must not be used afterwards."""
        await self._runner.close()
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
        preloaded = PRELOADED.get()
        if preloaded is not None and (data := preloaded.take(thread_id, context.user_id)) is not None:
            return _THREAD.validate_json(data)
        values = {"thread_id": thread_id, "user_id": context.user_id}
        data = await self._runner.run(lambda connection: connection.scalar(THREAD_DATA, values),
                                      write=False, inline=True)
        if data is None:
            raise thread_not_found(thread_id)
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
            "v_created_at": column_time(thread.created_at),
            "v_data": _THREAD.dump_json(thread).decode(),
        }
        saved = await self._write(
            lambda connection: connection.execute(self._save_thread, values).first()
        )
        if saved is None:
            raise thread_not_found(thread.id)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        """A page of the user's threads, by creation order (see the class docstring).

        Raises:
            NotFoundError: ``after`` is not the id of one of the user's threads.
            ValueError: ``limit`` < 1 or ``order`` is neither "asc" nor "desc".
        """
        direction = check_page(limit, order)

        def read(connection: Connection) -> list[tuple[str, str]]:
            after_seq = None
            if after is not None:
                after_seq = connection.scalar(
                    select(THREADS.c.seq).where(owned_thread(after, context))
                )
                if after_seq is None:
                    raise thread_not_found(after)
            return page_rows(
                connection,
                select(THREADS.c.id, THREADS.c.data).where(
                    THREADS.c.user_id == context.user_id
                ),
                THREADS.c.seq,
                after_seq,
                limit,
                direction,
            )

        rows = await self._read(read)
        return page(Page[ThreadMetadata], rows, limit, _THREAD.validate_json)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        """Delete the user's thread with its items, feedback and attachment metadata rows.

        Attachment *files* are not touched: read :meth:`thread_attachment_ids` first to delete
        them from the file store.

        Raises:
            NotFoundError: No such thread of the user's.
        """
        def write(connection: Connection) -> None:
            require_thread(connection, thread_id, context)
            # The foreign keys cascade too; deleting children explicitly keeps the outcome
            # independent of whether the database enforces them.
            for table in (FEEDBACK, ITEMS, ATTACHMENTS):
                connection.execute(delete(table).where(table.c.thread_id == thread_id))
            connection.execute(delete(THREADS).where(owned_thread(thread_id, context)))

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
        direction = check_page(limit, order)

        def read(connection: Connection) -> list[tuple[str, str]]:
            require_thread(connection, thread_id, context)
            after_seq = None
            if after is not None:
                after_seq = connection.scalar(
                    select(ITEMS.c.seq).where(item_of(thread_id, after))
                )
                if after_seq is None:
                    raise item_not_found(thread_id, after)
            return page_rows(
                connection,
                select(ITEMS.c.id, ITEMS.c.data).where(ITEMS.c.thread_id == thread_id),
                ITEMS.c.seq,
                after_seq,
                limit,
                direction,
            )

        rows = await self._read(read)
        return page(Page[ThreadItem], rows, limit, _ITEM.validate_json)

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
        query = select(ITEMS.c.data).where(
            item_of(thread_id, item_id), ITEMS.c.user_id == context.user_id
        )
        data = await self._read(lambda connection: connection.scalar(query))
        if data is None:
            raise item_not_found(thread_id, item_id)
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
            require_thread(connection, thread_id, context)
            connection.execute(
                delete(FEEDBACK).where(
                    FEEDBACK.c.thread_id == thread_id, FEEDBACK.c.item_id == item_id
                )
            )
            connection.execute(delete(ITEMS).where(item_of(thread_id, item_id)))

        await self._write(write)

    async def _upsert_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        values = {
            "v_thread_id": thread_id,
            "v_id": item.id,
            "v_user_id": context.user_id,
            "v_type": item.type,
            "v_created_at": column_time(item.created_at),
            "v_data": _ITEM.dump_json(item).decode(),
        }

        def write(connection: Connection) -> Any:
            require_thread(connection, thread_id, context)
            try:
                return connection.execute(self._save_item, values).first()
            except IntegrityError as error:
                # Only the thread foreign key can fail: the thread was deleted meanwhile.
                raise thread_not_found(thread_id) from error

        saved = await self._write(write)
        if saved is None:
            raise thread_not_found(thread_id)

    # --- attachments --------------------------------------------------------------------------

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        """Create or replace the user's attachment metadata.

        Raises:
            NotFoundError: The id belongs to another user's attachment, or ``attachment.thread_id``
                names a thread that is not the user's. Nothing is changed.
        """
        statement = self._backend.insert(ATTACHMENTS).values(
            id=attachment.id,
            user_id=context.user_id,
            thread_id=attachment.thread_id,
            created_at=utc_now(),
            data=_ATTACHMENT.dump_json(attachment).decode(),
        )
        statement = statement.on_conflict_do_update(
            index_elements=[ATTACHMENTS.c.id],
            set_={"thread_id": statement.excluded.thread_id, "data": statement.excluded.data},
            where=ATTACHMENTS.c.user_id == statement.excluded.user_id,
        ).returning(ATTACHMENTS.c.id)

        def write(connection: Connection) -> Any:
            if attachment.thread_id is not None:
                require_thread(connection, attachment.thread_id, context)
            try:
                return connection.execute(statement).first()
            except IntegrityError as error:
                raise thread_not_found(str(attachment.thread_id)) from error

        saved = await self._write(write)
        if saved is None:
            raise attachment_not_found(attachment.id)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        """The user's attachment metadata; ``NotFoundError`` if there is none with that id."""
        query = select(ATTACHMENTS.c.data).where(owned_attachment(attachment_id, context))
        data = await self._read(lambda connection: connection.scalar(query))
        if data is None:
            raise attachment_not_found(attachment_id)
        return _ATTACHMENT.validate_json(data)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        """Delete the user's attachment metadata; ``NotFoundError`` if there is none."""
        statement = delete(ATTACHMENTS).where(owned_attachment(attachment_id, context))
        deleted = await self._write(lambda connection: connection.execute(statement).rowcount)
        if deleted == 0:
            raise attachment_not_found(attachment_id)

    async def thread_attachment_ids(self, thread_id: str, context: RequestContext) -> list[str]:
        """Ids of the attachments saved with ``thread_id`` as their thread, sorted.

        Raises:
            NotFoundError: The thread is not the user's.
        """
        def read(connection: Connection) -> list[str]:
            require_thread(connection, thread_id, context)
            ids = connection.scalars(
                select(ATTACHMENTS.c.id)
                .where(
                    ATTACHMENTS.c.thread_id == thread_id,
                    ATTACHMENTS.c.user_id == context.user_id,
                )
                .order_by(ATTACHMENTS.c.id)
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
            require_thread(connection, thread_id, context)
            if not wanted:
                return
            require_items(connection, thread_id, wanted)
            now = utc_now()
            statement = self._backend.insert(FEEDBACK).values(
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
                    index_elements=[FEEDBACK.c.thread_id, FEEDBACK.c.item_id],
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
            require_thread(connection, thread_id, context)
            rows = connection.execute(
                select(FEEDBACK.c.item_id, FEEDBACK.c.kind).where(
                    FEEDBACK.c.thread_id == thread_id,
                    FEEDBACK.c.user_id == context.user_id,
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
        would otherwise wait in SQLite's busy handler behind them. Fenced like the store's own
        writes during a turn (the turn locks take and drop their rows outside the turn's fence)."""
        return await self._write(body)

    # --- plumbing -----------------------------------------------------------------------------

    async def _read(self, body: Callable[[Connection], T]) -> T:
        """``body(connection)`` in a transaction, for reads."""
        return await self._run(body, write=False)

    async def _write(self, body: Callable[[Connection], T]) -> T:
        """``body(connection)`` in a transaction that commits on success, rolls back on error;
        during a turn, only while the turn still holds its thread (see `fences.py`)."""
        preloaded = PRELOADED.get()
        if preloaded is not None:  # the thread may change now: the next load reads it again
            preloaded.drop()
        fence = FENCE.get()
        if fence is None:
            return await self._run(body, write=True)

        def fenced(connection: Connection) -> T:
            check_fence(connection, fence)
            return body(connection)

        return await self._run(fenced, write=True)

    async def _run(self, body: Callable[[Connection], T], *, write: bool) -> T:
        return await self._runner.run(body, write=write)
