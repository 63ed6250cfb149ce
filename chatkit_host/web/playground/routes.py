"""The playground route and its page: the options and client tools embedded as JSON."""

from __future__ import annotations

import json
from importlib import resources
from string import Template
from typing import TYPE_CHECKING

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

from chatkit_host.config.models import ChatKitConfig
from chatkit_host.web.playground.options import chatkit_options, client_tools, entity_endpoints

if TYPE_CHECKING:
    from chatkit_host.host import Host

def playground_enabled(config: ChatKitConfig) -> bool:
    enabled = config.client.playground.enabled
    return config.auth.mode == "none" if enabled is None else enabled


def playground_routes(host: Host) -> list[HTTPRouteHandler]:
    """The page's route, or none when the playground is off."""
    config = host.runtime.config
    if not playground_enabled(config):
        return []

    @get(config.client.playground.path, include_in_schema=False)
    async def playground() -> Response[str]:
        # Built per request from the runtime in force, so a reload changes the page too.
        current = host.runtime.config
        return Response(render_page(current), media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store"})

    return [playground]


def render_page(config: ChatKitConfig) -> str:
    """The page's HTML, with the options and client tools embedded as JSON."""
    client = config.client
    data = {
        "options": chatkit_options(config),
        "clientTools": client_tools(config),
        "entities": entity_endpoints(config),
        "scriptUrl": client.playground.script_url,
        "needsToken": config.auth.mode != "none",
    }
    embedded = script_json(data)
    title = (client.header.title if client.header and client.header.title else "chatkit-host playground")
    template = Template((resources.files(__package__) / "page.html").read_text(encoding="utf-8"))
    return template.substitute(title=_escape(title), data=embedded)


_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                              "\u2028": "\\u2028", "\u2029": "\\u2029"})


def script_json(data: object) -> str:
    """``data`` as JSON that is inert inside a <script> element: no `<`, `>` or `&` at all (so no
    `</script>`, and no `<!--<script>`, which makes the HTML parser swallow the rest of the page),
    nor U+2028/U+2029 (line ends to older JavaScript parsers). The escapes are JSON, so
    `JSON.parse` gives back the same strings."""
    return json.dumps(data, ensure_ascii=False).translate(_SCRIPT_SAFE)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
