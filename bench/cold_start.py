"""Workload (d): cold start. From launching the server process to the first 200 on /healthz.

Each launch is a fresh interpreter on an existing project (its database already created), polled
every 5 ms; the server is stopped before the next launch.
"""

from __future__ import annotations

from bench.servers import Project, launch, stop, wait_healthy


def run_round(side: str, project: Project) -> tuple[float, float]:
    """Seconds from launch to the first healthy answer, and the CPU seconds the server used by
    then (steadier than wall time on a busy machine)."""
    server = launch(side, project)
    try:
        elapsed = wait_healthy(server)
        return elapsed, server.cpu_seconds()
    finally:
        stop(server)
