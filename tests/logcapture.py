"""Capturing the package's log records in tests.

Litestar's logging set-up replaces the root handlers that pytest's caplog relies on, so the handler
goes on the package logger itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    """The records every `chatkit_host` logger emits inside the block."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.DEBUG)
    logger = logging.getLogger("chatkit_host")
    logger.addHandler(handler)
    # An in-process CLI test may have left `logging.disable` on for the whole process.
    disabled = logging.root.manager.disable
    logging.disable(logging.NOTSET)
    try:
        yield records
    finally:
        logging.disable(disabled)
        logger.removeHandler(handler)
