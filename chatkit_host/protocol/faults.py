"""Store outages answered as such: 503 rather than 500, and streams that end with an `error` event.

During a PostgreSQL restart or failover every request that touches the store fails. The caller
should see a clear, retryable `503 store_unavailable` at once — not a hang, not a 500 with a
traceback — and the host should recover by itself when the database is back (the pool's pre-ping
replaces dead connections, so no restart is needed). Which errors are outages is the storage's to
say (`storage/outages.py`, with each backend's driver errors).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from chatkit.server import StreamingResult
from chatkit.types import ChatKitReq, ErrorEvent, ThreadsCreateReq
from litestar import Request, Response
from litestar.exceptions.responses import create_exception_response
from litestar.types import ExceptionHandlersMap
from sqlalchemy import exc as sa

from chatkit_host.storage.backends import backend_for_scheme
from chatkit_host.storage.fences import TurnLost
from chatkit_host.storage.outages import is_store_outage
from chatkit_host.storage.store import SQLStore

__all__ = ["OUTAGE_MESSAGE", "guard_stream", "is_store_outage", "outage_handlers", "outage_response", "probe"]

logger = logging.getLogger("chatkit_host.protocol.faults")

RETRY_AFTER_SECONDS = 2
"""Sent as `Retry-After` with a 503: a restart usually takes a few seconds."""


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


def outage_handlers(store_url: str) -> ExceptionHandlersMap:
    """Litestar `exception_handlers` for routes that leave store errors to Litestar (the file routes):
    an outage answers as on the ChatKit endpoint. Per route, not app-wide: a tool or entity source
    that cannot reach its own server must not be reported as a store outage. The backend's driver
    errors are keyed too (the routes are made before the store opens and loads its driver)."""
    errors: tuple[type[BaseException], ...] = (sa.DBAPIError, sa.TimeoutError, ConnectionError, TimeoutError)
    backend = backend_for_scheme(store_url.partition("://")[0])
    if backend is not None:
        errors += backend.outage_errors()
    return {error: _answer_outage for error in errors if issubclass(error, Exception)}


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
            error_event = ErrorEvent(code="custom", message=lost.message, allow_retry=lost.allow_retry)
            yield b"data: " + error_event.model_dump_json().encode() + b"\n\n"
        except Exception as error:
            if not is_store_outage(error):
                raise
            log_outage(error)
            error_event = ErrorEvent(code="custom", message=OUTAGE_MESSAGE, allow_retry=True)
            yield b"data: " + error_event.model_dump_json().encode() + b"\n\n"


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
