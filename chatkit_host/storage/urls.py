"""What every store backend shares about `store.url`: its config key, redaction, and the
`ConfigError` a bad URL or a missing driver becomes."""

from __future__ import annotations

import importlib.util

from sqlalchemy.ext.asyncio import AsyncEngine

from chatkit_host.errors import ConfigError, ConfigProblem

CONFIG_KEY = "store.url"


def redacted_url(engine: AsyncEngine) -> str:
    """The engine's URL with any password hidden, for messages and logs."""
    return engine.url.render_as_string(hide_password=True)


def redact(url: str) -> str:
    """``url`` with the password of ``user:password@`` replaced, for error messages."""
    scheme, separator, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{separator}{user}:***@{host}"


def url_problem(message: str, *, hint: str | None = None) -> ConfigError:
    """A problem with `store.url`."""
    return ConfigError(ConfigProblem(message=message, key=CONFIG_KEY, hint=hint))


def require_driver(backend: str, package: str) -> None:
    """Raise a `store.url` problem naming the install command when ``package`` is missing."""
    if importlib.util.find_spec(package) is None:
        raise url_problem(f"the {backend} driver is not installed: pip install {package}",
                          hint=f"pip install {package}")
