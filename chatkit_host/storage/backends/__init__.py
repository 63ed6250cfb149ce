"""The store backends: one module per kind of database, each holding what differs between them —
engine settings, transaction runner, thread leases (turn locks) and outage errors.

Adding a backend: write its module (a `Backend` subclass and its `BACKEND`) and add its line to
`LISTED`. A backend's module is imported when a `store.url` names it, not before: the PostgreSQL
dialect alone is ~20 ms of every SQLite host's start.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from .base import Backend, TransactionRunner


@dataclass(frozen=True)
class Listed:
    """A backend as the registry knows it before its module is imported."""

    module: str
    schemes: tuple[str, ...]
    """The `store.url` schemes it takes (lower case); one ending in `+` takes any driver after it."""
    example_urls: tuple[str, ...]
    """`store.url` forms it accepts, for help texts."""

    def accepts(self, scheme: str) -> bool:
        return any(scheme == known or (known.endswith("+") and scheme.startswith(known))
                   for known in self.schemes)

    def load(self) -> Backend:
        backend: Backend = importlib.import_module(f"{__name__}.{self.module}").BACKEND
        return backend


LISTED: dict[str, Listed] = {
    "sqlite": Listed("sqlite", ("sqlite", "sqlite+aiosqlite"),
                     ("sqlite:///relative/path.db", "sqlite:////absolute/path.db")),
    "memory": Listed("memory", ("memory",), ("memory://",)),
    "postgresql": Listed("postgresql", ("postgres", "postgresql", "postgresql+"),
                         ("postgresql://user:password@host/dbname",)),
}

__all__ = ["LISTED", "Backend", "TransactionRunner", "backend_for_scheme", "backend_of", "loaded_backends"]


def backend_for_scheme(scheme: str) -> Backend | None:
    """The backend of a `store.url` with this scheme (any case), imported; None when there is none."""
    scheme = scheme.lower()
    listed = next((entry for entry in LISTED.values() if entry.accepts(scheme)), None)
    return listed.load() if listed is not None else None


def loaded_backends() -> list[Backend]:
    """The backends whose modules are imported: the only ones that can have made an engine or
    raised a driver's error in this process."""
    modules = (sys.modules.get(f"{__name__}.{entry.module}") for entry in LISTED.values())
    return [module.BACKEND for module in modules if module is not None]


def backend_of(engine: AsyncEngine) -> Backend:
    """The backend that made ``engine``."""
    for backend in loaded_backends():
        if backend.owns(engine):
            return backend
    raise ValueError(f"no store backend for a {engine.dialect.name} engine")
