"""Shared fixtures: a real PostgreSQL for the session, a fresh database per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

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
