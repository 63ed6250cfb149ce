"""Workload (c): resident memory per idle open stream.

The script's reply streams its first word and then pauses for ``HOLD_MS`` before the next, so a
stream that has delivered its first text delta stays open and idle. RSS of the server process is
read from /proc before the streams open (after a warm-up turn) and once all of them are idle; the
time from the first request until every stream has shown its first delta is kept too.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from typing import Any

import httpx

from bench.servers import Server

HOLD_MS = 600_000
SCRIPT: dict[str, Any] = {
    "replies": [{"steps": [{"say": "Working on it, one moment please."}]}],
    "stream": "word",
    "delay_ms": HOLD_MS,
}
_BODY = json.dumps({"type": "threads.create", "params": {"input": {
    "content": [{"type": "input_text", "text": "hello"}], "attachments": [],
    "inference_options": {}}}}).encode()


async def _hold(client: httpx.AsyncClient, url: str, opened: asyncio.Event,
                counter: list[int], target: int) -> None:
    async with client.stream("POST", url, content=_BODY) as response:
        # Kept referenced while the stream idles: an iterator left behind by `break` is finalized
        # at once, and its clean-up closes the connection, so the server would be measured with
        # every stream already gone.
        chunks = response.aiter_raw()
        seen = b""
        async for chunk in chunks:
            seen += chunk
            if b"text_delta" in seen:
                break
        counter[0] += 1
        if counter[0] == target:
            opened.set()
        await asyncio.sleep(HOLD_MS / 1000)
        del chunks


async def _measure(server: Server, streams: int, timeout: float) -> tuple[int, int, float]:
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout), limits=limits) as client:
        # Warm-up: one stream opened and dropped, so lazily built objects exist before "before".
        opened, counter = asyncio.Event(), [0]
        warm = asyncio.create_task(_hold(client, server.url, opened, counter, 1))
        await asyncio.wait_for(opened.wait(), timeout)
        warm.cancel()
        await asyncio.sleep(1.0)
        before = server.rss_kb()
        opened, counter = asyncio.Event(), [0]
        started = time.perf_counter()
        tasks = [asyncio.create_task(_hold(client, server.url, opened, counter, streams))
                 for _ in range(streams)]
        try:
            await asyncio.wait_for(opened.wait(), timeout)
            opening = time.perf_counter() - started
            await asyncio.sleep(1.0)  # let buffered work (coalescing windows, saves) settle
            after = server.rss_kb()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        gc.collect()
    return before, after, opening


def run_round(server: Server, streams: int, timeout: float = 900.0) -> dict[str, float]:
    before, after, opening = asyncio.run(_measure(server, streams, timeout))
    return {"before_mb": before / 1024, "after_mb": after / 1024,
            "kb_per_stream": (after - before) / streams, "open_s": opening}
