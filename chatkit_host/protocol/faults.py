"""Which failures mean "the database cannot be reached right now", answered 503 rather than 500.

During a PostgreSQL restart or failover every request that touches the store fails. The caller
should see a clear, retryable `503 store_unavailable` at once — not a hang, not a 500 with a
traceback — and the host should recover by itself when the database is back (the pool's pre-ping
replaces dead connections, so no restart is needed).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

from chatkit.server import StreamingResult
from chatkit.types import ChatKitReq, ErrorEvent, ThreadsCreateReq
from litestar import Request, Response
from litestar.exceptions.responses import create_exception_response
from sqlalchemy import exc as sa

from chatkit_host.storage.engine import is_postgresql_url
from chatkit_host.storage.fences import TurnLost
from chatkit_host.storage.store import SQLStore

logger = logging.getLogger("chatkit_host.protocol.faults")

RETRY_AFTER_SECONDS = 2
"""Sent as `Retry-After` with a 503: a restart usually takes a few seconds."""

def is_store_outage(error: BaseException) -> bool:
    """True when ``error`` says the database is unreachable (not that a query was wrong).

    The telling error may sit several levels down: SQLAlchemy wraps an adapter error that wraps
    asyncpg's (`CannotConnectNowError` during a restart is three deep), so every error ``error``
    wraps — its ``__cause__``, ``__context__`` and a driver's ``.orig`` — is looked at, by type.
    """
    # Refused or reset sockets, and connect timeouts, before SQLAlchemy wraps anything. Only at the
    # top (or as a driver's own error): deeper down they may be a tool's or an entity source's.
    if isinstance(error, (ConnectionError, TimeoutError)) or isinstance(
        getattr(error, "orig", None), (ConnectionError, TimeoutError)
    ):
        return True
    return any(_says_unreachable(wrapped) for wrapped in _wrapped(error))


def _says_unreachable(error: BaseException) -> bool:
    if isinstance(error, (sa.OperationalError, sa.InterfaceError, sa.TimeoutError)):
        return True
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, _driver_outages())


def _wrapped(error: BaseException, limit: int = 16) -> list[BaseException]:
    """``error`` and every error it wraps, each once (chains can loop), at most ``limit``."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending and len(seen) < limit:
        current = pending.pop(0)
        if current is None or any(current is known for known in seen):
            continue
        seen.append(current)
        orig = getattr(current, "orig", None)
        pending += [current.__cause__, current.__context__,
                    orig if isinstance(orig, BaseException) else None]
    return seen


def _driver_outages() -> tuple[type[Exception], ...]:
    """asyncpg's outage errors, once asyncpg is loaded: only a PostgreSQL store loads it, and
    without it no asyncpg error can happen, so a SQLite-only process never imports it for this."""
    asyncpg = sys.modules.get("asyncpg")
    if asyncpg is None:
        return ()
    return _asyncpg_outages(asyncpg)


def _asyncpg_outages(asyncpg: Any) -> tuple[type[Exception], ...]:
    return (
        asyncpg.PostgresConnectionError,  # connection refused, lost, cannot connect now
        asyncpg.InterfaceError,  # "connection is closed" on a connection the server dropped
        asyncpg.exceptions.AdminShutdownError,  # "terminating connection due to administrator command"
        asyncpg.exceptions.CrashShutdownError,  # another server process crashed: all were reset
        asyncpg.exceptions.CannotConnectNowError,  # "the database system is starting up" / "shutting down"
        asyncpg.exceptions.TooManyConnectionsError,  # "sorry, too many clients already"
    )


def log_outage(error: BaseException) -> None:
    """One line per failed request, without a traceback: the cause is outside this process."""
    logger.warning("the store is unavailable: %s: %s", type(error).__name__,
                   str(error).strip().splitlines()[0] if str(error).strip() else "")


OUTAGE_MESSAGE = "the store is unavailable; try again shortly"


def outage_response(error: BaseException) -> Response[Any]:
    """The answer to a request the store could not serve: `503 store_unavailable`, retryable."""
    log_outage(error)
    return Response({"error": {"code": "store_unavailable", "message": OUTAGE_MESSAGE}}, status_code=503,
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _answer_outage(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    if is_store_outage(error):
        return outage_response(error)
    return create_exception_response(request, error)  # Litestar's own 500, as without the handler


OutageHandler = Callable[[Request[Any, Any, Any], Exception], Response[Any]]


def outage_handlers(store_url: str) -> dict[type[Exception], OutageHandler]:
    """Litestar `exception_handlers` for routes that leave store errors to Litestar (the file routes):
    an outage answers as on the ChatKit endpoint. Per route, not app-wide: a tool or entity source
    that cannot reach its own server must not be reported as a store outage. asyncpg's errors are
    keyed only for a PostgreSQL store (the routes are made before the store opens and loads it)."""
    errors: tuple[type[Exception], ...] = (sa.DBAPIError, sa.TimeoutError, ConnectionError, TimeoutError)
    if is_postgresql_url(store_url):
        try:
            import asyncpg
        except ImportError:  # opening the store says what to install
            pass
        else:
            errors += _asyncpg_outages(asyncpg)
    return {error: _answer_outage for error in errors}


class StoreOutageStream(StreamingResult):
    """A stream that ends with a retryable ChatKit `error` event when the store goes away mid-way,
    instead of a connection cut short (which the client shows as a broken stream)."""

    def __init__(self, inner: StreamingResult):
        super().__init__(inner.json_events)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for event in self.json_events:
                yield event
        except TurnLost as lost:  # logged where it was found (`storage/fences.py`)
            event = ErrorEvent(code="custom", message=lost.message, allow_retry=lost.allow_retry)
            yield b"data: " + event.model_dump_json().encode() + b"\n\n"
        except Exception as error:
            if not is_store_outage(error):
                raise
            log_outage(error)
            event = ErrorEvent(code="custom", message=OUTAGE_MESSAGE, allow_retry=True)
            yield b"data: " + event.model_dump_json().encode() + b"\n\n"


def guard_stream(result: Any) -> Any:
    """``result``, its stream (if it is one) ending cleanly on a store outage."""
    return StoreOutageStream(result) if isinstance(result, StreamingResult) else result


async def probe(request: ChatKitReq, store: SQLStore) -> None:
    """Touch the store before a new thread's stream begins, so an outage is a 503, not a broken
    stream (other requests touch it in `preflight` already)."""
    if isinstance(request, ThreadsCreateReq):
        await store.ping()


class _QuietOutages(logging.Filter):
    """The SDK logs a traceback for every failed stream; for an outage one line says it all."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and (is_store_outage(error) or isinstance(error, TurnLost)):
            record.exc_info = None
            record.exc_text = None
            reason = str(error) if isinstance(error, TurnLost) else "the store is unavailable"
            record.msg = f"{record.msg} ({reason}: {type(error).__name__})"
        return True


logging.getLogger("chatkit").addFilter(_QuietOutages())
