"""Turn a ``store.url`` from chatkit.yaml into an async SQLAlchemy engine, by its backend.

Supported URLs (each backend's module says more, `backends/`):

* ``sqlite:///relative/path.db`` — a file relative to the config's directory (``base_dir``);
  missing parent folders are created.
* ``sqlite:////absolute/path.db`` — a file at an absolute path.
* ``memory://`` — a throwaway in-memory SQLite database, shared by every connection of the engine.
* ``postgresql://…``, ``postgres://…``, ``postgresql+asyncpg://…`` — PostgreSQL, always through
  the asyncpg driver whatever driver the URL names.

Every problem with the URL is a :class:`~chatkit_host.errors.ConfigError` keyed ``store.url``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from chatkit_host.errors import ConfigError

from .backends import LISTED, backend_for_scheme
from .urls import CONFIG_KEY, redact, redacted_url, url_problem

__all__ = ["CONFIG_KEY", "SUPPORTED_URLS", "engine_for_url", "redacted_url"]

SUPPORTED_URLS = tuple(url for listed in LISTED.values() for url in listed.example_urls)


def engine_for_url(url: str, *, base_dir: Path | None = None) -> AsyncEngine:
    """Build the async engine a ``store.url`` names, without connecting to it.

    Args:
        url: The store URL (see the module docstring for the accepted forms).
        base_dir: Directory relative SQLite paths are resolved against; the current directory
            when ``None``.

    Raises:
        ConfigError: The scheme is unknown, the URL is malformed, or its driver is not installed.
    """
    scheme, separator, _ = url.partition("://")
    if not separator:
        raise _unsupported(f"'{redact(url)}' is not a URL")
    backend = backend_for_scheme(scheme)
    if backend is None:
        raise _unsupported(f"unsupported scheme '{scheme.lower()}://'")
    return backend.engine(url, base_dir)


def _unsupported(message: str) -> ConfigError:
    return url_problem(message, hint="use one of " + ", ".join(SUPPORTED_URLS))
