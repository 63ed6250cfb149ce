"""Workload (d): cold start. From launching the server process to the first 200 on /healthz.

Each launch is a fresh interpreter on an existing project (its database already created), polled
every 5 ms; the server is stopped before the next launch. Both sides' code is byte-compiled first,
as `pip install` leaves an installed package: a source checkout run with PYTHONDONTWRITEBYTECODE
(set on many CI and container images) would otherwise compile the host's ~200 modules at every
launch and measure the compiler (~0.1 s here), not the start.
"""

from __future__ import annotations

import compileall

from bench.servers import REPO, Project, launch, stop, wait_healthy


def compile_sources() -> None:
    """Byte-compile the host's package and the baseline's module, as an install would."""
    for folder in ("chatkit_host", "bench"):
        compileall.compile_dir(REPO / folder, quiet=1)


def run_round(side: str, project: Project) -> tuple[float, float]:
    """Seconds from launch to the first healthy answer, and the CPU seconds the server used by
    then (steadier than wall time on a busy machine)."""
    server = launch(side, project)
    try:
        elapsed = wait_healthy(server)
        return elapsed, server.cpu_seconds()
    finally:
        stop(server)
