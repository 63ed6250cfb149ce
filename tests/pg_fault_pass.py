"""A PostgreSQL fault pass: two replicas on one PostgreSQL, restarted under streaming conversations.

Each round starts `--conversations` slow streaming turns on replica A, restarts PostgreSQL
(`pg_ctl restart -m fast`, as `halt` + `resume`) while they stream, and sends a second turn on every
other one of those threads to replica B during the restart (retrying a 503 until it is taken or refused
409); reads on both replicas run all along. Then it counts what must stay zero:

* interleaved turns — a thread where an item of the first turn is stored after the second turn's
  message;
* broken HTTP responses — a response cut short (a stream must end with an `error` event or
  normally);
* bare 500s — a 5xx that is not the documented `503 store_unavailable` with `Retry-After`;
* items lost — an item stored before the round that is gone after it, or a reply that streamed
  to its normal end but is not stored;
* tracebacks in either replica's log, and finished streams logged `outcome=cancelled`.

Loopback only, bounded in rounds and time, stops by itself. Run from the repository:

    .venv/bin/python tests/pg_fault_pass.py --rounds 3 --conversations 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).parent))

from pgserver import PostgresServer, start_postgres  # noqa: E402
from chatkit_host.testing import ServedHost, serve_host  # noqa: E402
from projects import base_config, write_project  # noqa: E402

from chatkit_host.testing import user_input  # noqa: E402

SLOW_WORDS = " ".join(f"word{n}" for n in range(120))
SCRIPT = {
    "replies": [
        {"when": ["slow"], "steps": [{"say": SLOW_WORDS}]},
        {"steps": [{"say": "Echo {{ turn }}: {{ user_text }}"}]},
    ],
    "delay_ms": 25,
}
SLOW = "(the slow reply)"
READERS = 4
"""Clients reading all along, each from both replicas in turn."""
ROUND_LIMIT = 120.0
"""Seconds one round may take before the pass gives up on it."""


@dataclass
class Figures:
    streams: int = 0
    second_turns_taken: int = 0
    second_turns_refused: int = 0
    requests: int = 0
    answered_503: int = 0
    interleaved: int = 0
    broken: int = 0
    bare_500: int = 0
    finished: int = 0
    lost: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class Stream:
    thread: str
    events: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = False

    @property
    def finished(self) -> bool:
        """The reply streamed to its normal end (no error event)."""
        return self.complete and not any(e["type"] == "error" for e in self.events) and any(
            e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message" for e in self.events
        )


def project(root: Path, store_url: str, reply: str = SLOW_WORDS) -> None:
    """A replica's project; ``reply`` is what it streams for the slow turn, so the stored items
    tell which replica wrote them (both read a "second turn" after an unanswered "slow" as going on
    from it, and answer it slowly)."""
    config = base_config()
    config["store"] = {"url": store_url}
    config["models"]["providers"]["demo"].pop("record", None)
    script = {**SCRIPT, "replies": [{"when": ["slow"], "steps": [{"say": reply}]}, *SCRIPT["replies"][1:]]}
    write_project(root, config, script=script)


def _bare_500(response: httpx.Response) -> bool:
    if response.status_code < 500:
        return False
    if response.status_code != 503 or response.headers.get("retry-after") is None:
        return True
    try:
        return response.json()["error"]["code"] != "store_unavailable"
    except (ValueError, KeyError, TypeError):
        return True


async def _post(http: httpx.AsyncClient, url: str, kind: str, params: dict[str, Any]) -> httpx.Response:
    return await http.post(url, content=json.dumps({"type": kind, "params": params}))


async def _stream(http: httpx.AsyncClient, url: str, thread: str, text: str, figures: Figures,
                  started: asyncio.Event | None = None) -> Stream:
    stream = Stream(thread)
    body = json.dumps({"type": "threads.add_user_message",
                       "params": {"thread_id": thread, "input": user_input(text)}})
    try:
        async with http.stream("POST", url, content=body) as response:
            if response.status_code != 200:
                await response.aread()
                figures.bare_500 += _bare_500(response)
                stream.complete = True
                return stream
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    stream.events.append(event)
                    if started is not None and event["type"] == "thread.item.updated":
                        started.set()
        stream.complete = True
    except httpx.HTTPError as error:
        figures.notes.append(f"broken stream on {thread}: {type(error).__name__}: {error}")
    finally:
        if started is not None:
            started.set()
    return stream


async def _second_turn(http: httpx.AsyncClient, url: str, thread: str, figures: Figures,
                       deadline: float) -> Stream | None:
    """A second turn on ``thread``: retried while the store is unavailable, then taken or refused."""
    while time.monotonic() < deadline:
        stream = await _stream(http, url, thread, "second turn", figures)
        if not stream.complete:
            return stream
        if stream.events:
            figures.second_turns_taken += 1
            return stream
        await asyncio.sleep(0.1)  # a 503 (counted if bare) or a 409: try again shortly
    figures.second_turns_refused += 1
    return None


async def _reads(http: httpx.AsyncClient, urls: list[str], threads: list[str], figures: Figures,
                 stop: asyncio.Event) -> None:
    """Reads on both replicas all along the round: each answer must be 200 or the documented 503."""
    n = 0
    while not stop.is_set():
        url = urls[n % len(urls)]
        kind, params = (("threads.list", {"limit": 5}) if n % 2 else
                        ("items.list", {"thread_id": threads[n % len(threads)], "limit": 5}))
        try:
            response = await _post(http, url, kind, params)
            figures.requests += 1
            figures.answered_503 += response.status_code == 503
            figures.bare_500 += _bare_500(response)
        except httpx.HTTPError as error:
            figures.broken += 1
            figures.notes.append(f"broken read: {type(error).__name__}")
        n += 1
        await asyncio.sleep(0.01)


def _text(item: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for part in item.get("content", []) if isinstance(part, dict))


async def _items(http: httpx.AsyncClient, url: str, thread: str) -> list[dict[str, Any]]:
    for _ in range(100):
        response = await _post(http, url, "items.list", {"thread_id": thread, "limit": 100, "order": "asc"})
        if response.status_code == 200:
            return response.json()["data"]
        await asyncio.sleep(0.1)
    raise RuntimeError(f"could not read thread {thread} after the round")


async def _round(a: ServedHost, b: ServedHost, server: PostgresServer, conversations: int,
                 figures: Figures) -> None:
    limits = httpx.Limits(max_connections=4 * conversations + 8)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        threads = []
        for n in range(conversations):
            created = await _stream_create(http, (a if n % 2 else b).url)
            threads.append(created)
        before = {thread: await _items(http, a.url, thread) for thread in threads}
        started = [asyncio.Event() for _ in threads]
        firsts = [asyncio.create_task(_stream(http, a.url, thread, "slow please", figures, event))
                  for thread, event in zip(threads, started)]
        await asyncio.gather(*(event.wait() for event in started))
        stop = asyncio.Event()
        readers = [asyncio.create_task(_reads(http, [a.url, b.url][n % 2:] + [a.url, b.url][:n % 2],
                                              threads, figures, stop)) for n in range(READERS)]
        await asyncio.to_thread(server.halt)
        deadline = time.monotonic() + 30
        # Every other thread gets its second turn during the restart; the others' first turns are
        # left to finish, and their replies must be stored whole.
        seconds = [asyncio.create_task(_second_turn(http, b.url, thread, figures, deadline))
                   for thread in threads[::2]]
        await asyncio.to_thread(server.resume)
        first_streams = await asyncio.gather(*firsts)
        second_streams = await asyncio.gather(*seconds)
        stop.set()
        await asyncio.gather(*readers)
        figures.streams += len(first_streams) + sum(s is not None for s in second_streams)
        figures.broken += sum(not s.complete for s in first_streams)
        figures.broken += sum(s is not None and not s.complete for s in second_streams)
        figures.finished += sum(first.finished for first in first_streams)
        for thread, first in zip(threads, first_streams):
            after = await _items(http, b.url, thread)
            ids = {item["id"] for item in after}
            figures.lost += sum(item["id"] not in ids for item in before[thread])
            texts = [_text(item)[:24] if _text(item) != SLOW_WORDS else SLOW for item in after]
            if thread == threads[0]:
                figures.notes.append(f"stored on one thread: {texts}")
            if first.finished and SLOW not in texts:
                figures.lost += 1
                figures.notes.append(f"finished reply not stored on {thread}")
            if "second turn" in texts and SLOW in texts[texts.index("second turn"):]:
                figures.interleaved += 1
                figures.notes.append(f"interleaved on {thread}: {[t[:20] for t in texts]}")


async def _stream_create(http: httpx.AsyncClient, url: str) -> str:
    body = json.dumps({"type": "threads.create", "params": {"input": user_input("hello")}})
    async with http.stream("POST", url, content=body) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                if event["type"] == "thread.created":
                    thread = event["thread"]["id"]
        return thread


async def _create_database(server: PostgresServer, name: str) -> None:
    admin = await asyncpg.connect(server.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="PostgreSQL restarts (default 3)")
    parser.add_argument("--conversations", type=int, default=10, help="streams per restart (default 10)")
    args = parser.parse_args()
    figures = Figures()
    server = start_postgres()
    try:
        name = f"faults_{uuid.uuid4().hex[:8]}"
        asyncio.run(_create_database(server, name))
        with tempfile.TemporaryDirectory(prefix="chatkit-faults-") as scratch:
            root = Path(scratch)
            project(root / "a", server.url(name))
            project(root / "b", server.url(name), reply="B " + SLOW_WORDS)
            with serve_host(root / "a", timeout=90) as a, serve_host(root / "b", timeout=90) as b:
                for _ in range(args.rounds):
                    asyncio.run(asyncio.wait_for(_round(a, b, server, args.conversations, figures),
                                                 ROUND_LIMIT))
            logs = {replica: (root / replica / "serve.log").read_text() for replica in ("a", "b")}
            for replica, log in logs.items():
                Path(tempfile.gettempdir(), f"chatkit-faults-{replica}.log").write_text(log)
    finally:
        server.stop()
    tracebacks = {replica: log.count("Traceback") for replica, log in logs.items()}
    cancelled = {replica: log.count("outcome=cancelled") for replica, log in logs.items()}
    print(f"rounds (PostgreSQL restarts): {args.rounds}; streams: {figures.streams} "
          f"({figures.finished} first turns finished normally); "
          f"second turns taken: {figures.second_turns_taken}, gave up: {figures.second_turns_refused}; "
          f"reads: {figures.requests} ({figures.answered_503} answered 503)")
    print(f"interleaved turns: {figures.interleaved}; broken HTTP responses: {figures.broken}; "
          f"bare 500s: {figures.bare_500}; items lost: {figures.lost}")
    print(f"tracebacks logged: {tracebacks}; streams logged outcome=cancelled: {cancelled} "
          f"(logs in {tempfile.gettempdir()}/chatkit-faults-*.log)")
    for note in figures.notes[:20]:
        print("  " + note)
    bad = figures.interleaved + figures.broken + figures.bare_500 + figures.lost
    return 1 if bad or any(tracebacks.values()) or any(cancelled.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
