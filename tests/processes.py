"""`chatkit-host serve` in a child process on a free loopback port, for real-socket tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class ServedHost:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/chatkit"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(project: Path, *extra: str, env: dict[str, str] | None = None,
          timeout: float = 20.0) -> Iterator[ServedHost]:
    """Run `chatkit-host serve` in ``project`` until the block ends; fails with its log if it dies."""
    port = free_port()
    log = project / "serve.log"
    command = [sys.executable, "-m", "chatkit_host", "serve", "--port", str(port), *extra]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=project, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})
    host = ServedHost(process, port, log)
    try:
        _wait_healthy(host, timeout)
        yield host
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(host: ServedHost, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.process.poll() is not None:
            raise AssertionError(f"serve exited with {host.process.returncode}:\n{host.log.read_text()}")
        try:
            if httpx.get(f"{host.base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"serve did not become healthy in {timeout}s:\n{host.log.read_text()}")
