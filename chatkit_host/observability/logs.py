"""One log line per request, and the record the whole request fills in on its way.

The record lives in a context variable set for the request (see `observe_http`): the endpoint notes
the request type, user and thread, the turn notes a guardrail outcome, and the line is written once,
when the response has ended. Lines carry no secrets (no headers, no body) and no message text, except
that at `debug` level the user's new message is included.

`observability.logs` chooses the format: `text` (`key=value` pairs) or `json` (one object a line).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from chatkit_host.config.observability import LogsConfig

REQUESTS = logging.getLogger("chatkit_host.requests")
PACKAGE = logging.getLogger("chatkit_host")
FIELDS = "chatkit_fields"
"""`extra` key under which a log call passes its structured fields."""


@dataclass
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


_configured: LogsConfig | None = None
_handler: logging.Handler | None = None


def configure(config: LogsConfig) -> None:
    """Write the package's logs to standard error in the configured format and level.

    Idempotent, and cheap when nothing changed: the endpoint calls it for every request so that
    a reload's new settings take effect.
    """
    global _configured, _handler
    if config == _configured:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if config.format == "json" else TextFormatter())
    if _handler is not None:
        PACKAGE.removeHandler(_handler)
    PACKAGE.addHandler(handler)
    PACKAGE.setLevel(config.level.upper())
    # Our handler writes the package's lines whole; Litestar's root handler would print them again.
    PACKAGE.propagate = False
    _configured, _handler = config, handler


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and the structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, FIELDS, {}),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value …` for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, timezone.utc).strftime("%H:%M:%S")
        pairs = " ".join(f"{k}={_quote(v)}" for k, v in getattr(record, FIELDS, {}).items())
        text = f"{stamp} {record.levelname.lower()} {record.name}: {record.getMessage()}"
        text = f"{text} {pairs}" if pairs else text
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def _quote(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if not text or any(c in text for c in ' "=') else text
