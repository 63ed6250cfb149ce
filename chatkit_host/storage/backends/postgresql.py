"""PostgreSQL: ``postgresql://…``, ``postgres://…``, ``postgresql+asyncpg://…`` — always through
the asyncpg driver, whatever driver the URL names.

Turns lease threads with session advisory locks; asyncpg's connection errors are outages.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Table, bindparam, make_url, text
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from chatkit_host.storage.fences import Fence
from chatkit_host.storage.leases import Lease, ThreadLeases
from chatkit_host.storage.preloaded import PreloadedThread
from chatkit_host.storage.queries import THREAD_DATA
from chatkit_host.storage.tables import TURN_LEASES
from chatkit_host.storage.urls import redact, require_driver, url_problem

from .base import Backend, EngineRunner, TransactionRunner

if TYPE_CHECKING:
    from chatkit_host.storage.store import SQLStore

logger = logging.getLogger("chatkit_host.storage.backends.postgresql")

#: Seconds to open a PostgreSQL connection, wait for a pooled one, and run one statement.
POSTGRES_CONNECT_TIMEOUT = 5.0
POSTGRES_POOL_TIMEOUT = 10.0
POSTGRES_COMMAND_TIMEOUT = 30.0

#: 64-bit key of the advisory lock that serializes schema set-up across processes.
_SCHEMA_LOCK_KEY = 0x63686B7473636865  # "chktsche"
_LEASE_NAMESPACE = 0x43484B54  # "CHKT": keeps our turn locks apart from other users of the database


class PostgresBackend(Backend):
    name = "postgresql"

    def engine(self, url: str, base_dir: Path | None) -> AsyncEngine:
        try:
            parsed = make_url(url)
        except ArgumentError as error:
            raise url_problem(f"malformed PostgreSQL URL '{redact(url)}'",
                              hint="postgresql://user:password@host:5432/dbname") from error
        require_driver("postgresql", "asyncpg")
        parsed = _asyncpg_query(parsed.set(drivername="postgresql+asyncpg"))
        # pre_ping: a pooled connection the server (or a failover) closed is replaced, not reused.
        # The timeouts make an unreachable or hung server a quick, clear error instead of a hang
        # (asyncpg's own connect timeout is 60 s; its statements have none).
        return create_async_engine(
            parsed,
            pool_pre_ping=True,
            pool_timeout=POSTGRES_POOL_TIMEOUT,
            connect_args={"timeout": POSTGRES_CONNECT_TIMEOUT, "command_timeout": POSTGRES_COMMAND_TIMEOUT},
        )

    def owns(self, engine: AsyncEngine) -> bool:
        return engine.dialect.name == "postgresql"

    def runner(self, engine: AsyncEngine) -> TransactionRunner:
        return EngineRunner(engine)

    def leases(self, store: SQLStore) -> ThreadLeases:
        return AdvisoryLeases(store.engine)

    def insert(self, table: Table) -> Any:
        from sqlalchemy.dialects import postgresql  # loaded with a PostgreSQL engine anyway

        return postgresql.insert(table)

    def loaded_outage_errors(self) -> tuple[type[BaseException], ...]:
        asyncpg = sys.modules.get("asyncpg")
        return () if asyncpg is None else _asyncpg_outages(asyncpg)

    def outage_errors(self) -> tuple[type[BaseException], ...]:
        try:
            import asyncpg
        except ImportError:  # opening the store says what to install
            return ()
        return _asyncpg_outages(asyncpg)

    async def lock_schema(self, connection: AsyncConnection) -> None:
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})


BACKEND = PostgresBackend()


def _asyncpg_query(url: URL) -> URL:
    """Translate libpq's ``sslmode`` (which asyncpg rejects) to asyncpg's ``ssl``."""
    sslmode = url.query.get("sslmode")
    if sslmode is None:
        return url
    return url.difference_update_query(["sslmode"]).update_query_dict({"ssl": sslmode})


def _asyncpg_outages(asyncpg: Any) -> tuple[type[BaseException], ...]:
    return (
        asyncpg.PostgresConnectionError,  # connection refused, lost, cannot connect now
        asyncpg.InterfaceError,  # "connection is closed" on a connection the server dropped
        asyncpg.exceptions.AdminShutdownError,  # "terminating connection due to administrator command"
        asyncpg.exceptions.CrashShutdownError,  # another server process crashed: all were reset
        asyncpg.exceptions.CannotConnectNowError,  # "the database system is starting up" / "shutting down"
        asyncpg.exceptions.TooManyConnectionsError,  # "sorry, too many clients already"
    )


# --- leases -----------------------------------------------------------------------------------

_DROP_LEASE = text("DELETE FROM chatkit_turn_leases WHERE thread_id = :t AND holder = :h")
_HOST = socket.gethostname()


class AdvisoryLeases(ThreadLeases):
    """Session advisory locks on a hash of the thread id, each on a connection of its own (not from
    the store's pool: a long stream must not starve the store of connections). A replica that dies
    loses its connection, and the lock with it.

    The lock also dies with its connection when PostgreSQL restarts, while the turn goes on; the
    holder written to `chatkit_turn_leases` survives and fences the turn's writes should another
    turn take the thread meanwhile (#18 F1).
    """

    def __init__(self, engine: AsyncEngine):
        self._engine = create_async_engine(
            engine.url, poolclass=NullPool, connect_args={"timeout": POSTGRES_CONNECT_TIMEOUT}
        )
        statement = BACKEND.insert(TURN_LEASES).values({name: bindparam(name) for name in TURN_LEASES.c.keys()})
        self._take = statement.on_conflict_do_update(
            index_elements=[TURN_LEASES.c.thread_id],
            set_={"holder": statement.excluded.holder, "host": statement.excluded.host,
                  "pid": statement.excluded.pid},
        )

    async def try_lease(self, thread_id: str, user_id: str | None = None) -> Lease | None:
        key = _lease_key(thread_id)
        connection = await self._engine.connect()
        try:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            got = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:space, :key)"), {"space": _LEASE_NAMESPACE, "key": key}
            )
            holder = uuid.uuid4().hex
            data = None
            if got:
                await connection.execute(self._take, {"thread_id": thread_id, "holder": holder,
                                                      "host": _HOST, "pid": os.getpid(), "expires_at": 0.0})
                if user_id is not None:
                    # The turn's first load of the thread, on a connection already at hand
                    # rather than one from the store's pool (preloaded.py).
                    data = await connection.scalar(THREAD_DATA, {"thread_id": thread_id, "user_id": user_id})
        except BaseException:
            await _close_quietly(connection)
            raise
        if not got:
            await _close_quietly(connection)
            return None

        async def release() -> None:
            try:
                await connection.execute(_DROP_LEASE, {"t": thread_id, "h": holder})
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:space, :key)"), {"space": _LEASE_NAMESPACE, "key": key}
                )
            finally:
                # Closing the session releases its locks even when the unlock above failed.
                await _close_quietly(connection)

        preloaded = PreloadedThread(thread_id, user_id, data) if user_id and data else None
        return Lease(release, Fence(thread_id, holder), preloaded)

    async def close(self) -> None:
        await self._engine.dispose()


def _lease_key(thread_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(thread_id.encode(), digest_size=4).digest(), "big",
                          signed=True)


async def _close_quietly(connection: AsyncConnection) -> None:
    try:
        await connection.close()
    except Exception:  # the server may already be gone; the lock went with it
        logger.debug("closing a turn-lock connection failed", exc_info=True)
