"""SQLite files: ``sqlite:///relative/path.db`` (relative to the config's folder) or
``sqlite:////absolute/path.db``; missing parent folders are created.

Transactions run whole on worker threads through the stdlib driver; turns lease threads with
rows renewed while they run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import URL, Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from chatkit_host.storage.fences import Fence
from chatkit_host.storage.leases import Lease, ThreadLeases
from chatkit_host.storage.preloaded import PreloadedThread
from chatkit_host.storage.queries import THREAD_DATA
from chatkit_host.storage.urls import require_driver, url_problem

from .base import Backend, EngineRunner, TransactionRunner

if TYPE_CHECKING:
    from chatkit_host.storage.store import SQLStore

logger = logging.getLogger("chatkit_host.storage.backends.sqlite")
T = TypeVar("T")

#: How long a SQLite connection waits for another writer before failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5_000

#: Connection execution option naming the SQLite ``BEGIN`` flavour of the next transaction.
#: Writers ask for ``IMMEDIATE`` so they queue on the busy timeout instead of failing when a
#: read-then-write transaction cannot upgrade its lock (SQLITE_BUSY_SNAPSHOT).
SQLITE_BEGIN_OPTION = "chatkit_sqlite_begin"
WRITE_OPTIONS = {SQLITE_BEGIN_OPTION: "IMMEDIATE"}

LEASE_SECONDS = 30.0
"""A lease not renewed for this long is free; holders renew it every third of that."""


class SQLiteBackend(Backend):
    name = "sqlite"

    def engine(self, url: str, base_dir: Path | None) -> AsyncEngine:
        path = _sqlite_path(url.partition("://")[2], base_dir)
        require_driver("sqlite", "aiosqlite")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise url_problem(
                f"cannot create the folder for the SQLite database {path}: {error.strerror}",
                hint="choose a writable location",
            ) from error
        engine = create_async_engine(URL.create("sqlite+aiosqlite", database=str(path)))
        install_sqlite_hooks(engine)
        return engine

    def owns(self, engine: AsyncEngine) -> bool:
        return engine.dialect.name == "sqlite" and not isinstance(engine.sync_engine.pool, StaticPool)

    def runner(self, engine: AsyncEngine) -> TransactionRunner:
        return ThreadedRunner(engine)

    def leases(self, store: SQLStore) -> ThreadLeases:
        return RowLeases(store)

    def insert(self, table: Table) -> Any:
        return sqlite.insert(table)

    def schema_options(self) -> dict[str, Any]:
        return WRITE_OPTIONS


BACKEND = SQLiteBackend()


def database_file(url: str, base_dir: Path | None) -> Path:
    """The database file a ``sqlite://`` URL names (relative ones under ``base_dir``)."""
    return _sqlite_path(url.partition("://")[2], base_dir)


def _sqlite_path(rest: str, base_dir: Path | None) -> Path:
    """The database file of ``sqlite://<rest>``; ``rest`` keeps the slash after ``//``."""
    if not rest.startswith("/") or rest == "/":
        raise url_problem(
            "a SQLite URL needs a file path after three slashes",
            hint="sqlite:///data/chatkit.db (relative) or sqlite:////var/lib/chatkit.db (absolute)",
        )
    if "?" in rest:
        raise url_problem("SQLite URLs take no query parameters", hint="remove everything from '?' on")
    path = Path(rest[1:])
    if not path.is_absolute():
        path = (base_dir if base_dir is not None else Path.cwd()) / path
    return path


# --- connections ------------------------------------------------------------------------------


def install_sqlite_hooks(engine: AsyncEngine) -> None:
    """Per-connection pragmas, and transactions that begin when SQLAlchemy says so.

    Python's sqlite3 (legacy mode) only emits BEGIN before DML, so a SELECT that precedes an
    INSERT would run outside the transaction. We switch that off and emit BEGIN ourselves:
    SQLAlchemy's documented recipe for real transactions with (aio)sqlite.
    """
    event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    event.listen(engine.sync_engine, "begin", _on_sqlite_begin)


def _on_sqlite_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers and one writer work at once (in-memory databases answer "memory").
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # SQLite ignores declared foreign keys unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        # Durable at every checkpoint; in WAL mode NORMAL never corrupts, only may lose the last
        # commits on power loss.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Any) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def _begin_on_driver(connection: Any) -> None:
    """`_on_sqlite_begin` for a synchronous sqlite3 connection: straight to the driver, without
    a trip through SQLAlchemy's statement machinery (a sizeable part of a short transaction)."""
    mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
    connection.connection.driver_connection.execute(f"BEGIN {mode}")


def sqlite_sync_twin(engine: AsyncEngine) -> Engine:
    """A synchronous engine on the same SQLite file as ``engine``.

    Through aiosqlite every step of a statement (cursor, execute, fetch, close), and every BEGIN,
    COMMIT and pool reset, is a hop to the connection's thread and back: most of a short query's
    CPU. The store runs whole transactions on this twin in one worker-thread call instead.
    Statements run here are also reported to ``engine``'s ``before_cursor_execute`` listeners, so
    whoever watches the store's engine still sees every statement.
    """
    twin = create_engine(
        URL.create("sqlite+pysqlite", database=engine.url.database),
        # Transactions are run on worker threads, one thread at a time per connection.
        connect_args={"check_same_thread": False},
    )
    event.listen(twin, "connect", _on_sqlite_connect)
    event.listen(twin, "begin", _begin_on_driver)
    watched = engine.sync_engine

    def report(connection: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        if watched.dispatch.before_cursor_execute:
            watched.dispatch.before_cursor_execute(
                connection, cursor, statement, parameters, context, executemany
            )

    event.listen(twin, "before_cursor_execute", report)
    return twin


# --- transactions -----------------------------------------------------------------------------


#: Commits made on the event loop's thread between two checkpoints of the WAL on the writer thread.
#: Those commits never checkpoint themselves: a checkpoint copies pages into the database file and
#: syncs it, milliseconds that every stream would wait for on the loop.
CHECKPOINT_EVERY = 200


class ThreadedRunner(TransactionRunner):
    """Each transaction runs whole on a worker thread through the stdlib driver (one thread hop)
    rather than statement by statement through aiosqlite (a dozen hops) — or, for a write that
    would wait for nothing, at once on the event loop's thread."""

    def __init__(self, engine: AsyncEngine):
        self._sync = sqlite_sync_twin(engine)
        self._reads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chatkit-store-read")
        # SQLite has one writer at a time. This process's writes queue for one thread, in order,
        # rather than in SQLite's busy handler, which sleeps (up to 100 ms a try) while the lock
        # is free; and one write follows another without a trip through the event loop between.
        self._writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatkit-store-write")
        self._queued = 0
        """Writes handed to the writer thread and not finished."""
        self._now = sqlite_sync_twin(engine)
        event.listen(self._now, "connect", _on_loop_connect)
        self._since_checkpoint = 0

    async def run(self, body: Callable[[Connection], T], *, write: bool, inline: bool = False) -> T:
        if inline and not write:
            # A read of one row by its key takes ~0.1 ms, and in WAL mode a reader never waits
            # for the writer. A worker thread's round trip costs far more under load: the GIL
            # handed to the worker and back, then a turn of the busy event loop (~10 ms at the
            # median with 16 conversations streaming, bench/README.md).
            return self._run_in_thread(body, write)
        if write and self._queued == 0:
            # Nothing of this process's is ahead of it, so running it now keeps their order; and
            # the write lock is tried without waiting, so another process holding it sends this
            # one to the queue instead of stalling the loop in SQLite's busy handler. A turn's
            # first event waits for two writes (its lease, the user's message): each thread round
            # trip was ~2 ms at the median and ~10 ms at p90 with 8 conversations streaming.
            try:
                return self._write_now(body)
            except _WriteLockTaken:
                pass
        # Cancelled before its thread takes it, the transaction never runs; once taken, it
        # ends (commits or rolls back) on its thread, and the next write waits for that.
        future = asyncio.get_running_loop().run_in_executor(
            self._writes if write else self._reads, self._run_in_thread, body, write
        )
        if write:
            self._queued += 1
            future.add_done_callback(self._write_done)
        return await future

    def _write_done(self, _future: asyncio.Future[Any]) -> None:
        self._queued -= 1

    def _write_now(self, body: Callable[[Connection], T]) -> T:
        """``body``'s result, committed.

        Raises:
            _WriteLockTaken: Another process holds SQLite's write lock; nothing ran.
        """
        with self._now.connect() as connection:
            connection = connection.execution_options(**WRITE_OPTIONS)
            try:
                transaction = connection.begin()
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise
                raise _WriteLockTaken() from None
            with transaction:
                result = body(connection)
        self._since_checkpoint += 1
        if self._since_checkpoint >= CHECKPOINT_EVERY:
            self._since_checkpoint = 0
            self._writes.submit(self._checkpoint)
        return result

    def _checkpoint(self) -> None:
        with self._sync.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None  # a pooled connection that is checked out has one
            driver.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _run_in_thread(self, body: Callable[[Connection], T], write: bool) -> T:
        with self._sync.connect() as connection:
            if write:
                # Take the write lock up front; see SQLITE_BEGIN_OPTION.
                connection = connection.execution_options(**WRITE_OPTIONS)
            with connection.begin():
                return body(connection)

    async def close(self) -> None:
        for workers in (self._reads, self._writes):
            workers.shutdown(wait=False)
        self._sync.dispose()
        self._now.dispose()


class _WriteLockTaken(Exception):
    """Another process holds SQLite's write lock."""


def _on_loop_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    """The event loop's own connection: it never waits for the write lock and never checkpoints
    (see `CHECKPOINT_EVERY`)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("PRAGMA wal_autocheckpoint=0")
    finally:
        cursor.close()


def memory_runner(engine: AsyncEngine) -> TransactionRunner:
    """memory:// shares one connection, whose one transaction concurrent tasks must take in turn."""
    return EngineRunner(engine, write_options=WRITE_OPTIONS, one_at_a_time=True)


# --- leases -----------------------------------------------------------------------------------

_LEASE_OF = text("SELECT host, pid, expires_at FROM chatkit_turn_leases WHERE thread_id = :t")
_TAKE_LEASE = text("INSERT OR REPLACE INTO chatkit_turn_leases "
                   "(thread_id, holder, host, pid, expires_at) VALUES (:t, :h, :host, :pid, :e)")
_RENEW_LEASE = text(
    "UPDATE chatkit_turn_leases SET expires_at = :e WHERE thread_id = :t AND holder = :h"
)
_DROP_LEASE = text("DELETE FROM chatkit_turn_leases WHERE thread_id = :t AND holder = :h")


class RowLeases(ThreadLeases):
    """Lease rows in the store's own file, renewed while held; works across processes.

    Lease writes queue with the store's writes (`SQLStore.write_transaction`): on a connection of
    their own they met the store's writer in SQLite's busy handler, which sleeps while the lock is
    free — a follow-up turn's p99 time to first event was 130-450 ms against 30-60 ms (issue 10).
    """

    def __init__(self, store: SQLStore):
        self._store = store
        self._host = socket.gethostname()
        self._pid = os.getpid()

    async def try_lease(self, thread_id: str, user_id: str | None = None) -> Lease | None:
        holder = uuid.uuid4().hex

        def take(connection: Connection) -> tuple[bool, str | None]:
            row = connection.execute(_LEASE_OF, {"t": thread_id}).first()
            if row is not None and not self._abandoned(*row):
                return False, None
            connection.execute(_TAKE_LEASE, {"t": thread_id, "h": holder, "host": self._host,
                                             "pid": self._pid, "e": time.time() + LEASE_SECONDS})
            if user_id is None:
                return True, None
            # The turn's first load of the thread, without a round trip of its own (preloaded.py).
            return True, connection.scalar(THREAD_DATA, {"thread_id": thread_id, "user_id": user_id})

        taken, data = await self._store.write_transaction(take)
        if not taken:
            return None
        renewal = asyncio.create_task(self._renew(thread_id, holder))

        async def release() -> None:
            renewal.cancel()
            await self._store.write_transaction(
                lambda connection: connection.execute(_DROP_LEASE, {"t": thread_id, "h": holder})
            )

        preloaded = PreloadedThread(thread_id, user_id, data) if user_id and data else None
        return Lease(release, Fence(thread_id, holder), preloaded)

    def _abandoned(self, host: str, pid: int, expires_at: float) -> bool:
        if expires_at < time.time():
            return True
        # SIGKILL leaves the row behind; on this machine we can tell its holder is gone.
        return host == self._host and not _alive(pid)

    async def _renew(self, thread_id: str, holder: str) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            try:
                await self._store.write_transaction(lambda connection: connection.execute(
                    _RENEW_LEASE, {"t": thread_id, "h": holder, "e": time.time() + LEASE_SECONDS}
                ))
            except Exception:
                logger.warning("could not renew the turn lease of %s", thread_id, exc_info=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
