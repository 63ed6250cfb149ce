"""How every log line of the process is written: one format for all loggers (ours, uvicorn's, the
SDKs'), as `observability.logs` says, and nothing a client chose able to fake a line.

- Control characters (newlines, ANSI escapes, …) in messages and fields are escaped: a thread id or a
  JWT `sub` is the client's text (#18).
- In text format a traceback's lines are indented, so no line of one can pass for a log line.
- Loggers that narrate every request or outgoing URL (httpx and httpx2, ChatKit's) speak from
  `warning` up, unless the level is `debug`; uvicorn's access lines carry the path without the query
  string (signed preview links, users' entity queries).
- asyncio's reports of iteration tasks left behind when a client leaves mid-stream are debug lines:
  the ChatKit SDK leaves one per stream, and a client leaving is normal.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone
from typing import Any

from chatkit_host.config.observability import LogsConfig

FIELDS = "chatkit_fields"
"""`extra` key under which a log call passes its structured fields."""

PACKAGE = logging.getLogger("chatkit_host")

NARRATING_LOGGERS = ("httpx", "httpcore", "httpx2", "httpcore2", "chatkit")
"""Log every outgoing URL (an http tool's `?key=…`) or every request at info (the openai client
speaks through httpx2)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape(text: str) -> str:
    """``text`` with control characters as `\\n`, `\\u001b`, …: one record stays one line."""
    return _CONTROL.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or f"\\u{ord(char):04x}"


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
        # json escapes C0 controls itself; C1 controls and line separators it leaves raw.
        return escape(json.dumps(line, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value …` for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, timezone.utc).strftime("%H:%M:%S")
        pairs = " ".join(f"{k}={_quote(v)}" for k, v in getattr(record, FIELDS, {}).items())
        text = f"{stamp} {record.levelname.lower()} {record.name}: {escape(record.getMessage())}"
        text = f"{text} {pairs}" if pairs else text
        if record.exc_info:
            trace = self.formatException(record.exc_info)
            text += "".join(f"\n    {escape(line)}" for line in trace.splitlines())
        return text


def _quote(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=') or _CONTROL.search(text):
        return escape(json.dumps(text, ensure_ascii=False))
    return text


class _Stderr(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time (test runners swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


class _AccessWithoutQuery(logging.Filter):
    """uvicorn's access line with the path only: a query string may hold a preview link's
    signature or what a user searched for."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


class _LeftIterationTasks(logging.Filter):
    """asyncio's complaints about `__anext__` tasks a stream's event merge leaves when the client
    leaves (openai-chatkit 1.6's `_merge_generators`): debug lines, not errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        error = record.exc_info[1] if record.exc_info else None
        left = (message.startswith("Task exception was never retrieved")
                and isinstance(error, StopAsyncIteration)) or (
            message.startswith("Task was destroyed but it is pending")
            and "coro=<<async_generator_asend" in message)
        if not left:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info = record.exc_text = None
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


_configured: LogsConfig | None = None
_handler = _Stderr()
logging.getLogger("uvicorn.access").addFilter(_AccessWithoutQuery())
logging.getLogger("asyncio").addFilter(_LeftIterationTasks())


def configure(config: LogsConfig) -> None:
    """Write every logger's lines to standard error in the configured format and level.

    Idempotent, and cheap when nothing changed: the endpoint calls it for every request so that
    a reload's new settings take effect.
    """
    global _configured
    if config == _configured:
        return
    _handler.setFormatter(JsonFormatter() if config.format == "json" else TextFormatter())
    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)
    debug = config.level == "debug"
    # Other libraries' debug lines (a line per SQLite call) would bury ours: info at most.
    root.setLevel(logging.INFO if debug else config.level.upper())
    PACKAGE.setLevel(config.level.upper())
    for name in NARRATING_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if debug else logging.WARNING)
    _configured = config
