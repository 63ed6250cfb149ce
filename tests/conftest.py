"""Shared fixtures: a real PostgreSQL for the session, a fresh database per test, a store URL per backend."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from pgserver import PostgresServer, PostgresUnavailable, start_postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL 15, started on first use and stopped at the end of the session.

    Fails (never skips) the tests that need it when it cannot start, with the reason.
    """
    try:
        server = start_postgres()
    except PostgresUnavailable as error:
        pytest.fail(f"cannot start PostgreSQL for the tests: {error}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """``postgresql+asyncpg://`` URL of the session server's ``postgres`` database.

    Shared by every test: use ``postgres_db_url`` for a database of your own.
    """
    return postgres_server.url()


@pytest.fixture
async def postgres_db_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """URL of a new, empty database that only this test sees (dropped afterwards)."""
    name = f"test_{uuid.uuid4().hex}"
    admin = await asyncpg.connect(postgres_server.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield postgres_server.url(name)
    admin = await asyncpg.connect(postgres_server.dsn())
    try:
        # FORCE: a test that failed before closing its store must not leak the database.
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "memory", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL for each backend: an SQLite file, ``memory://``, and a PostgreSQL database of its own."""
    return _store_url_for(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
def shared_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL on each backend that a second store (standing in for a second process) can open too."""
    return _store_url_for(request.param, request, tmp_path)


def _store_url_for(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/chatkit.db"  # four slashes in all: absolute
    if backend == "memory":
        return "memory://"
    return request.getfixturevalue("postgres_db_url")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that reaches the session's PostgreSQL ``postgres``, so ``-m "not postgres"`` works."""
    for item in items:
        if "postgres_server" in getattr(item, "fixturenames", ()) or _on_postgres(item):
            item.add_marker(pytest.mark.postgres)


def _on_postgres(item: pytest.Item) -> bool:
    # A store URL fixture asks for postgres_db_url only at run time (getfixturevalue), so read its parameter.
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "postgres" in callspec.params.values()
