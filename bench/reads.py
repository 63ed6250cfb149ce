"""Workload (b): JSON reads. `threads.list` and `items.list` pages against stores of growing size.

Each page is a 20-object page, newest first, either the first page or one half-way through (by the
`after` cursor), fetched one request at a time: the figure is a request's latency, median of
``requests`` in a round.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from bench.seed import ITEMS_THREAD
from bench.servers import Server
from bench.stats import median

PAGE = 20


def operations(threads: int, items: int) -> dict[str, dict[str, Any]]:
    """Name → request body params for a store of ``threads`` threads and ``items`` items."""
    middle_thread = f"thr_{threads // 2:08d}"
    middle_item = f"msg_{items // 2:08d}"
    return {
        "threads.list first page": {"type": "threads.list",
                                    "params": {"limit": PAGE, "order": "desc"}},
        "threads.list middle page": {"type": "threads.list",
                                     "params": {"limit": PAGE, "order": "desc",
                                                "after": middle_thread}},
        "items.list first page": {"type": "items.list",
                                  "params": {"thread_id": ITEMS_THREAD, "limit": PAGE,
                                             "order": "desc"}},
        "items.list middle page": {"type": "items.list",
                                   "params": {"thread_id": ITEMS_THREAD, "limit": PAGE,
                                              "order": "desc", "after": middle_item}},
    }


def check(server: Server, body: dict[str, Any]) -> None:
    """The page must hold a full page of objects (the seeded store was read, not an empty one)."""
    response = httpx.post(server.url, content=json.dumps(body), timeout=30)
    response.raise_for_status()
    data = response.json()["data"]
    if len(data) != PAGE:
        raise AssertionError(f"{server.side}: {body['type']} returned {len(data)} objects")


def run_round(server: Server, body: dict[str, Any], requests: int) -> tuple[float, float]:
    """Median latency (ms) of ``requests`` sequential requests, and the server's CPU time per
    request (ms)."""
    content = json.dumps(body).encode()
    timings = []
    with httpx.Client(timeout=30) as client:
        client.post(server.url, content=content)  # connection up
        cpu = server.cpu_seconds()
        for _ in range(requests):
            started = time.perf_counter()
            response = client.post(server.url, content=content)
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        cpu = server.cpu_seconds() - cpu
    return median(timings), cpu * 1000 / requests


