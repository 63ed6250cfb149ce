"""Who keeps the memory of an idle open stream: tracemalloc inside the server, grouped by owner.

    python -m bench.memory_owners                    # host and baseline, 200 streams each
    python -m bench.memory_owners --side host --streams 100 --lines 25

Each server runs under this module (``--serve``), which starts tracemalloc on SIGUSR2 (tracing
the start-up's imports 64 frames deep would take minutes) and writes a snapshot on SIGUSR1. The driver opens the streams of workload
(c) (`bench/memory.py`: first word, then a 10-minute pause), takes one snapshot before and one with
every stream idle, and counts each allocation still live under the innermost frame that belongs
to a known package (standard library, pydantic and other unlisted frames are passed over, so a deep
copy or a model built by the host counts as the host's). Per stream = (after − before) ÷ streams.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import runpy
import signal
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

import httpx

from bench import memory
from bench.servers import REPO, Project, Server, command, free_port, stop, wait_healthy, write_project

FRAMES = 64
# (owner, path fragment), tried in order on every frame from the innermost outwards.
OWNERS: tuple[tuple[str, str], ...] = (
    ("scripted model", "/chatkit_host/runtime/scripted/"),
    ("host", "/chatkit_host/"),
    ("baseline", "/bench/baseline.py"),
    ("chatkit stream_agent_response", "/site-packages/chatkit/agents.py"),
    ("chatkit", "/site-packages/chatkit/"),
    ("agents SDK", "/site-packages/agents/"),
    ("uvicorn", "/site-packages/uvicorn/"),
    ("h11", "/site-packages/h11/"),
    ("litestar", "/site-packages/litestar/"),
    ("starlette", "/site-packages/starlette/"),
    ("anyio", "/site-packages/anyio/"),
    ("sqlalchemy", "/site-packages/sqlalchemy/"),
    ("openai", "/site-packages/openai/"),
)


def serve(argv: list[str]) -> None:
    """Run ``python -m MODULE ARGS`` in this process; SIGUSR2 starts tracing, SIGUSR1 dumps a snapshot."""
    target = Path(os.environ["MEMORY_OWNERS_SNAPSHOT"])

    def dump(signum: int, frame: object) -> None:
        if os.environ.get("MEMORY_OWNERS_COLLECT"):
            gc.collect()
        partial = target.with_suffix(".part")
        tracemalloc.take_snapshot().dump(str(partial))
        partial.rename(target)

    signal.signal(signal.SIGUSR1, dump)
    signal.signal(signal.SIGUSR2, lambda signum, frame: tracemalloc.start(FRAMES))
    sys.argv = argv
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


def _owner_of_file(filename: str, known: dict[str, tuple[str, str] | None] = {}) -> tuple[str, str] | None:
    if filename not in known:
        known[filename] = next(((owner, fragment) for owner, fragment in OWNERS if fragment in filename),
                               None)
    return known[filename]


def owner_of(trace: tracemalloc.Trace) -> tuple[str, str]:
    """The owner and the innermost known frame (``file:line``) of one allocation."""
    for frame in reversed(trace.traceback):  # tracemalloc lists the oldest frame first
        found = _owner_of_file(frame.filename)
        if found is not None:
            owner, fragment = found
            short = frame.filename.split(fragment, 1)[1]
            return owner, f"{fragment.strip('/').split('/')[-1]}/{short}:{frame.lineno}"
    return "other", f"{trace.traceback[-1].filename}:{trace.traceback[-1].lineno}"


def tally(snapshot: tracemalloc.Snapshot) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    owners: dict[str, int] = defaultdict(int)
    lines: dict[tuple[str, str], int] = defaultdict(int)
    for trace in snapshot.traces:
        owner, line = owner_of(trace)
        owners[owner] += trace.size
        lines[owner, line] += trace.size
    return owners, lines


def snapshot(server: Server, path: Path) -> tracemalloc.Snapshot:
    path.unlink(missing_ok=True)
    server.process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 300
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{server.side} wrote no snapshot")
        time.sleep(0.1)
    return tracemalloc.Snapshot.load(str(path))


async def _open(server: Server, streams: int) -> list[asyncio.Task[None]]:
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=0)
    client = httpx.AsyncClient(timeout=httpx.Timeout(300.0), limits=limits)
    opened, counter = asyncio.Event(), [0]
    tasks = [asyncio.create_task(memory._hold(client, server.url, opened, counter, streams))
             for _ in range(streams)]
    await asyncio.wait_for(opened.wait(), 300)
    return tasks


async def _measure(server: Server, streams: int, path: Path) -> tuple[tracemalloc.Snapshot, ...]:
    warm = await _open(server, 1)
    for task in warm:
        task.cancel()
    server.process.send_signal(signal.SIGUSR2)
    await asyncio.sleep(1.0)
    before = await asyncio.to_thread(snapshot, server, path)
    tasks = await _open(server, streams)
    await asyncio.sleep(1.0)  # as memory.py: let coalescing windows and saves settle
    after = await asyncio.to_thread(snapshot, server, path)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return before, after


def measure(side: str, project: Project, streams: int, lines: int, owner: str | None) -> dict[str, float]:
    path = project.root / f"{side}.snapshot"
    port = free_port()
    argv = command(side, project, port)[2:]  # after `python -m`
    env = {**os.environ, "PYTHONPATH": str(REPO), "MEMORY_OWNERS_SNAPSHOT": str(path)}
    log = (project.root / f"{side}.log").open("ab")
    process = __import__("subprocess").Popen(
        [sys.executable, "-m", "bench.memory_owners", "--serve", *argv],
        cwd=REPO, stdout=log, stderr=log, env=env)
    server = Server(side, process, port, time.perf_counter())
    try:
        wait_healthy(server)
        before, after = asyncio.run(_measure(server, streams, path))
        before.dump(str(project.root / f"{side}-before.snapshot"))
        after.dump(str(project.root / f"{side}-after.snapshot"))
    finally:
        stop(server)
    owners_before, lines_before = tally(before)
    owners_after, lines_after = tally(after)
    per_owner = {owner: (owners_after.get(owner, 0) - owners_before.get(owner, 0)) / streams / 1024
                 for owner in set(owners_before) | set(owners_after)}
    print(f"\n== {side}: KB per idle stream, {streams} streams")
    for name, kb in sorted(per_owner.items(), key=lambda pair: -pair[1]):
        print(f"{kb:8.2f}  {name}")
    print(f"{sum(per_owner.values()):8.2f}  total")
    deltas = {key: (lines_after.get(key, 0) - lines_before.get(key, 0)) / streams
              for key in set(lines_before) | set(lines_after)}
    if owner is not None:
        deltas = {key: size for key, size in deltas.items() if key[0] == owner}
    print(f"-- top {lines} lines (bytes per stream)")
    for (name, line), size in sorted(deltas.items(), key=lambda pair: -pair[1])[:lines]:
        print(f"{size:8.0f}  {name:30} {line}")
    return per_owner


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=("host", "baseline", "both"), default="both")
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--lines", type=int, default=30, help="top allocation lines to print")
    parser.add_argument("--collect", action="store_true",
                        help="collect cyclic garbage before each snapshot (what is truly reachable)")
    parser.add_argument("--owner", help="print only this owner's lines")
    parser.add_argument("--workdir", type=Path, help="keep the project, logs and snapshots here")
    args = parser.parse_args()
    sides = ("host", "baseline") if args.side == "both" else (args.side,)
    if args.collect:
        os.environ["MEMORY_OWNERS_COLLECT"] = "1"
    with tempfile.TemporaryDirectory() as scratch:
        project = write_project((args.workdir or Path(scratch)) / "memory", memory.SCRIPT)
        for side in sides:
            measure(side, project, args.streams, args.lines, args.owner)


if __name__ == "__main__":
    main()
