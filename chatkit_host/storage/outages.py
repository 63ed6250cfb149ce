"""Which failures mean "the database cannot be reached right now" (retryable), not "the query was
wrong". The protocol answers them 503 (`protocol/faults.py`); each backend names its driver's own
outage errors (`backends/`).
"""

from __future__ import annotations

from sqlalchemy import exc as sa


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
    drivers = _driver_outages()
    return any(_says_unreachable(wrapped, drivers) for wrapped in _wrapped(error))


def _says_unreachable(error: BaseException, drivers: tuple[type[BaseException], ...]) -> bool:
    if isinstance(error, (sa.OperationalError, sa.InterfaceError, sa.TimeoutError)):
        return True
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, drivers)


def _driver_outages() -> tuple[type[BaseException], ...]:
    # Imported here: the backends' modules use this one (a lease release logs by it).
    from .backends import loaded_backends

    return tuple(error for backend in loaded_backends() for error in backend.loaded_outage_errors())


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
