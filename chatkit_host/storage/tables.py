"""The store's tables, and creating / checking them when a store opens.

Each row keeps the SDK object it stands for as JSON text (``data``), serialized with the SDK's own
pydantic types; only what queries filter or sort on is a column. Order is ``seq``, an
autoincrement integer assigned on first insert: timestamps collide, ``seq`` never does, and an
upsert of an existing row keeps it.

Indexes are chosen so every page is an index range scan whose cost does not grow with the size of
the thread or the number of threads a user has: ``(user_id, seq)`` on threads, ``(thread_id,
seq)`` on items.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatkit_host.errors import ConfigError, ConfigProblem

from .urls import CONFIG_KEY, redacted_url

#: The layout this code reads and writes. Bump it, and add a step to ``_MIGRATIONS``, whenever a
#: release changes the tables.
SCHEMA_VERSION = 1


def _seq_column() -> Column[int]:
    # SQLite only autoincrements a column typed exactly INTEGER PRIMARY KEY; PostgreSQL gets
    # BIGSERIAL.
    return Column(
        "seq",
        BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


#: The store's tables only: a database it shares with an application's own tables leaves those alone.
METADATA = MetaData()

#: One row (``id`` = 1) holding the schema version of the database.
SCHEMA_VERSIONS = Table(
    "chatkit_schema_version", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
    CheckConstraint("id = 1", name="ck_chatkit_schema_version_one_row"),
)

#: Threads; ``data`` is the thread's ``chatkit.types.ThreadMetadata``.
THREADS = Table(
    "chatkit_threads", METADATA,
    _seq_column(),
    # Unique across users, so one user can never create a thread under another's id.
    Column("id", Text, nullable=False, unique=True),
    Column("user_id", Text, nullable=False),
    # The thread's own timestamp (UTC when it had a zone, verbatim when naive); informational.
    Column("created_at", DateTime, nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_chatkit_threads_user_seq", "user_id", "seq"),
    sqlite_autoincrement=True,
)

#: Thread items; ``data`` is the item's ``chatkit.types.ThreadItem``. Item ids are unique per
#: thread only: the same id may exist in two threads.
ITEMS = Table(
    "chatkit_items", METADATA,
    _seq_column(),
    Column("thread_id", Text, ForeignKey("chatkit_threads.id", ondelete="CASCADE"), nullable=False),
    Column("id", Text, nullable=False),
    # The thread owner, repeated so an item lookup needs no join to be scoped.
    Column("user_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("data", Text, nullable=False),
    UniqueConstraint("thread_id", "id", name="uq_chatkit_items_thread_id"),
    Index("ix_chatkit_items_thread_seq", "thread_id", "seq"),
    sqlite_autoincrement=True,
)

#: Attachment metadata (not the file); ``data`` is the ``chatkit.types.Attachment``.
ATTACHMENTS = Table(
    "chatkit_attachments", METADATA,
    Column("id", Text, primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("thread_id", Text, ForeignKey("chatkit_threads.id", ondelete="CASCADE"), nullable=True,
           index=True),
    # When the row was first written (UTC): lets a cleanup job find uploads never attached.
    Column("created_at", DateTime, nullable=False),
    Column("data", Text, nullable=False),
)

#: The latest feedback (``positive`` / ``negative``) a user gave one item.
FEEDBACK = Table(
    "chatkit_feedback", METADATA,
    Column("thread_id", Text, primary_key=True),
    Column("item_id", Text, primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # Deleting an item (or, through it, its thread) deletes its feedback.
    ForeignKeyConstraint(["thread_id", "item_id"], ["chatkit_items.thread_id", "chatkit_items.id"],
                         ondelete="CASCADE"),
)

#: A thread's app state (`state:` in chatkit.yaml); ``data`` is its JSON object. Kept beside the
#: thread row, not in its metadata: the SDK saves a thread's metadata from the copy a turn loaded,
#: which would put back state a tool changed during that turn.
THREAD_STATES = Table(
    "chatkit_thread_state", METADATA,
    Column("thread_id", Text, ForeignKey("chatkit_threads.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("data", Text, nullable=False),
)

#: Which turn holds a thread (see `chatkit_host.protocol.turns`); a row exists while it runs.
#: ``holder`` is the turn's fencing token: the store's writes during a turn check that the row
#: still names it (`fences.py`). ``host``, ``pid`` and ``expires_at`` let a SQLite holder's lease
#: be taken over when it died or stopped renewing; PostgreSQL holders keep an advisory lock.
#: Created with the other tables by every release that has it: older databases gain it on open.
TURN_LEASES = Table(
    "chatkit_turn_leases", METADATA,
    Column("thread_id", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),
)

#: Every table the store owns, parents first.
TABLES = [
    SCHEMA_VERSIONS,
    THREADS,
    ITEMS,
    ATTACHMENTS,
    FEEDBACK,
    # Added without a version bump: `create_all` adds a missing table to an existing database.
    THREAD_STATES,
    TURN_LEASES,
]

#: ``_MIGRATIONS[n]`` upgrades a version-``n`` database to version ``n + 1``.
_MIGRATIONS: dict[int, Callable[[AsyncConnection], Awaitable[None]]] = {}


class SchemaVersionError(ConfigError):
    """The database was written by a newer chatkit-host whose schema this code does not know."""


async def ensure_schema(engine: AsyncEngine) -> None:
    """Create the tables if missing, record the schema version, migrate an older database.

    Safe to run from several processes at once: set-up is serialized by a database lock
    (an advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite).

    Raises:
        SchemaVersionError: The database's schema version is newer than :data:`SCHEMA_VERSION`;
            nothing was changed.
    """
    # Imported here: the backends' modules use these tables.
    from .backends import backend_of

    backend = backend_of(engine)
    async with engine.connect() as connection:
        connection = await connection.execution_options(**backend.schema_options())
        async with connection.begin():
            await backend.lock_schema(connection)
            version = await _stored_version(connection)
            if version is not None and version > SCHEMA_VERSION:
                raise _newer_schema(engine, version)
            await connection.run_sync(
                lambda sync: METADATA.create_all(sync, tables=TABLES)
            )
            if version is None:
                await connection.execute(
                    SCHEMA_VERSIONS.insert().values(
                        id=1, version=SCHEMA_VERSION
                    )
                )
            else:
                await _migrate(connection, version)


async def _stored_version(connection: AsyncConnection) -> int | None:
    """The recorded schema version; ``None`` for a database the store has never opened."""
    table = SCHEMA_VERSIONS
    exists = await connection.run_sync(lambda sync: inspect(sync).has_table(table.name))
    if not exists:
        return None
    return await connection.scalar(select(table.c.version).where(table.c.id == 1))


async def _migrate(connection: AsyncConnection, version: int) -> None:
    table = SCHEMA_VERSIONS
    while version < SCHEMA_VERSION:
        step = _MIGRATIONS.get(version)
        if step is None:
            raise RuntimeError(f"no migration from store schema version {version}")
        await step(connection)
        version += 1
        await connection.execute(table.update().where(table.c.id == 1).values(version=version))


def _newer_schema(engine: AsyncEngine, version: int) -> SchemaVersionError:
    return SchemaVersionError(
        ConfigProblem(
            message=(
                f"the database {redacted_url(engine)} has store schema version {version}, "
                f"newer than this chatkit-host understands ({SCHEMA_VERSION})"
            ),
            key=CONFIG_KEY,
            hint="upgrade chatkit-host, or point store.url at another database",
        )
    )
