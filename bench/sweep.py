"""Workload (f): follow-up turns on growing threads, swept over concurrency.

Each of N conversations opens a thread and keeps talking on it until the thread holds `turns`
turns: turn 1 is a `threads.create`, every later one a `threads.add_user_message`, so the server
loads a longer history, leases the thread and writes the user's item before each reply. This is
the load a busy deployment sees, and the one where the time to the first event — what a user
feels first — can grow with the thread and with the number of conversations at once.

Every turn records its thread position with its times, so the report can say how the first event
grows with the thread's length as well as with the load.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from bench.servers import Server
from bench.stats import median, percentile
from bench.streamed import _body, _new_thread, _turn, check_reply


@dataclass
class Sweep:
    concurrency: int
    turns_per_s: float
    first_p50_ms: float
    first_p99_ms: float
    cpu_ms_per_turn: float
    early_first_p50_ms: float
    """Median time to first event over the first fifth of each thread's follow-up turns (the
    thread's creation is another request kind and is left out)."""
    late_first_p50_ms: float
    """The same over the last fifth: `late / early` is how the first event grows with the thread."""

    @property
    def growth(self) -> float:
        return self.late_first_p50_ms / self.early_first_p50_ms


async def run_round(server: Server, concurrency: int, turns: int) -> Sweep:
    """`concurrency` conversations, each growing its own thread to `turns` turns."""
    await check_reply(server)
    samples: list[tuple[int, float]] = []  # (turn number on its thread, seconds to first event)
    count = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def conversation(client: httpx.AsyncClient) -> None:
        nonlocal count
        started = time.perf_counter()
        thread_id = await _new_thread(client, server.url)
        samples.append((1, time.perf_counter() - started))  # to the thread.created event
        count += 1
        for number in range(2, turns + 1):
            first, _ = await _turn(client, server.url, _body("hello", thread_id))
            samples.append((number, first))
            count += 1

    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        cpu = server.cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(conversation(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = server.cpu_seconds() - cpu
    first = [seconds * 1000 for _, seconds in samples]
    fifth = max(1, turns // 5)
    early = [seconds * 1000 for number, seconds in samples if 1 < number <= fifth + 1]
    late = [seconds * 1000 for number, seconds in samples if number > turns - fifth]
    return Sweep(
        concurrency=concurrency,
        turns_per_s=count / elapsed,
        first_p50_ms=percentile(first, 0.5),
        first_p99_ms=percentile(first, 0.99),
        cpu_ms_per_turn=cpu * 1000 / count,
        early_first_p50_ms=median(early),
        late_first_p50_ms=median(late),
    )
