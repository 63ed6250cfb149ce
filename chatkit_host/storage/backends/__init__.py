"""The store backends: one module per kind of database, each holding what differs between them —
engine settings, transaction runner, thread leases (turn locks) and outage errors.

Adding a backend: write its module (a `Backend` subclass and its `BACKEND`) and add its line here.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from . import memory, postgresql, sqlite
from .base import Backend, TransactionRunner

BACKENDS: dict[str, Backend] = {
    "sqlite": sqlite.BACKEND,
    "memory": memory.BACKEND,
    "postgresql": postgresql.BACKEND,
}

__all__ = ["BACKENDS", "Backend", "TransactionRunner", "backend_for_scheme", "backend_of"]


def backend_for_scheme(scheme: str) -> Backend | None:
    """The backend of a `store.url` with this scheme (any case); None when there is none."""
    scheme = scheme.lower()
    return next((backend for backend in BACKENDS.values() if backend.accepts(scheme)), None)


def backend_of(engine: AsyncEngine) -> Backend:
    """The backend that made ``engine``."""
    for backend in BACKENDS.values():
        if backend.owns(engine):
            return backend
    raise ValueError(f"no store backend for a {engine.dialect.name} engine")
