"""Requests a browser is made to send by a page of another site: cross-site writes and DNS
rebinding (#18).

A browser sends some requests to any address without asking first: a `text/plain` or form POST, a
body with no type at all. With `auth: none` (the starter project, the example) nothing else stands
between such a page and the host, so:

- a write (any method but GET, HEAD, OPTIONS) that carries an `Origin` must come from the host's
  own origin or one listed in `server.cors` (403 `cross_origin`); browsers always send `Origin` on
  a cross-site write;
- the ChatKit endpoint takes JSON only (415 `unsupported_media_type` for a body of another type);
- with `auth: none` on a loopback address, the `Host` header must name a loopback host (or a host
  listed in `server.cors`): a page whose name was made to resolve to 127.0.0.1 (DNS rebinding)
  would otherwise be same-origin with the host (421 `wrong_host`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from litestar import Request

from chatkit_host.config.models import ChatKitConfig
from chatkit_host.errors import Refusal

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing, which a page of another site may send (it cannot read the answer)."""


def request_checks(config: ChatKitConfig) -> Callable[[Request[Any, Any, Any]], Awaitable[None]]:
    """A Litestar `before_request` hook that refuses cross-site writes and rebound host names.

    Reads the configuration the app started with: `server` and `auth` never change live.
    """
    allowed = {origin.rstrip("/").lower() for origin in config.server.cors}
    cors_hosts = {_netloc(origin) for origin in allowed}
    # Bearer and JWT callers prove themselves with a header no foreign page can add; with
    # `public_without_auth` anyone may reach the host directly, so a rebound name adds nothing.
    check_host = config.auth.mode == "none" and not config.server.public_without_auth

    async def checks(request: Request[Any, Any, Any]) -> None:
        host = request.headers.get("host", "").lower()
        if check_host and _arrived_on_loopback(request.scope) and not _loopback_name(host) \
                and host not in cors_hosts:
            raise Refusal(421, "wrong_host", "this host answers to localhost and loopback addresses "
                          "only (or a host named in server.cors)")
        origin = request.headers.get("origin")
        if request.method in SAFE_METHODS or origin is None:
            return
        origin = origin.rstrip("/").lower()
        if origin in allowed or "*" in allowed or _netloc(origin) == host:
            return
        raise Refusal(403, "cross_origin", f"requests from {origin[:100]} are not allowed "
                      "(add the origin to server.cors)")

    return checks


def require_json(request: Request[Any, Any, Any]) -> None:
    """Refuse a body that says it is something other than JSON (415)."""
    content_type = request.headers.get("content-type")
    if content_type is None:
        return  # programs often send none; a browser sending none also sends Origin (see above)
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise Refusal(415, "unsupported_media_type", "send the request as JSON (Content-Type: application/json)")


def _arrived_on_loopback(scope: Any) -> bool:
    # The connection's local address: on a loopback bind it is always a loopback address.
    server = scope.get("server")
    try:
        return server is not None and ipaddress.ip_address(server[0]).is_loopback
    except ValueError:  # a Unix socket, an in-process test client
        return False


def _netloc(origin: str) -> str | None:
    try:
        return urlsplit(origin).netloc
    except ValueError:  # a malformed IPv6 literal
        return None


def _loopback_name(host: str) -> bool:
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
