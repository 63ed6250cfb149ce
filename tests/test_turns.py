"""One turn at a time per thread: a second turn is refused (409 thread_busy) or queued, never
interleaved; the lease goes when the stream ends, however it ends; it holds across processes."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from chatkit_host.config.loader import load_config
from chatkit_host.host import Host
from chatkit_host.runtime.build import build_runtime
from chatkit_host.testing import ChatKitClient, ChatKitHTTPError, Turn, run_host, serve_host, user_input
from projects import base_config, write_project
from ui_project import ORDER_CARD, ui_config
from ui_project import SCRIPT as UI_SCRIPT

pytestmark = pytest.mark.serial

HOLD_TOOLS_PY = '''
import asyncio
from pathlib import Path

HERE = Path(__file__).parent


async def hold() -> str:
    """Holds the turn until the test lets go (writes `holding`, waits for `release`)."""
    (HERE / "holding").write_text("yes")
    for _ in range(2000):
        if (HERE / "release").exists():
            return "released"
        await asyncio.sleep(0.01)
    return "gave up"


def lookup_order(order_id: str) -> dict:
    """Look up an order.

    Args:
        order_id: The order id.
    """
    return {"order_id": order_id, "status": "shipped"}
'''
SCRIPT = {
    "replies": [
        {"when": ["slow"], "steps": [{"call": "hold", "arguments": {}}, {"say": "held: {{ tool_output }}"}]},
        {"steps": [{"say": "Echo {{ turn }}: {{ user_text }}"}]},
    ],
}


def turns_project(root: Path, store_url: str, **server: Any) -> Path:
    config = base_config()
    config["store"] = {"url": store_url}
    config["agents"]["triage"]["tools"] = ["lookup_order", "hold"]
    config["tools"]["hold"] = {"python": "./tools.py:hold", "progress": "Holding…"}
    if server:
        config["server"] = server
    return write_project(root, config, script=SCRIPT, files={"tools.py": HOLD_TOOLS_PY})


async def holding(root: Path) -> None:
    """Wait until a turn is inside the `hold` tool (its lease taken, its stream begun)."""
    for _ in range(2000):
        if (root / "holding").exists():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the slow turn never started")


def let_go(root: Path) -> None:
    (root / "release").write_text("go")


def texts(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(i["type"], "".join(part.get("text", "") for part in i.get("content", [])))
            for i in items]


async def test_a_second_turn_on_a_busy_thread_is_refused_before_it_streams(
    tmp_path: Path, store_url: str
) -> None:
    async with run_host(turns_project(tmp_path, store_url)) as running:
        client = running.client()
        thread_id = (await client.create_thread("hello")).thread_id
        first = asyncio.create_task(client.add_message(thread_id, "slow please"))
        await holding(tmp_path)
        with pytest.raises(ChatKitHTTPError) as busy:
            await client.add_message(thread_id, "double click")
        assert busy.value.status == 409
        assert busy.value.body == {"error": {"code": "thread_busy", "message": (
            "another turn is running on this thread; try again when it has finished")}}
        # Reading is never blocked.
        assert len((await client.list_items(thread_id))["data"]) == 3
        let_go(tmp_path)
        assert (await first).assistant_text == "held: released"
        # The lease went with the first stream.
        assert (await client.add_message(thread_id, "again")).assistant_text == "Echo 3: again"
        items = (await client.list_items(thread_id, limit=50))["data"]
    assert [pair for pair in texts(items) if pair[0] != "client_tool_call"] == [
        ("user_message", "hello"), ("assistant_message", "Echo 1: hello"),
        ("user_message", "slow please"), ("assistant_message", "held: released"),
        ("user_message", "again"), ("assistant_message", "Echo 3: again"),
    ]


async def test_queued_turns_wait_their_turn_and_never_interleave(tmp_path: Path, store_url: str) -> None:
    path = turns_project(tmp_path, store_url, turns="queue", turn_wait=30)
    async with run_host(path) as running:
        client = running.client()
        thread_id = (await client.create_thread("hello")).thread_id
        first = asyncio.create_task(client.add_message(thread_id, "slow please"))
        await holding(tmp_path)
        second = asyncio.create_task(client.add_message(thread_id, "me next"))
        third = asyncio.create_task(client.add_message(thread_id, "and me"))
        await waiting(running.host, thread_id, 2)  # neither may have written anything
        assert len((await client.list_items(thread_id))["data"]) == 3
        let_go(tmp_path)
        turns = await asyncio.gather(first, second, third)
        items = (await client.list_items(thread_id, limit=50))["data"]
    assert turns[0].assistant_text == "held: released"
    pairs = texts(items)
    assert pairs[:4] == [
        ("user_message", "hello"), ("assistant_message", "Echo 1: hello"),
        ("user_message", "slow please"), ("assistant_message", "held: released"),
    ]
    # The two queued turns ran one after the other (in either order), each answer after its message.
    rest = pairs[4:]
    assert [kind for kind, _ in rest] == ["user_message", "assistant_message"] * 2
    for (_, asked), (_, answered) in zip(rest[::2], rest[1::2]):
        assert answered.endswith(f": {asked}")


async def waiting(host: Host, thread_id: str, count: int) -> None:
    """Until ``count`` turns wait for the thread in this process."""
    for _ in range(4000):
        if host.turns.waiting(thread_id) >= count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{host.turns.waiting(thread_id)} turns wait, not {count}")


async def test_queued_turns_are_answered_first_come_first_served(tmp_path: Path, store_url: str) -> None:
    path = turns_project(tmp_path, store_url, turns="queue", turn_wait=60)
    async with run_host(path) as running:
        client = running.client()
        thread_id = (await client.create_thread("hello")).thread_id
        first = asyncio.create_task(client.add_message(thread_id, "slow please"))
        await holding(tmp_path)
        queued = []
        for n in range(6):  # each one arrives after the one before is in line
            queued.append(asyncio.create_task(client.add_message(thread_id, f"number {n}")))
            await waiting(running.host, thread_id, n + 1)
        let_go(tmp_path)
        await asyncio.gather(first, *queued)
        items = (await client.list_items(thread_id, limit=50))["data"]
    asked = [text for kind, text in texts(items) if kind == "user_message"]
    assert asked == ["hello", "slow please", *(f"number {n}" for n in range(6))]
    answered = [text for kind, text in texts(items) if kind == "assistant_message"]
    assert answered[2:] == [f"Echo {n + 3}: number {n}" for n in range(6)]


async def test_a_queued_turn_gives_up_after_turn_wait(tmp_path: Path) -> None:
    path = turns_project(tmp_path, f"sqlite:///{tmp_path}/chatkit.db", turns="queue", turn_wait=0.2)
    async with run_host(path) as running:
        client = running.client()
        thread_id = (await client.create_thread("hello")).thread_id
        first = asyncio.create_task(client.add_message(thread_id, "slow please"))
        await holding(tmp_path)
        with pytest.raises(ChatKitHTTPError) as busy:
            await client.add_message(thread_id, "impatient")
        assert busy.value.status == 409 and busy.value.body["error"]["code"] == "thread_busy"
        let_go(tmp_path)
        await first


async def test_other_threads_are_not_held_up(tmp_path: Path) -> None:
    async with run_host(turns_project(tmp_path, f"sqlite:///{tmp_path}/chatkit.db")) as running:
        client = running.client()
        busy_thread = (await client.create_thread("hello")).thread_id
        other = (await client.create_thread("other")).thread_id
        first = asyncio.create_task(client.add_message(busy_thread, "slow please"))
        await holding(tmp_path)
        assert (await client.add_message(other, "fine")).assistant_text == "Echo 2: fine"
        assert (await client.create_thread("new one")).assistant_text == "Echo 1: new one"
        let_go(tmp_path)
        await first


def test_the_lease_holds_across_processes_on_one_sqlite_file_and_goes_with_a_client_that_leaves(
    tmp_path: Path,
) -> None:
    """Two `serve` processes on one SQLite file: a turn on one makes the other answer 409; a client
    that leaves mid-stream frees the thread for the next turn."""
    url = f"sqlite:///{tmp_path}/shared.db"
    turns_project(tmp_path / "a", url)
    turns_project(tmp_path / "b", url)
    with serve_host(tmp_path / "a", timeout=90) as one, serve_host(tmp_path / "b", timeout=90) as two:
        asyncio.run(_cross_process(one.url, two.url))


async def _cross_process(url_one: str, url_two: str) -> None:
    async with ChatKitClient(url_one) as one, ChatKitClient(url_two) as two:
        thread_id = (await one.create_thread("hello")).thread_id
        body = json.dumps({"type": "threads.add_user_message",
                           "params": {"thread_id": thread_id, "input": user_input("slow please")}})
        async with httpx.AsyncClient(timeout=30) as http:
            async with http.stream("POST", url_one, content=body) as response:
                lines = response.aiter_lines()  # kept: a collected iterator closes the connection
                async for line in lines:
                    if "progress_update" in line:
                        break  # the turn is inside the hold tool on process one
                with pytest.raises(ChatKitHTTPError) as busy:
                    await two.add_message(thread_id, "from the other process")
                assert busy.value.status == 409
            # Leaving the block closed the connection mid-stream: the lease must go with it.
        follow_up = await _retry_while_busy(lambda: two.add_message(thread_id, "after"))
        assert follow_up.assistant_text.endswith(": after")


async def _retry_while_busy(call: Any, attempts: int = 100) -> Turn:
    """The server notices the disconnect a moment after it happens: retry a 409 briefly."""
    for _ in range(attempts):
        try:
            return await call()
        except ChatKitHTTPError as error:
            if error.status != 409:
                raise
            await asyncio.sleep(0.05)
    raise AssertionError("the thread stayed busy after the client left")


async def test_a_queued_action_is_checked_again_against_the_rules_in_force_when_its_turn_comes(
    tmp_path: Path,
) -> None:
    """A widget action waits behind a turn; meanwhile a reload removes its action type. When its turn
    comes it is refused (400, before any stream) as it would be if sent now — and changes nothing."""
    config = ui_config()
    config["store"] = {"url": f"sqlite:///{tmp_path}/chatkit.db"}
    config["server"] = {"turns": "queue", "turn_wait": 30}
    config["tools"]["hold"] = {"python": "./tools.py:hold"}
    config["agents"]["triage"]["tools"].append("hold")
    script = {"replies": [SCRIPT["replies"][0], *UI_SCRIPT["replies"]]}
    files = {"widgets/order_card.widget": ORDER_CARD, "tools.py": HOLD_TOOLS_PY}
    path = write_project(tmp_path, config, script, files)
    async with run_host(path) as running:
        client = running.client()
        shown = await client.create_thread("show me my order")
        card = next(i for i in shown.items_done if i["type"] == "widget")
        first = asyncio.create_task(client.add_message(shown.thread_id, "slow please"))
        await holding(tmp_path)
        queued = asyncio.create_task(
            client.custom_action(shown.thread_id, "order.refresh", {"order_id": "A-1001"}, card["id"]))
        await waiting(running.host, shown.thread_id, 1)  # past its first checks, waiting for the thread
        del config["actions"]["order.refresh"]
        running.host.swap(build_runtime(load_config(write_project(tmp_path, config, script, files), environ={})))
        let_go(tmp_path)
        await first
        with pytest.raises(ChatKitHTTPError) as refused:
            await queued
        items = (await client.list_items(shown.thread_id, limit=50))["data"]
    assert refused.value.status == 400
    assert refused.value.body["error"]["code"] == "unknown_action"
    assert [i["type"] for i in items if i["type"] != "client_tool_call"] == [
        "user_message", "widget", "assistant_message", "user_message", "assistant_message"]
    status_badge = items[1]["widget"]["children"][0]["children"][2]["label"]
    assert status_badge == "processing"  # the action would have refreshed it to "shipped"


async def test_a_follow_up_turn_reads_its_thread_with_the_lease_not_in_a_round_trip_of_its_own(
    tmp_path: Path,
) -> None:
    """Before a follow-up turn's first event: the ownership check reads the thread, the lease's
    transaction reads it again for the turn (the SDK's `load_thread` takes that row), and the user's
    item is written. Three store transactions; a fourth read of the same row was a round trip that
    waited for a worker thread and the event loop under load."""
    path = turns_project(tmp_path, f"sqlite:///{tmp_path}/chatkit.db")
    transactions: list[tuple[Any, list[str]]] = []

    def record(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not transactions or transactions[-1][0] is not connection:
            transactions.append((connection, []))
        transactions[-1][1].append(" ".join(statement.split()).split(" (")[0].split(" WHERE")[0])

    async with run_host(path) as running:
        client, engine = running.client(), running.host.store.engine.sync_engine
        thread_id = (await client.create_thread("hello")).thread_id
        event.listen(engine, "before_cursor_execute", record)
        try:
            turn = await client.add_message(thread_id, "again")
        finally:
            event.remove(engine, "before_cursor_execute", record)
    assert turn.assistant_text == "Echo 2: again"
    statements = [statements for _, statements in transactions]
    user_item = next(n for n, body in enumerate(statements) if "INSERT INTO chatkit_items" in body)
    read_thread = "SELECT chatkit_threads.data FROM chatkit_threads"
    assert statements[: user_item + 1] == [
        [read_thread],  # the request's checks: the thread exists and is the caller's
        ["SELECT host, pid, expires_at FROM chatkit_turn_leases",
         "INSERT OR REPLACE INTO chatkit_turn_leases", read_thread],
        ["SELECT chatkit_turn_leases.holder FROM chatkit_turn_leases",  # the fence
         "SELECT chatkit_threads.seq FROM chatkit_threads", "INSERT INTO chatkit_items"],
    ]



async def test_a_turn_checks_its_thread_without_a_trip_to_a_worker_thread(tmp_path: Path) -> None:
    """The thread's row, read by its key to check the request (~0.1 ms in SQLite), is read on the
    event loop's own thread: a worker thread's round trip cost ~10 ms at the median under load."""
    path = turns_project(tmp_path, f"sqlite:///{tmp_path}/chatkit.db")
    readers: list[str] = []

    def record(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if " ".join(statement.split()).startswith("SELECT chatkit_threads.data FROM"):
            readers.append(threading.current_thread().name)

    async with run_host(path) as running:
        client, engine = running.client(), running.host.store.engine.sync_engine
        thread_id = (await client.create_thread("hello")).thread_id
        event.listen(engine, "before_cursor_execute", record)
        try:
            turn = await client.add_message(thread_id, "again")
            listed = await client.list_items(thread_id)
        finally:
            event.remove(engine, "before_cursor_execute", record)
    assert turn.assistant_text == "Echo 2: again" and len(listed["data"]) == 4
    loop_thread = threading.current_thread().name
    # The request's check, then the lease's transaction (the turn's own load): nothing else was
    # writing, so it ran at once on the loop's thread too.
    assert readers[:2] == [loop_thread, loop_thread]


async def test_a_turn_waits_its_turn_for_a_write_lock_another_process_holds(tmp_path: Path) -> None:
    """A write is tried on the event loop's thread only if the lock is free that instant: while
    another process holds it, the turn's writes wait on the writer thread, and the turn succeeds
    once the lock is let go, with nothing lost."""
    database = tmp_path / "chatkit.db"
    path = turns_project(tmp_path, f"sqlite:///{database}")
    writers: list[str] = []

    def record(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT OR REPLACE INTO CHATKIT_TURN_LEASES"):
            writers.append(threading.current_thread().name)

    async with run_host(path) as running:
        client, engine = running.client(), running.host.store.engine.sync_engine
        thread_id = (await client.create_thread("hello")).thread_id
        other = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # another process's write transaction, held open
        event.listen(engine, "before_cursor_execute", record)
        try:
            pending = asyncio.create_task(client.add_message(thread_id, "again"))
            await asyncio.sleep(0.3)
            assert not pending.done()  # waiting for the lock, the event loop still serving
            assert (await client.list_items(thread_id))["data"][0]["type"] == "user_message"
            other.execute("COMMIT")
            turn = await pending
        finally:
            event.remove(engine, "before_cursor_execute", record)
            other.close()
        listed = await client.list_items(thread_id)
    assert turn.assistant_text == "Echo 2: again" and len(listed["data"]) == 4
    assert writers[:1] == ["chatkit-store-write_0"]
