"""Who is calling, for every route that needs to know: one Litestar dependency.

A route that names a `caller: Caller` parameter is authenticated as `auth` in
chatkit.yaml says, before its handler runs; without a valid token the answer is `401` with
`WWW-Authenticate: Bearer`. The authenticator in force is read per request, so a reload that
changes tokens applies to the next request.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.di import NamedDependency, Provide

from chatkit_host.context import RequestContext
from chatkit_host.errors import Refusal

if TYPE_CHECKING:
    from chatkit_host.host import Host

Caller = NamedDependency[RequestContext]
"""The type of a route's `caller` parameter: the authenticated user, with the request's base URL."""
MaybeCaller = NamedDependency[RequestContext | None]
"""The type of a route's `maybe_caller` parameter: the user, or None for an anonymous request
(for routes that answer everyone, and callers who prove themselves more)."""

def caller_dependency(host: Host) -> dict[str, Provide]:
    """For `Litestar(dependencies=...)`: `caller`, the authenticated user of the request, and
    `maybe_caller`, the same or None."""

    async def maybe_caller(request: Request[Any, Any, Any]) -> RequestContext | None:
        context = await host.authenticator.authenticate(request.headers.get("authorization"))
        if context is None:
            return None
        # Only the declared headers: whatever else a client sends never reaches a template or tool.
        declared = host.runtime.config.request.headers
        headers = {name: request.headers[name] for name in declared if name in request.headers}
        return dataclasses.replace(context, base_url=str(request.base_url).rstrip("/"), headers=headers)

    async def caller(request: Request[Any, Any, Any]) -> RequestContext:
        context = await maybe_caller(request)
        if context is None:
            raise Refusal(401, "unauthorized", "a valid bearer token is required",
                          {"WWW-Authenticate": "Bearer"})
        return context

    return {"caller": Provide(caller), "maybe_caller": Provide(maybe_caller)}
