"""The endpoints behind ChatKit.js's `entities` callbacks, next to the ChatKit endpoint.

- `GET {server.path}/entities?q=TEXT` → `{"data": [Entity, …]}` for `entities.onTagSearch`;
- `GET {server.path}/entities/preview?id=ID` → `{"preview": widget | null}` for
  `entities.onRequestPreview` (the id is a query parameter, so ids may hold `/`).

Authenticated exactly like the ChatKit endpoint; python and http sources see the caller. The routes
always exist and read the runtime in force, so a reload that adds `entities` needs no restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from chatkit_host.errors import Refusal
from chatkit_host.web.caller import Caller

if TYPE_CHECKING:
    from chatkit_host.host import Host

MAX_QUERY_CHARS = 200
"""Longer search text is cut: nobody types that after an `@`."""


def entity_routes(host: Host) -> list[HTTPRouteHandler]:
    """The search and preview routes under the ChatKit endpoint's path."""
    base = host.runtime.config.server.path.rstrip("/")

    def searchable() -> None:
        if host.runtime.config.entities is None:
            raise Refusal(404, "not_found", "this host has no entity search (no `entities` in chatkit.yaml)")

    @get(f"{base}/entities", include_in_schema=False)
    async def search_entities(request: Request, caller: Caller) -> Response:
        searchable()
        query = request.query_params.get("q") or ""
        found = await host.runtime.entities.search(query[:MAX_QUERY_CHARS], caller)
        return Response({"data": found}, headers={"Cache-Control": "no-store"})

    @get(f"{base}/entities/preview", include_in_schema=False)
    async def preview_entity(request: Request, caller: Caller) -> Response:
        searchable()
        entity_id = request.query_params.get("id")
        if not entity_id:
            raise Refusal(400, "invalid_request", "name the entity: ?id=ENTITY_ID")
        preview = host.runtime.entities.preview(entity_id)
        return Response({"preview": preview}, headers={"Cache-Control": "no-store"})

    return [search_entities, preview_entity]
