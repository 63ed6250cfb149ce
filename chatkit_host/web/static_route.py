"""`server.static`: folders of the app's own pages, served beside the endpoint (#15).

A page served here shares the endpoint's origin, so it can call the ChatKit endpoint and the state
route with the same token and no CORS. The files are public, like the playground page: what is
private is the data the page fetches, and every route that answers it is authenticated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar import Router
from litestar.static_files import create_static_files_router

if TYPE_CHECKING:
    from chatkit_host.host import Host


def static_routes(host: Host) -> list[Router]:
    """One router per `server.static` entry; `/app/` answers the folder's `index.html`."""
    return [
        create_static_files_router(path=url, directories=[folder], html_mode=True, name=f"static:{url}")
        for url, folder in host.runtime.config.server.static.items()
    ]
