"""`GET {server.path}/state?thread_id=ID`: a thread's app state, for the page's own panels.

Authenticated exactly like the ChatKit endpoint (the `caller` dependency) and scoped to the caller:
another user's thread, or one that does not exist, is a 404. A thread whose state was never changed
answers the state a new thread starts with. This is the only way state leaves the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatkit.store import NotFoundError
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from chatkit_host.errors import Refusal
from chatkit_host.runtime.state import ThreadState
from chatkit_host.web.caller import Caller

if TYPE_CHECKING:
    from chatkit_host.host import Host


def state_routes(host: Host) -> list[HTTPRouteHandler]:
    """The state route under the ChatKit endpoint's path."""
    base = host.runtime.config.server.path.rstrip("/")

    @get(f"{base}/state", include_in_schema=False)
    async def thread_state(request: Request, caller: Caller) -> Response:
        config = host.runtime.config.state
        if config is None:
            raise Refusal(404, "not_found", "this host keeps no thread state (no `state` in chatkit.yaml)")
        thread_id = request.query_params.get("thread_id")
        if not thread_id:
            raise Refusal(400, "invalid_request", "name the thread: ?thread_id=THREAD_ID")
        try:
            await host.store.load_thread(thread_id, caller)
        except NotFoundError:
            raise Refusal(404, "not_found", f"thread {thread_id} not found") from None
        state = await ThreadState.load(config, host.store, thread_id, caller)
        return Response({"thread_id": thread_id, "state": state.value}, headers={"Cache-Control": "no-store"})

    return [thread_state]
