"""The Litestar app: the ChatKit endpoint, health, CORS and auth around a `Host`.

No YAML here: the app is made from a Host, which is made from a built Runtime. The CLI, the tests and
the reloader all go through `create_app`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from chatkit.server import StreamingResult
from litestar import Litestar, Request, Response, get, post
from litestar.config.cors import CORSConfig
from litestar.response import Stream

from chatkit_host.heap import freeze_startup_heap
from chatkit_host.host import Host
from chatkit_host.observability.logs import note_request
from chatkit_host.protocol import faults, preflight
from chatkit_host.web.caller import Caller, MaybeCaller, caller_dependency
from chatkit_host.web.cross_site import request_checks, require_json
from chatkit_host.web.entities import entity_routes
from chatkit_host.web.observe import metrics_routes, observe_requests
from chatkit_host.web.playground.routes import playground_routes
from chatkit_host.web.refusals import APP_HANDLERS, PROTOCOL_HANDLERS
from chatkit_host.web.state_route import state_routes
from chatkit_host.web.static_route import static_routes
from chatkit_host.web.uploads import upload_routes

logger = logging.getLogger("chatkit_host.web.app")

CONFIG_ENV = "CHATKIT_HOST_CONFIG"
"""Environment variable naming the chatkit.yaml a worker process loads (`serve --workers N`)."""

RELOAD_ENV = "CHATKIT_HOST_RELOAD"
"""Set to 1 to make every worker process watch its configuration (`serve --reload --workers N`)."""

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def create_app(host: Host, reload: bool = False) -> Litestar:
    """The ASGI app serving ``host``; the store opens on startup and closes on shutdown.

    With ``reload``, the process watches the configuration's files and swaps in a new runtime when
    they change (each worker process runs its own watcher).
    """
    config = host.runtime.config

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await host.start()
        watcher = None
        if reload:
            from chatkit_host.reload import ConfigWatcher

            watcher = ConfigWatcher(host)
            await watcher.start()
        freeze_startup_heap()
        try:
            yield
        finally:
            if watcher is not None:
                await watcher.stop()
            await host.stop()

    @post(config.server.path, status_code=200, request_max_body_size=config.server.max_body,
          exception_handlers=PROTOCOL_HANDLERS)
    async def chatkit_endpoint(request: Request, caller: Caller) -> Response:
        require_json(request)
        parsed = preflight.parse(await request.body())
        note_request(parsed, caller.user_id)  # for the request's log line and metrics
        preflight.check_files(parsed, host.attachments is not None)
        await preflight.admit(parsed, host.runtime, host.store, caller)
        await faults.probe(parsed, host.store)
        async with host.turns.turn(
            parsed, caller.user_id, lambda: preflight.admit(parsed, host.runtime, host.store, caller)
        ) as turn:
            result = await host.server.process_parsed(parsed, caller)
            result = turn.keep_while_streaming(faults.guard_stream(result))
        if isinstance(result, StreamingResult):
            return Stream(result, media_type="text/event-stream", headers=SSE_HEADERS)
        return Response(result.json, media_type="application/json")

    @get("/healthz", include_in_schema=False)
    async def healthz(maybe_caller: MaybeCaller) -> dict[str, object]:
        # Anyone may ask whether the host is up; what it runs and why a reload failed (paths,
        # exception text) is for the callers the endpoint would serve.
        status = "ok" if host.last_error is None else "degraded"
        if maybe_caller is None:
            return {"status": status}
        runtime = host.runtime
        return {
            "status": status,
            "config_version": runtime.version,
            "loaded_at": runtime.built_at.isoformat(),
            "last_reload": host.last_reload.isoformat() if host.last_reload else None,
            "last_error": host.last_error,
            "reloads": host.reloads,
            "restart_needed": host.restart_needed or None,
            "pid": os.getpid(),
        }

    cors = CORSConfig(allow_origins=list(config.server.cors)) if config.server.cors else None
    return Litestar(
        route_handlers=[chatkit_endpoint, healthz, *upload_routes(host), *playground_routes(host),
                        *metrics_routes(host), *entity_routes(host), *state_routes(host),
                        *static_routes(host)],
        middleware=[observe_requests(host)],
        exception_handlers=APP_HANDLERS,
        dependencies=caller_dependency(host),
        before_request=request_checks(config),
        lifespan=[lifespan],
        cors_config=cors,
        openapi_config=None,  # no /schema pages: the protocol is ChatKit's, not this app's routes
        debug=False,
        # Every logger writes in the configured format (observability/log_format.py), Litestar's too.
        logging_config=None,
    )


def app_from_environment() -> Litestar:
    """uvicorn factory for worker processes: load the config named by `CHATKIT_HOST_CONFIG`."""
    from chatkit_host.config.loader import load_config
    from chatkit_host.runtime.build import build_runtime

    host = Host(build_runtime(load_config(Path(os.environ[CONFIG_ENV]))))
    return create_app(host, reload=os.environ.get(RELOAD_ENV) == "1")
