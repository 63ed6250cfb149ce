"""One log line per request, and the record the whole request fills in on its way.

The record lives in a context variable set for the request (see `observe_http`): the endpoint notes
the request type, user and thread, the turn notes a guardrail outcome, and the line is written once,
when the response has ended. Lines carry no secrets (no headers, no body) and no message text, except
that at `debug` level the user's new message is included.

`observability.logs` chooses the format (see `log_format`): `text` (`key=value` pairs) or `json`
(one object a line).
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from chatkit_host.observability.log_format import FIELDS

REQUESTS = logging.getLogger("chatkit_host.requests")


@dataclass(slots=True)  # one lives as long as its stream: no per-instance __dict__
class RequestRecord:
    """What one request did; `outcome` is settled when the response ends."""

    started: float = field(default_factory=time.perf_counter)
    type: str = "-"
    user: str | None = None
    thread: str | None = None
    status: int | None = None
    outcome: str | None = None
    """Set by the turn for outcomes a status cannot tell (`guardrail`); else derived at the end."""
    stream_error: bool = False
    disconnected: bool = False
    text: str | None = None

    def settle(self) -> str:
        if self.outcome:
            return self.outcome
        status = self.status or 500
        if status in (401, 403):
            return "unauthorized"
        if 400 <= status < 500:
            return "refused"
        if status >= 500 or self.stream_error:
            return "error"
        return "cancelled" if self.disconnected else "ok"

    def fields(self, outcome: str, seconds: float) -> dict[str, Any]:
        fields = {
            "type": self.type, "user": self.user, "thread": self.thread, "status": self.status,
            "outcome": outcome, "duration_ms": round(seconds * 1000, 1),
        }
        if self.text is not None:
            fields["text"] = self.text
        return {k: v for k, v in fields.items() if v is not None}


CURRENT: ContextVar[RequestRecord | None] = ContextVar("chatkit_request", default=None)


def current() -> RequestRecord | None:
    """The record of the request being served here, if any."""
    return CURRENT.get()


def note(**values: Any) -> None:
    """Set fields of the current request's record (no-op outside a request)."""
    record = CURRENT.get()
    if record is not None:
        for key, value in values.items():
            setattr(record, key, value)


def note_request(request: Any, user: str) -> None:
    """Note a parsed ChatKit request: its type, user and thread (and, at debug, its text)."""
    params = getattr(request, "params", None)
    thread = getattr(params, "thread_id", None)
    note(type=str(getattr(request, "type", "-")), user=user, thread=thread)
    if REQUESTS.isEnabledFor(logging.DEBUG):
        content = getattr(getattr(params, "input", None), "content", None) or []
        text = " ".join(getattr(part, "text", "") for part in content).strip()
        note(text=text or None)


def write(record: RequestRecord) -> tuple[str, float]:
    """Log the request's line; returns its outcome and duration for the metrics."""
    seconds = time.perf_counter() - record.started
    outcome = record.settle()
    level = logging.WARNING if outcome == "error" else logging.INFO
    REQUESTS.log(level, "request", extra={FIELDS: record.fields(outcome, seconds)})
    return outcome, seconds
