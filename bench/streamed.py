"""Workload (a): streamed turns. N conversations at once, each asking for a 200-word reply.

Each turn is a `threads.create` whose reply the scripted model streams word by word (200 text
deltas). The client reads raw bytes and only notes when the first and the last byte arrive, so
its own cost does not depend on how many events a server sends; the text is checked separately,
once per round and side, outside the timing.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.servers import Server
from bench.stats import percentile

WORDS = 200
REPLY = " ".join(f"word{n}" for n in range(WORDS))
SCRIPT: dict[str, Any] = {"replies": [{"steps": [{"say": REPLY}]}], "stream": "word"}
PACE_MS = 5
PACED_SCRIPT: dict[str, Any] = {**SCRIPT, "delay_ms": PACE_MS}
"""The same reply from a model that pauses between deltas (200 a second, a fast hosted model's
pace): a flush window then merges a few deltas, not the whole reply."""


@dataclass
class Round:
    turns_per_s: float
    first_p50_ms: float
    first_p99_ms: float
    last_p50_ms: float
    last_p99_ms: float
    events_per_turn: int
    cpu_ms_per_turn: float
    """Server CPU time (all threads) per turn: steadier than wall time on a noisy machine."""


def _body(text: str, thread_id: str | None = None) -> bytes:
    """A new thread's first message, or with ``thread_id`` the next message on that thread."""
    user_input = {"content": [{"type": "input_text", "text": text}], "attachments": [],
                  "inference_options": {}}
    if thread_id is None:
        return json.dumps({"type": "threads.create", "params": {"input": user_input}}).encode()
    return json.dumps({"type": "threads.add_user_message",
                       "params": {"thread_id": thread_id, "input": user_input}}).encode()


async def _turn(client: httpx.AsyncClient, url: str, body: bytes) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    async with client.stream("POST", url, content=body) as response:
        response.raise_for_status()
        async for _ in response.aiter_raw():
            if first is None:
                first = time.perf_counter()
    last = time.perf_counter()
    return (first or last) - started, last - started


async def _new_thread(client: httpx.AsyncClient, url: str) -> str:
    async with client.stream("POST", url, content=_body("hello")) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: ") and '"thread.created"' in line:
                return json.loads(line[6:])["thread"]["id"]
    raise AssertionError("the stream had no thread.created event")


async def check_reply(server: Server) -> int:
    """Read one turn fully: the deltas must spell the reply exactly. Returns its event count."""
    deltas, events = [], 0
    async with httpx.AsyncClient(timeout=60) as client:
        async with client.stream("POST", server.url, content=_body("check")) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                events += 1
                event = json.loads(line[6:])
                update = event.get("update") or {}
                if update.get("type") == "assistant_message.content_part.text_delta":
                    deltas.append(update["delta"])
    if "".join(deltas) != REPLY:
        raise AssertionError(f"{server.side}: the streamed text differs from the reply")
    return events


async def run_round(server: Server, concurrency: int, turns: int, follow_up: bool = False) -> Round:
    """``turns`` turns spread over ``concurrency`` concurrent conversations: each turn a new
    thread, or with ``follow_up`` the next message on the conversation's thread (which the turn
    before it answered: history loaded, the thread leased for the turn)."""
    events = await check_reply(server)
    timings: list[tuple[float, float]] = []
    remaining = iter(range(turns))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient, thread_id: str | None) -> None:
        for _ in remaining:
            timings.append(await _turn(client, server.url, _body("hello", thread_id)))

    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        threads: list[str | None] = [None] * concurrency
        if follow_up:  # started before the clock
            threads = list(await asyncio.gather(*(_new_thread(client, server.url) for _ in threads)))
        cpu = server.cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(worker(client, thread_id) for thread_id in threads))
        elapsed = time.perf_counter() - started
        cpu = server.cpu_seconds() - cpu
    first = [f * 1000 for f, _ in timings]
    last = [t * 1000 for _, t in timings]
    return Round(
        turns_per_s=len(timings) / elapsed,
        first_p50_ms=percentile(first, 0.5),
        first_p99_ms=percentile(first, 0.99),
        last_p50_ms=percentile(last, 0.5),
        last_p99_ms=percentile(last, 0.99),
        events_per_turn=events,
        cpu_ms_per_turn=cpu * 1000 / len(timings),
    )
