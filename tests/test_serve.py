"""`chatkit-host serve` as a real process on a real socket: the example, disconnects and cancel."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chatkit_host.testing import ChatKitClient, ServedHost, serve_host, user_input
from projects import REPO, base_config, write_project

pytestmark = pytest.mark.serial

SLOW_WORDS = " ".join(f"word{n}" for n in range(200))

SLOW_TOOLS_PY = '''
import time
from pathlib import Path

HERE = Path(__file__).parent

def slow_step(who: str) -> str:
    """Holds the run until the test lets go (writes `holding-WHO`, waits for `release`)."""
    (HERE / f"holding-{who}").write_text("yes")
    for _ in range(2000):
        if (HERE / "release").exists():
            return "slow step done"
        time.sleep(0.01)
    return "gave up"

def mark(who: str) -> str:
    """Leaves a mark on disk (`marker-WHO`): proof that the run went on."""
    (HERE / f"marker-{who}").write_text("the run went on")
    return "marked"

def lookup_order(order_id: str) -> dict:
    """Look up an order.

    Args:
        order_id: The order id.
    """
    return {"order_id": order_id, "status": "shipped"}
'''


def test_the_readme_example_serves_a_whole_conversation(tmp_path: Path) -> None:
    for name in ("chatkit.yaml", "demo.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    for folder in ("agents", "tools", "widgets"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    with serve_host(tmp_path) as host:
        asyncio.run(_whole_conversation(host))
    assert (tmp_path / ".chatkit" / "chatkit.db").exists()


async def _whole_conversation(host: ServedHost) -> None:
    async with ChatKitClient(host.url) as client:
        first = await client.create_thread("hello")
        assert "offline demo assistant" in first.assistant_text
        order = await client.add_message(first.thread_id, "where is order A-1001?")
        assert "shipped" in order.assistant_text
        assert any(e["type"] == "progress_update" and e["text"] == "Looking up the order…"
                   for e in order.events)
        threads = await client.list_threads()
        assert [t["id"] for t in threads["data"]] == [first.thread_id]
        items = await client.list_items(first.thread_id)
        assert [i["type"] for i in items["data"]] == ["user_message", "assistant_message"] * 2
        assert (await client.rename_thread(first.thread_id, "Orders"))["title"] == "Orders"
        await client.delete_thread(first.thread_id)
        assert (await client.list_threads())["data"] == []


SLOW_SCRIPT = {
    "replies": [
        {"when": ["slow"], "steps": [{"say": SLOW_WORDS}]},
        {"steps": [{"say": "Echo: {{ user_text }}"}]},
    ],
    "delay_ms": 20,
}
"""A reply of many words, 20 ms apart: long enough for a client to leave in the middle."""


def test_a_client_that_leaves_mid_stream_loses_nothing_already_shown(tmp_path: Path) -> None:
    write_project(tmp_path, script=SLOW_SCRIPT)
    with serve_host(tmp_path) as host:
        shown, thread_id = asyncio.run(_leave_after_deltas(host, "slow please", 20))
        items = asyncio.run(_saved_items(host, thread_id, 2))
        assert [i["type"] for i in items] == ["user_message", "assistant_message"]
        kept = "".join(p["text"] for p in items[1]["content"])
        assert kept.startswith(shown) and len(shown) > 0
        assert len(kept) < len(SLOW_WORDS)  # cut where the client left, not run to the end
        follow_up = asyncio.run(_add(host, thread_id, "and now?"))
        assert follow_up == "Echo: and now?"


def test_a_cancelled_turn_stops_the_agent_run(tmp_path: Path) -> None:
    """One run's client leaves while its tool runs, another's stays; both tools then return together.
    The run that stayed goes on to its next tool and answers: by then the one left would have too."""
    script = {"replies": [{"when": [who], "steps": [
        {"call": "slow_step", "arguments": {"who": who}},
        {"call": "mark", "arguments": {"who": who}},
        {"say": "all done"},
    ]} for who in ("left", "stayed")]}
    config = base_config()
    config["agents"]["triage"]["tools"] = ["slow_step", "mark"]
    config["tools"] = {
        "slow_step": {"python": "./tools.py:slow_step", "progress": "Working…"},
        "mark": {"python": "./tools.py:mark"},
    }
    write_project(tmp_path, config, script=script, files={"tools.py": SLOW_TOOLS_PY})
    with serve_host(tmp_path) as host:
        assert asyncio.run(_leave_one_keep_one(host, tmp_path)) == "all done"
    assert (tmp_path / "marker-stayed").exists()
    assert not (tmp_path / "marker-left").exists(), "the agent run went on after the client left"


async def _leave_one_keep_one(host: ServedHost, root: Path) -> str:
    await _leave_on_progress(host, "left")  # its slow_step is running
    await _until(lambda: _open_streams(host) == 0, "the server ended the stream the client left")
    async with ChatKitClient(host.url) as client:
        stayed = asyncio.create_task(client.create_thread("stayed"))
        await _until(lambda: (root / "holding-stayed").exists(), "the second run reached its slow step")
        (root / "release").write_text("go")  # both slow steps return now
        return (await stayed).assistant_text


async def _until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(400):  # bounded: 20 s
        if await asyncio.to_thread(condition):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def _open_streams(host: ServedHost) -> float:
    for family in text_string_to_metric_families(httpx.get(f"{host.base}/metrics").text):
        if family.name == "chatkit_open_streams":
            return sum(sample.value for sample in family.samples)
    raise AssertionError("/metrics has no chatkit_open_streams")


def test_clients_leaving_together_leave_the_server_idle_while_their_turns_are_saved(
    tmp_path: Path,
) -> None:
    # The store is held by another writer while twenty clients leave mid-stream: saving what each
    # was shown (and releasing its thread) has to wait. Waiting must not cost CPU; the event loop
    # used to spin on every such wait (minutes of CPU when 1,000 clients left at once).
    write_project(tmp_path, script=SLOW_SCRIPT)
    with serve_host(tmp_path) as host:
        threads = asyncio.run(_new_threads(host, 20))
        shown, busy = asyncio.run(_leave_together(host, threads, tmp_path / "data" / "chatkit.db"))
        assert busy < 0.5, f"the server used {busy:.2f} s of CPU while the departed turns waited"
        for thread_id in threads:
            items = asyncio.run(_saved_items(host, thread_id, 4))
            assert [i["type"] for i in items] == ["user_message", "assistant_message"] * 2
            kept = "".join(p["text"] for p in items[3]["content"])
            assert kept.startswith(shown[thread_id]) and len(shown[thread_id]) > 0
        assert asyncio.run(_add(host, threads[0], "still there?")) == "Echo: still there?"


async def _new_threads(host: ServedHost, count: int) -> list[str]:
    async with ChatKitClient(host.url) as client:
        turns = await asyncio.gather(*(client.create_thread("hi") for _ in range(count)))
    return [str(turn.thread_id) for turn in turns]


async def _leave_together(host: ServedHost, threads: list[str], db: Path) -> tuple[dict[str, str], float]:
    """Open a slow turn on every thread, lock the store, leave them all; the server's CPU seconds
    over the next 1.5 s."""
    shown: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50)) as http:
        async with AsyncExitStack() as streams:

            async def open_turn(thread_id: str) -> None:
                body = json.dumps({"type": "threads.add_user_message",
                                   "params": {"thread_id": thread_id, "input": user_input("slow please")}})
                response = await streams.enter_async_context(http.stream("POST", host.url, content=body))
                lines = response.aiter_lines()
                shown[thread_id] = ""
                async for line in lines:
                    update = json.loads(line[6:]).get("update") or {} if line.startswith("data: ") else {}
                    if update.get("type") == "assistant_message.content_part.text_delta":
                        shown[thread_id] += update["delta"]
                        if shown[thread_id].count(" ") >= 3:
                            return

            await asyncio.gather(*(open_turn(thread_id) for thread_id in threads))
            writer = sqlite3.connect(db, timeout=5, isolation_level=None)
            writer.execute("BEGIN IMMEDIATE")
        # Every stream is closed now; their clean-up waits for the store.
        try:
            before = _cpu_seconds(host)
            await asyncio.sleep(1.5)
            busy = _cpu_seconds(host) - before
        finally:
            writer.execute("ROLLBACK")
            writer.close()
    return shown, busy


async def _saved_items(host: ServedHost, thread_id: str, count: int) -> list[dict]:
    """The thread's items (hidden context left out) once there are ``count``: its turn's clean-up
    has saved the assistant message. Fails after 10 s."""
    for _ in range(200):
        items = [i for i in await _items(host, thread_id) if i["type"] != "sdk_hidden_context"]
        if len(items) >= count:
            return items
        await asyncio.sleep(0.05)
    raise AssertionError(f"the thread has {len(items)} items, not {count}: {items}")


def _cpu_seconds(host: ServedHost) -> float:
    fields = Path(f"/proc/{host.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _leave_after_deltas(host: ServedHost, text: str, count: int) -> tuple[str, str]:
    shown, thread_id = "", ""
    async with httpx.AsyncClient(timeout=30) as http:
        body = json.dumps({"type": "threads.create", "params": {"input": user_input(text)}})
        async with http.stream("POST", host.url, content=body) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                if event["type"] == "thread.created":
                    thread_id = event["thread"]["id"]
                update = event.get("update") or {}
                if update.get("type") == "assistant_message.content_part.text_delta":
                    shown += update["delta"]
                    count -= 1
                    if count == 0:
                        break  # leaving the block closes the connection mid-stream
    return shown, thread_id


async def _leave_on_progress(host: ServedHost, text: str) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        body = json.dumps({"type": "threads.create", "params": {"input": user_input(text)}})
        async with http.stream("POST", host.url, content=body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: ") and json.loads(line[6:])["type"] == "progress_update":
                    break


async def _items(host: ServedHost, thread_id: str) -> list[dict]:
    async with ChatKitClient(host.url) as client:
        return (await client.list_items(thread_id))["data"]


async def _add(host: ServedHost, thread_id: str, text: str) -> str:
    async with ChatKitClient(host.url) as client:
        return (await client.add_message(thread_id, text)).assistant_text
