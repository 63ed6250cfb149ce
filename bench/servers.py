"""The two servers under test, each a real process on a loopback port.

`host` is `chatkit-host serve` on a generated chatkit.yaml; `baseline` is `bench/baseline.py`. Both
play the same script with the host's offline scripted model and store in a SQLite file.
"""

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
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
SIDES = ("host", "baseline")


@dataclass
class Server:
    side: str
    process: subprocess.Popen[bytes]
    port: int
    started: float
    """`time.perf_counter()` just before the process was launched."""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/chatkit"

    def cpu_seconds(self) -> float:
        """CPU time (user + system, every thread) the server process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kb(self) -> int:
        """Resident memory of the server process, from /proc."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS in /proc status")


@dataclass(frozen=True)
class Project:
    """One folder both servers can run from: the script, the host's chatkit.yaml, two databases."""

    root: Path

    @property
    def script(self) -> Path:
        return self.root / "script.yaml"

    @property
    def host_db(self) -> Path:
        return self.root / "host.db"

    @property
    def baseline_db(self) -> Path:
        return self.root / "baseline.db"


def write_project(root: Path, script: dict[str, Any], coalesce_ms: float | None = None) -> Project:
    """A project whose one agent answers with ``script``; ``coalesce_ms`` None keeps the default."""
    root.mkdir(parents=True, exist_ok=True)
    project = Project(root)
    project.script.write_text(yaml.safe_dump(script, sort_keys=False))
    config: dict[str, Any] = {
        "version": 1,
        "store": {"url": f"sqlite:///{project.host_db.name}"},
        "models": {"default": "bench/offline", "providers": {"bench": {"scripted": "script.yaml"}}},
        "agents": {"assistant": {"instructions": "You are helpful."}},
    }
    if coalesce_ms is not None:
        config["stream"] = {"coalesce_ms": coalesce_ms}
    (root / "chatkit.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return project


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def command(side: str, project: Project, port: int) -> list[str]:
    """The baseline's command for the side named `baseline`, the host's for any other."""
    if side == "baseline":
        return [sys.executable, "-m", "bench.baseline", "--port", str(port), "--db",
                str(project.baseline_db), "--script", str(project.script), "--log-level", "warning"]
    return [sys.executable, "-m", "chatkit_host", "serve", "--config",
            str(project.root / "chatkit.yaml"), "--port", str(port), "--log-level", "warning"]


def launch(side: str, project: Project, tree: Path = REPO) -> Server:
    """``side``'s server on ``project``, running the code of the checkout ``tree``."""
    port = free_port()
    log = (project.root / f"{side}.log").open("ab")
    started = time.perf_counter()
    process = subprocess.Popen(command(side, project, port), cwd=tree, stdout=log,
                               stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(tree)})
    return Server(side, process, port, started)


def wait_healthy(server: Server, timeout: float = 30.0) -> float:
    """Poll /healthz every 5 ms; seconds from launch to the first 200."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.side} exited with {server.process.returncode}")
            try:
                if client.get(f"{server.base}/healthz").status_code == 200:
                    return time.perf_counter() - server.started
            except httpx.HTTPError:
                pass
            time.sleep(0.005)
    raise RuntimeError(f"{server.side} was not healthy within {timeout}s")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@contextmanager
def running(project: Project, sides: tuple[str, ...] = SIDES) -> Iterator[dict[str, Server]]:
    """Both servers on ``project``, healthy, stopped when the block ends."""
    servers: dict[str, Server] = {}
    try:
        for side in sides:
            servers[side] = launch(side, project)
        for server in servers.values():
            wait_healthy(server)
        yield servers
    finally:
        for server in servers.values():
            stop(server)
