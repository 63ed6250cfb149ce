"""The HTTP side of observability: a middleware that logs and counts each ChatKit request, and the
`GET /metrics` route.

The middleware sits at the ASGI level, so the duration covers the whole response, streamed events
included, and the outcome can tell a stream that ended in an error event or a client that left
before the end. It reads nothing of the body but the opening bytes of each SSE frame.
"""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from chatkit_host.observability import log_format, logs as request_log, metrics
from chatkit_host.observability.logs import CURRENT, RequestRecord
from chatkit_host.web.caller import Caller

ERROR_FRAME = b'data: {"type":"error"'
"""How a ChatKit error event starts on the wire (the SDK serializes `type` first)."""


def observe_requests(host: Any) -> Any:
    """Litestar middleware for ``host``'s ChatKit endpoint (other paths pass straight through).

    Made with the app, so the process logs in the configured format from its first line on.
    """
    log_format.configure(host.runtime.config.observability.logs)

    def middleware(app: ASGIApp) -> ASGIApp:
        async def observed(scope: Scope, receive: Receive, send: Send) -> None:
            config = host.runtime.config
            if scope["type"] != "http" or scope["path"] != config.server.path:
                await app(scope, receive, send)
                return
            log_format.configure(config.observability.logs)
            await _observe(app, scope, receive, send)

        return observed

    return middleware


async def _observe(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    record = RequestRecord()
    token = CURRENT.set(record)
    streaming = finished = False

    async def watch_receive() -> ReceiveMessage:
        message = await receive()
        if message["type"] == "http.disconnect" and not finished:
            record.disconnected = True
        return message

    async def watch_send(message: Message) -> None:
        nonlocal streaming, finished
        if message["type"] == "http.response.start":
            record.status = message["status"]
            headers = dict(message.get("headers") or [])
            streaming = headers.get(b"content-type", b"").startswith(b"text/event-stream")
            if streaming:
                metrics.stream_opened()
        elif message["type"] == "http.response.body":
            if streaming and message.get("body", b"").startswith(ERROR_FRAME):
                record.stream_error = True
            finished = finished or not message.get("more_body", False)
        await send(message)

    try:
        await app(scope, watch_receive, watch_send)
    except BaseException:
        record.status = record.status or 500
        raise
    finally:
        CURRENT.reset(token)
        if streaming:
            metrics.stream_closed()
        if streaming and not finished:
            record.disconnected = True
        outcome, seconds = request_log.write(record)
        metrics.request_finished(record.type, outcome, seconds)


def metrics_routes(host: Any) -> list[Any]:
    """`GET /metrics`: Prometheus text (every worker's under `serve --workers N`); 404 while
    `observability.metrics` is false. Authenticated like the ChatKit endpoint: the counts say how
    the host is used."""

    @get("/metrics", include_in_schema=False)
    async def metrics_endpoint(caller: Caller) -> Response:
        if not host.runtime.config.observability.metrics:
            return Response({"error": {"code": "not_found", "message": "metrics are off"}},
                            status_code=404)
        return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)

    return [metrics_endpoint]
