"""Hot reload under load: how long new requests wait while a reload builds and swaps (#18 F5).

    python -m bench.reload_stall              # 5 edits
    python -m bench.reload_stall --edits 10

`chatkit-host serve --reload` runs the example project as a real process. Streamed turns keep it
busy (`--streams` at a time, each a new thread); meanwhile one client sends `threads.list` every
5 ms and times each request's first byte. Each edit appends a line to an instruction file; the
edit waits for `/healthz` to show the new version, and edits are 2 s apart. Printed: the first
byte's p50 / p99 / max before any reload, its max from the first save until the second (a stall a
reload sets off may come a little after the swap), and its max from the second save on.
Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.reload import append_line, example_project, serving

QUIET_SECONDS = 2.0
"""Load without a reload before the first edit and between edits (the baseline)."""


async def _turns(base: str, stop: asyncio.Event) -> None:
    body = json.dumps({"type": "threads.create", "params": {"input": {
        "content": [{"type": "input_text", "text": "hello"}], "attachments": [], "inference_options": {}}}})
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        while not stop.is_set():
            async with http.stream("POST", "/chatkit", content=body) as response:
                async for _ in response.aiter_bytes():
                    pass


async def _probe(base: str, stop: asyncio.Event, samples: list[tuple[float, float]]) -> None:
    body = json.dumps({"type": "threads.list", "params": {"limit": 5}})
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        while not stop.is_set():
            sent = time.perf_counter()
            async with http.stream("POST", "/chatkit", content=body) as response:
                first = time.perf_counter() - sent
                await response.aread()
            samples.append((sent, first))
            await asyncio.sleep(0.005)


async def _version(http: httpx.AsyncClient) -> str:
    return (await http.get("/healthz")).json()["config_version"]


async def measure(base: str, edit, edits: int, streams: int) -> dict[str, float]:
    stop = asyncio.Event()
    samples: list[tuple[float, float]] = []
    tasks = [asyncio.create_task(_turns(base, stop)) for _ in range(streams)]
    tasks.append(asyncio.create_task(_probe(base, stop, samples)))
    windows: list[tuple[float, float]] = []
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        for number in range(edits):
            await asyncio.sleep(QUIET_SECONDS)
            before = await _version(http)
            saved = time.perf_counter()
            edit(number)
            while await _version(http) == before:
                if time.perf_counter() - saved > 20:
                    raise SystemExit("no reload within 20 s")
                await asyncio.sleep(0.005)
            windows.append((saved, time.perf_counter()))
        await asyncio.sleep(QUIET_SECONDS)
    stop.set()
    await asyncio.gather(*tasks)

    before = sorted(first for sent, first in samples if sent < windows[0][0])
    first_reload = [first for sent, first in samples if windows[0][0] <= sent < windows[1][0]]
    later = [first for sent, first in samples if sent >= windows[1][0]]
    return {
        "before any reload p50": statistics.median(before) * 1000,
        "p99": before[int(len(before) * 0.99)] * 1000,
        "max": before[-1] * 1000,
        "from the first reload to the second, max": max(first_reload, default=0) * 1000,
        "from the second on, max": max(later, default=0) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=5, help="at least 2")
    parser.add_argument("--streams", type=int, default=4, help="streamed turns at a time (default 4)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        example_project(root)
        with serving(root) as base:
            figures = asyncio.run(measure(base, append_line(root / "agents/triage.md"), args.edits,
                                          args.streams))
    print("first byte of threads.list, ms: " + ", ".join(f"{k} {v:.0f}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
