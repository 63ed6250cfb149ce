"""Turn a ``store.url`` from chatkit.yaml into an async SQLAlchemy engine.

Supported URLs:

* ``sqlite:///relative/path.db`` — a file relative to the config's directory (``base_dir``);
  missing parent folders are created.
* ``sqlite:////absolute/path.db`` — a file at an absolute path.
* ``memory://`` — a throwaway in-memory SQLite database, shared by every connection of the engine.
* ``postgresql://…``, ``postgres://…``, ``postgresql+asyncpg://…`` — PostgreSQL, always through
  the asyncpg driver whatever driver the URL names.

Every problem with the URL is a :class:`~chatkit_host.errors.ConfigError` keyed ``store.url``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from chatkit_host.errors import ConfigError, ConfigProblem

CONFIG_KEY = "store.url"

SUPPORTED_URLS = (
    "sqlite:///relative/path.db",
    "sqlite:////absolute/path.db",
    "memory://",
    "postgresql://user:password@host/dbname",
)

#: How long a SQLite connection waits for another writer before failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5_000

#: Seconds to open a PostgreSQL connection, wait for a pooled one, and run one statement.
POSTGRES_CONNECT_TIMEOUT = 5.0
POSTGRES_POOL_TIMEOUT = 10.0
POSTGRES_COMMAND_TIMEOUT = 30.0

#: Connection execution option naming the SQLite ``BEGIN`` flavour of the next transaction.
#: Writers ask for ``IMMEDIATE`` so they queue on the busy timeout instead of failing when a
#: read-then-write transaction cannot upgrade its lock (SQLITE_BUSY_SNAPSHOT).
SQLITE_BEGIN_OPTION = "chatkit_sqlite_begin"

_SQLITE_SCHEMES = {"sqlite", "sqlite+aiosqlite"}
_POSTGRES_SCHEMES = {"postgres", "postgresql"}
_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}


def engine_for_url(url: str, *, base_dir: Path | None = None) -> AsyncEngine:
    """Build the async engine a ``store.url`` names, without connecting to it.

    Args:
        url: The store URL (see the module docstring for the accepted forms).
        base_dir: Directory relative SQLite paths are resolved against; the current directory
            when ``None``.

    Raises:
        ConfigError: The scheme is unknown, the URL is malformed, or its driver is not installed.
    """
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower()
    if not separator:
        raise _unsupported(f"'{_redact(url)}' is not a URL")
    if scheme == "memory":
        return _memory_engine(rest)
    if scheme in _SQLITE_SCHEMES:
        return _sqlite_engine(_sqlite_path(rest, base_dir))
    if is_postgresql_url(url):
        return _postgres_engine(url)
    raise _unsupported(f"unsupported scheme '{scheme}://'")


def is_postgresql_url(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database (``postgresql://``, ``postgres://``, …)."""
    scheme = url.partition("://")[0].lower()
    return scheme in _POSTGRES_SCHEMES or scheme.startswith("postgresql+")


def is_in_memory(engine: AsyncEngine) -> bool:
    """True when every checkout of ``engine`` shares one connection (``memory://``)."""
    return isinstance(engine.sync_engine.pool, StaticPool)


def redacted_url(engine: AsyncEngine) -> str:
    """The engine's URL with any password hidden, for messages and logs."""
    return engine.url.render_as_string(hide_password=True)


# --- SQLite -----------------------------------------------------------------------------------


def _memory_engine(rest: str) -> AsyncEngine:
    if rest:
        raise _problem(
            f"'memory://{rest}': an in-memory store takes no path",
            hint="write just memory://",
        )
    _require_driver("sqlite")
    engine = create_async_engine(
        "sqlite+aiosqlite://",
        # One shared connection: a second connection would open a second, empty database.
        poolclass=StaticPool,
        connect_args={"check_same_thread": False},
    )
    _install_sqlite_hooks(engine)
    return engine


def _sqlite_path(rest: str, base_dir: Path | None) -> Path:
    """The database file of ``sqlite://<rest>``; ``rest`` keeps the slash after ``//``."""
    if not rest.startswith("/") or rest == "/":
        raise _problem(
            "a SQLite URL needs a file path after three slashes",
            hint="sqlite:///data/chatkit.db (relative) or sqlite:////var/lib/chatkit.db (absolute)",
        )
    if "?" in rest:
        raise _problem(
            "SQLite URLs take no query parameters", hint="remove everything from '?' on"
        )
    path = Path(rest[1:])
    if not path.is_absolute():
        path = (base_dir if base_dir is not None else Path.cwd()) / path
    return path


def _sqlite_engine(path: Path) -> AsyncEngine:
    _require_driver("sqlite")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _problem(
            f"cannot create the folder for the SQLite database {path}: {error.strerror}",
            hint="choose a writable location",
        ) from error
    engine = create_async_engine(URL.create("sqlite+aiosqlite", database=str(path)))
    _install_sqlite_hooks(engine)
    return engine


def sqlite_sync_twin(engine: AsyncEngine) -> Engine | None:
    """A synchronous engine on the same SQLite file as ``engine``; None for other databases.

    Through aiosqlite every step of a statement (cursor, execute, fetch, close), and every BEGIN,
    COMMIT and pool reset, is a hop to the connection's thread and back: most of a short query's
    CPU. The store runs whole transactions on this twin in one worker-thread call instead.
    Statements run here are also reported to ``engine``'s ``before_cursor_execute`` listeners, so
    whoever watches the store's engine still sees every statement.
    """
    if engine.dialect.name != "sqlite" or is_in_memory(engine):
        return None
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


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    """Per-connection pragmas, and transactions that begin when SQLAlchemy says so.

    Python's sqlite3 (legacy mode) only emits BEGIN before DML, so a SELECT that precedes an
    INSERT would run outside the transaction. We switch that off and emit BEGIN ourselves:
    SQLAlchemy's documented recipe for real transactions with (aio)sqlite.
    """
    event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    event.listen(engine.sync_engine, "begin", _on_sqlite_begin)


def _on_sqlite_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
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


# --- PostgreSQL -------------------------------------------------------------------------------


def _postgres_engine(url: str) -> AsyncEngine:
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise _problem(
            f"malformed PostgreSQL URL '{_redact(url)}'",
            hint="postgresql://user:password@host:5432/dbname",
        ) from error
    _require_driver("postgresql")
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


def _asyncpg_query(url: URL) -> URL:
    """Translate libpq's ``sslmode`` (which asyncpg rejects) to asyncpg's ``ssl``."""
    sslmode = url.query.get("sslmode")
    if sslmode is None:
        return url
    return url.difference_update_query(["sslmode"]).update_query_dict({"ssl": sslmode})


# --- errors -----------------------------------------------------------------------------------


def _require_driver(backend: str) -> None:
    package = _DRIVERS[backend]
    if importlib.util.find_spec(package) is None:
        raise _problem(
            f"the {backend} driver is not installed: pip install {package}",
            hint=f"pip install {package}",
        )


def _unsupported(message: str) -> ConfigError:
    return _problem(message, hint="use one of " + ", ".join(SUPPORTED_URLS))


def _problem(message: str, *, hint: str | None = None) -> ConfigError:
    return ConfigError(ConfigProblem(message=message, key=CONFIG_KEY, hint=hint))


def _redact(url: str) -> str:
    """``url`` with the password of ``user:password@`` replaced, for error messages."""
    scheme, separator, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{separator}{user}:***@{host}"
