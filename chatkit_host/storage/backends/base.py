"""What a store backend provides, and the transaction runner most of them use."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

if TYPE_CHECKING:
    from chatkit_host.storage.leases import ThreadLeases
    from chatkit_host.storage.store import SQLStore

T = TypeVar("T")


class TransactionRunner(ABC):
    """Runs a store transaction: ``body(connection)`` on a synchronous connection, committed when
    it returns (for writes), rolled back when it raises. ``inline`` marks a read of one row by
    its key, which a runner may run without leaving the event loop's thread."""

    @abstractmethod
    async def run(self, body: Callable[[Connection], T], *, write: bool, inline: bool = False) -> T: ...

    async def close(self) -> None:
        """Let go of anything beyond the engine (the store disposes of the engine itself)."""


class EngineRunner(TransactionRunner):
    """Each transaction on a connection of the async engine's pool, its body run in one go."""

    def __init__(self, engine: AsyncEngine, *, write_options: dict[str, Any] | None = None,
                 one_at_a_time: bool = False):
        self._engine = engine
        self._write_options = write_options or {}
        # One shared connection has one transaction: concurrent tasks must take turns.
        self._turns: asyncio.Lock | None = asyncio.Lock() if one_at_a_time else None

    async def run(self, body: Callable[[Connection], T], *, write: bool, inline: bool = False) -> T:
        async with self._transaction(write=write) as connection:
            return await connection.run_sync(body)

    @asynccontextmanager
    async def _transaction(self, *, write: bool) -> AsyncIterator[AsyncConnection]:
        async with self._turns or nullcontext(), self._engine.connect() as connection:
            if write and self._write_options:
                connection = await connection.execution_options(**self._write_options)
            async with connection.begin():
                yield connection


class Backend(ABC):
    """One kind of database a store can live in. Its module holds everything that differs by
    database; `backends.LISTED` lists them."""

    name: str
    """The name in the registry (`sqlite`, `postgresql`, `memory`)."""

    @abstractmethod
    def engine(self, url: str, base_dir: Path | None) -> AsyncEngine:
        """The engine ``url`` names, not yet connected; a `ConfigError` on `store.url` if it is
        malformed or its driver is missing."""

    @abstractmethod
    def owns(self, engine: AsyncEngine) -> bool:
        """Whether ``engine`` was made by this backend."""

    @abstractmethod
    def runner(self, engine: AsyncEngine) -> TransactionRunner:
        """How the store runs its transactions on ``engine``."""

    @abstractmethod
    def leases(self, store: SQLStore) -> ThreadLeases:
        """The thread leases (turn locks) this database supports, across every process sharing it."""

    @abstractmethod
    def insert(self, table: Table) -> Any:
        """An INSERT supporting ``on_conflict_do_update`` in this database's dialect."""

    def loaded_outage_errors(self) -> tuple[type[BaseException], ...]:
        """The driver's own "database unreachable" errors, if its driver is loaded (without it
        none can happen, and a process that never uses this backend should not import it)."""
        return ()

    def outage_errors(self) -> tuple[type[BaseException], ...]:
        """The same, importing the driver: for handlers keyed by type before the store opens."""
        return self.loaded_outage_errors()

    async def lock_schema(self, connection: AsyncConnection) -> None:
        """Serialise schema set-up across processes within ``connection``'s transaction."""

    def schema_options(self) -> dict[str, Any]:
        """Execution options for the schema set-up transaction."""
        return {}
