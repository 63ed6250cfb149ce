"""`chatkit-host serve` as a real process on a real socket: the example, disconnects and cancel."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import httpx
import pytest

from chatkit_host.testing import ChatKitClient, user_input
from processes import ServedHost, serve
from projects import REPO, base_config, write_project

pytestmark = pytest.mark.serial

SLOW_WORDS = " ".join(f"word{n}" for n in range(200))

SLOW_TOOLS_PY = '''
import time
from pathlib import Path

def slow_step() -> str:
    """Takes a while."""
    time.sleep(1.0)
    return "slow step done"

def mark() -> str:
    """Leaves a mark on disk: proof that the run went on."""
    Path(__file__).with_name("marker").write_text("the run went on")
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
    with serve(tmp_path) as host:
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


def test_a_client_that_leaves_mid_stream_loses_nothing_already_shown(tmp_path: Path) -> None:
    script = {
        "replies": [
            {"when": ["slow"], "steps": [{"say": SLOW_WORDS}]},
            {"steps": [{"say": "Echo: {{ user_text }}"}]},
        ],
        "delay_ms": 20,
    }
    write_project(tmp_path, script=script)
    with serve(tmp_path) as host:
        shown, thread_id = asyncio.run(_leave_after_deltas(host, "slow please", 20))
        asyncio.run(asyncio.sleep(0.5))
        items = asyncio.run(_items(host, thread_id))
        assert [i["type"] for i in items] == ["user_message", "assistant_message"]
        kept = "".join(p["text"] for p in items[1]["content"])
        assert kept.startswith(shown) and len(shown) > 0
        assert len(kept) < len(SLOW_WORDS)  # cut where the client left, not run to the end
        follow_up = asyncio.run(_add(host, thread_id, "and now?"))
        assert follow_up == "Echo: and now?"


def test_a_cancelled_turn_stops_the_agent_run(tmp_path: Path) -> None:
    script = {"replies": [{"steps": [
        {"call": "slow_step", "arguments": {}},
        {"call": "mark", "arguments": {}},
        {"say": "all done"},
    ]}]}
    config = base_config()
    config["agents"]["triage"]["tools"] = ["slow_step", "mark"]
    config["tools"] = {
        "slow_step": {"python": "./tools.py:slow_step", "progress": "Working…"},
        "mark": {"python": "./tools.py:mark"},
    }
    write_project(tmp_path, config, script=script, files={"tools.py": SLOW_TOOLS_PY})
    with serve(tmp_path) as host:
        asyncio.run(_leave_on_progress(host, "go"))
        asyncio.run(asyncio.sleep(2.5))
    assert not (tmp_path / "marker").exists(), "the agent run went on after the client left"


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
