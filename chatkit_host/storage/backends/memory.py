"""``memory://``: a throwaway in-memory SQLite database, shared by every connection of the engine.
One process holds the only copy of the data, so leases are an in-process set."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from chatkit_host.storage.leases import Lease, ThreadLeases
from chatkit_host.storage.urls import require_driver, url_problem

from .base import Backend, TransactionRunner
from .sqlite import WRITE_OPTIONS, install_sqlite_hooks, memory_runner

if TYPE_CHECKING:
    from chatkit_host.storage.store import SQLStore


class MemoryBackend(Backend):
    name = "memory"

    def engine(self, url: str, base_dir: Path | None) -> AsyncEngine:
        rest = url.partition("://")[2]
        if rest:
            raise url_problem(f"'memory://{rest}': an in-memory store takes no path",
                              hint="write just memory://")
        require_driver("sqlite", "aiosqlite")
        engine = create_async_engine(
            "sqlite+aiosqlite://",
            # One shared connection: a second connection would open a second, empty database.
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
        install_sqlite_hooks(engine)
        return engine

    def owns(self, engine: AsyncEngine) -> bool:
        return isinstance(engine.sync_engine.pool, StaticPool)

    def runner(self, engine: AsyncEngine) -> TransactionRunner:
        return memory_runner(engine)

    def leases(self, store: SQLStore) -> ThreadLeases:
        return LocalLeases()

    def insert(self, table: Table) -> Any:
        return sqlite.insert(table)

    def schema_options(self) -> dict[str, Any]:
        return WRITE_OPTIONS


BACKEND = MemoryBackend()


class LocalLeases(ThreadLeases):
    """One process: a set of the threads held."""

    def __init__(self) -> None:
        self._held: set[str] = set()

    async def try_lease(self, thread_id: str, user_id: str | None = None) -> Lease | None:
        if thread_id in self._held:
            return None
        self._held.add(thread_id)

        async def release() -> None:
            self._held.discard(thread_id)

        return Lease(release)
