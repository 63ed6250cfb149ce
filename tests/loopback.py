"""Loopback HTTP stand-ins for the APIs chatkit-host calls: a quiet JSON handler base and `serving()`.

Each test module keeps what its stand-in answers; this module holds only the plumbing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseRequestHandler
from typing import Any


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler that reads and answers JSON and keeps the test output free of access logs."""

    def read_body(self) -> bytes:
        """The request body, exactly `Content-Length` bytes."""
        return self.rfile.read(int(self.headers["Content-Length"]))

    def read_json(self) -> Any:
        """The request body, parsed as JSON."""
        return json.loads(self.read_body())

    def send_json(self, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        """Answer `payload` as JSON; bytes are sent as they are (a stand-in may answer something else)."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def serving(handler_class: Callable[..., BaseRequestHandler]) -> Iterator[str]:
    """Serve `handler_class` on a free loopback port; yields `http://127.0.0.1:PORT`.

    The server is shut down and its socket closed however the block ends, so a port never outlives its test.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
