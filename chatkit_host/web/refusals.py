"""How refusals are answered: one JSON shape, `{"error": {"code", "message"}}`, from handlers
registered once in the app.

Any layer raises `chatkit_host.errors.Refusal`; `APP_HANDLERS` answers it on every route. The
ChatKit endpoint adds `PROTOCOL_HANDLERS` for what the SDK raises itself (not found, a bad value,
an unsupported request) and for store outages (503, from `protocol.faults`): only there, because a
`ValueError` from an entity source or a tool is the host's fault, not the caller's.
"""

from __future__ import annotations

from typing import Any

from chatkit.store import NotFoundError
from litestar import Request, Response
from litestar.exceptions.responses import create_exception_response

from chatkit_host.config.sizes import Size
from chatkit_host.errors import Refusal
from chatkit_host.protocol import faults


def refusal_response(refusal: Refusal) -> Response[Any]:
    """The answer to ``refusal``: its status, headers and JSON error body."""
    return Response({"error": {"code": refusal.code, "message": refusal.message}},
                    status_code=refusal.status, headers=refusal.headers or None)


def _refused(_: Request[Any, Any, Any], refusal: Refusal) -> Response[Any]:
    return refusal_response(refusal)


def _too_large(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    """Litestar refuses a body over a route's limit itself; answer in the shape of every other error."""
    limit = request.route_handler.resolve_request_max_body_size() if "route_handler" in request.scope else None
    shown = limit.describe() if isinstance(limit, Size) else f"{limit} bytes"
    over = f": at most {shown}" if limit else ""
    return refusal_response(
        Refusal(413, "too_large", f"the request body is larger than this endpoint accepts{over}"))


def _not_found(_: Request[Any, Any, Any], error: NotFoundError) -> Response[Any]:
    return refusal_response(Refusal(404, "not_found", str(error) or "not found"))


def _invalid(_: Request[Any, Any, Any], error: ValueError) -> Response[Any]:
    return refusal_response(Refusal(400, "invalid_request", _first_line(error)))


def _not_supported(_: Request[Any, Any, Any], error: NotImplementedError) -> Response[Any]:
    return refusal_response(Refusal(501, "not_supported", _first_line(error)))


def _outage_or_failure(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    if faults.is_store_outage(error):
        return faults.outage_response(error)
    return create_exception_response(request, error)  # Litestar's own 500, as without a handler


APP_HANDLERS: dict[Any, Any] = {Refusal: _refused, 413: _too_large}
"""For `Litestar(exception_handlers=...)`: refusals from any route, and Litestar's own 413."""

PROTOCOL_HANDLERS: dict[Any, Any] = {
    NotFoundError: _not_found,
    ValueError: _invalid,  # pydantic's ValidationError included
    NotImplementedError: _not_supported,
    Exception: _outage_or_failure,
}
"""For the ChatKit endpoint: what the SDK raises before a response starts, as refusals."""


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
