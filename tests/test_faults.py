"""Faults a production host meets: PostgreSQL restarted under it, the process SIGKILLed mid-stream.

Each test starts the real servers it needs (`chatkit-host serve`, and PostgreSQL from initdb/pg_ctl)
and prints the numbers the acceptance asks for: faults injected, items lost.
"""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from chatkit_host.testing import ChatKitClient, ChatKitHTTPError, ServedHost, run_host, serve_host, user_input
from pgserver import PostgresServer, PostgresUnavailable, start_postgres
from projects import base_config, write_project

pytestmark = pytest.mark.serial

SLOW_WORDS = " ".join(f"word{n}" for n in range(300))
SCRIPT = {
    "replies": [
        {"when": ["slow"], "steps": [{"say": SLOW_WORDS}]},
        {"steps": [{"say": "Echo {{ turn }}: {{ user_text }}"}]},
    ],
    "delay_ms": 20,
}
STARTUP = 90.0  # seconds for `serve` to come up on a busy machine (a bound, not an assertion)
OUTAGE = {"error": {"code": "store_unavailable", "message": "the store is unavailable; try again shortly"}}


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test's own, which it may stop and start."""
    try:
        server = start_postgres()
    except PostgresUnavailable as error:
        pytest.fail(f"cannot start PostgreSQL for the test: {error}", pytrace=False)
    yield server
    server.stop()


def project(root: Path, store_url: str) -> Path:
    config = base_config()
    config["store"] = {"url": store_url}
    return write_project(root, config, script=SCRIPT)


def test_a_postgres_restart_gives_fast_clear_503s_and_the_host_recovers_by_itself(
    tmp_path: Path, own_postgres: PostgresServer
) -> None:
    name = f"faults_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_database(own_postgres, name))
    project(tmp_path, own_postgres.url(name))
    with serve_host(tmp_path, timeout=STARTUP) as host:
        before, thread_id = asyncio.run(_conversation(host))
        failed: list[tuple[str, int, Any]] = []
        faults = 0
        for _ in range(2):  # two restarts: recovery must not depend on luck the first time
            own_postgres.halt()
            faults += 1
            failed += asyncio.run(_requests_during_outage(host, thread_id))
            own_postgres.resume()
            asyncio.run(_until_healthy(host))
        after = asyncio.run(_items(host, thread_id))
        follow_up = asyncio.run(_add(host, thread_id, "back again"))
    log = host.log.read_text()
    lost = [item for item in before if item not in after]
    print(f"\nfaults injected: {faults} PostgreSQL restarts, {len(failed)} requests during outages; "
          f"items lost: {len(lost)}")
    assert all(status == 503 and body == OUTAGE for _, status, body in failed), failed
    assert len(failed) == 2 * 6
    assert lost == []
    assert follow_up.endswith(": back again")
    assert "Traceback" not in log
    assert "the store is unavailable" in log  # one line per refused request, for the operator


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))


async def test_the_file_routes_answer_a_store_outage_with_the_same_503(
    tmp_path: Path, own_postgres: PostgresServer
) -> None:
    """Uploads and downloads during a PostgreSQL outage: 503 `store_unavailable` like the ChatKit
    endpoint, no bytes left behind without their row, and they work again once it is back."""
    name = f"faults_{uuid.uuid4().hex[:8]}"
    await _create_database(own_postgres, name)
    config = base_config()
    config["store"] = {"url": own_postgres.url(name)}
    config["auth"] = {"mode": "bearer", "tokens": "alice=alice-token-0123456789"}
    config["files"] = {"url": "file://stored", "upload": "two_phase", "secret": "a-secret-for-every-replica"}
    path = write_project(tmp_path, config, script=SCRIPT)
    auth = {"Authorization": "Bearer alice-token-0123456789"}
    async with run_host(path) as running:
        http = running.http
        client = ChatKitClient("/chatkit", token="alice-token-0123456789", client=http)
        kept = (await http.post("/files", files={"file": ("kept.png", PNG, "image/png")}, headers=auth)).json()
        announced = await client.call("attachments.create",
                                      {"name": "a.png", "size": len(PNG), "mime_type": "image/png"})
        upload_url = announced["upload_descriptor"]["url"]
        own_postgres.halt()
        try:
            during = {
                "direct upload": await http.post("/files", files={"file": ("new.png", PNG, "image/png")},
                                                 headers=auth),
                "announced upload": await http.post(upload_url, files={"file": ("a.png", PNG, "image/png")}),
                "download": await http.get(f"/files/{kept['id']}", headers=auth),
            }
            # A signed preview needs no database: it keeps working.
            preview = await http.get(kept["preview_url"])
        finally:
            own_postgres.resume()
        stored_during = sorted(p.name for p in (tmp_path / "stored").rglob("*") if p.is_file())
        after = await _retry_outage(lambda: http.post(upload_url, files={"file": ("a.png", PNG, "image/png")}))
        download = await http.get(f"/files/{kept['id']}", headers=auth)
    answers = {route: (r.status_code, r.json(), r.headers.get("retry-after")) for route, r in during.items()}
    print(f"\nfaults injected: 1 PostgreSQL outage, {len(during)} file requests during it")
    assert answers == {route: (503, OUTAGE, "2") for route in during}, answers
    assert preview.status_code == 200 and preview.content == PNG
    assert stored_during == [kept["id"]]  # the refused uploads left no bytes behind
    assert after.status_code == 200 and after.json()["upload_descriptor"] is None
    assert download.status_code == 200 and download.content == PNG


async def _retry_outage(request: Any, attempts: int = 200) -> httpx.Response:
    """The first request after the restart may still meet the server starting up (503)."""
    for _ in range(attempts):
        response = await request()
        if response.status_code != 503:
            return response
        await asyncio.sleep(0.05)
    raise AssertionError("the file routes did not recover after PostgreSQL came back")


def test_sigkill_mid_stream_then_restart_the_thread_loads_and_continues(tmp_path: Path) -> None:
    project(tmp_path, "sqlite:///data/chatkit.db")
    _sigkill_and_continue(tmp_path)


def test_sigkill_mid_stream_on_postgres(tmp_path: Path, postgres_db_url: str) -> None:
    project(tmp_path, postgres_db_url)
    _sigkill_and_continue(tmp_path)


def _sigkill_and_continue(root: Path) -> None:
    with serve_host(root, timeout=STARTUP) as host:
        done, thread_id = asyncio.run(_conversation(host))
        asyncio.run(_kill_mid_stream(host, thread_id))
    with serve_host(root, timeout=STARTUP) as restarted:
        after = asyncio.run(_items(restarted, thread_id))
        follow_up = asyncio.run(_add(restarted, thread_id, "still there?"))
        final = asyncio.run(_items(restarted, thread_id))
    lost = [item for item in done if item not in after]
    print(f"\nfaults injected: 1 SIGKILL mid-stream; items lost: {len(lost)}")
    assert lost == []
    # What the killed turn had saved (the user's message) is there; the cut reply is not.
    assert [i["type"] for i in after[len(done):]] == ["user_message"]
    assert follow_up  # answered, not refused: the lease of the dead process is no one's
    assert [i["type"] for i in final[len(after):]] == ["user_message", "assistant_message"]


async def _create_database(server: PostgresServer, name: str) -> None:
    admin = await asyncpg.connect(server.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def _conversation(host: ServedHost) -> tuple[list[dict[str, Any]], str]:
    async with ChatKitClient(host.url) as client:
        thread_id = (await client.create_thread("first")).thread_id
        await client.add_message(thread_id, "second")
        return (await client.list_items(thread_id, limit=100))["data"], thread_id


async def _requests_during_outage(host: ServedHost, thread_id: str) -> list[tuple[str, int, Any]]:
    """One of each kind of request; a hang would fail on the client's timeout."""
    requests = [
        ("threads.list", {"limit": 5}),
        ("threads.get_by_id", {"thread_id": thread_id}),
        ("items.list", {"thread_id": thread_id}),
        ("threads.update", {"thread_id": thread_id, "title": "during the outage"}),
        ("threads.create", {"input": user_input("new")}),
        ("threads.add_user_message", {"thread_id": thread_id, "input": user_input("lost?")}),
    ]
    answers = []
    async with httpx.AsyncClient(timeout=20) as http:
        for kind, params in requests:
            response = await http.post(host.url, content=json.dumps({"type": kind, "params": params}))
            answers.append((kind, response.status_code, _json(response)))
    return answers


async def _until_healthy(host: ServedHost, attempts: int = 200) -> None:
    """The first requests after the restart may still meet the server starting up (503)."""
    async with ChatKitClient(host.url) as client:
        for _ in range(attempts):
            try:
                await client.list_threads()
                return
            except ChatKitHTTPError as error:
                assert error.status == 503, error.body
                await asyncio.sleep(0.05)
    raise AssertionError("the host did not recover after PostgreSQL came back")


async def _kill_mid_stream(host: ServedHost, thread_id: str) -> None:
    body = json.dumps({"type": "threads.add_user_message",
                       "params": {"thread_id": thread_id, "input": user_input("slow please")}})
    async with httpx.AsyncClient(timeout=30) as http:
        async with http.stream("POST", host.url, content=body) as response:
            deltas = 0
            lines = response.aiter_lines()
            async for line in lines:
                if "text_delta" in line:
                    deltas += 1
                    if deltas == 10:
                        host.process.send_signal(signal.SIGKILL)
                        host.process.wait()
                        break


async def _items(host: ServedHost, thread_id: str) -> list[dict[str, Any]]:
    async with ChatKitClient(host.url) as client:
        return (await client.list_items(thread_id, limit=100))["data"]


async def _add(host: ServedHost, thread_id: str, text: str) -> str:
    async with ChatKitClient(host.url) as client:
        return (await client.add_message(thread_id, text)).assistant_text


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


async def test_while_postgres_shuts_down_or_starts_up_requests_get_503_not_500(
    tmp_path: Path, own_postgres: PostgresServer
) -> None:
    """PostgreSQL refuses new connections with "the database system is shutting down" (and "is
    starting up") during a restart: asyncpg's `CannotConnectNowError`, wrapped twice by SQLAlchemy.
    Every request that meets it is the documented 503 with `Retry-After`, never a bare 500 (#18)."""
    name = f"faults_{uuid.uuid4().hex[:8]}"
    await _create_database(own_postgres, name)
    project(tmp_path, own_postgres.url(name))
    async with run_host(tmp_path / "chatkit.yaml") as running:
        http, client = running.http, running.client()
        thread_id = (await client.create_thread("first")).thread_id
        # The session that keeps the smart shutdown from finishing, so new connections are refused.
        admin = await asyncpg.connect(own_postgres.dsn())
        try:
            own_postgres.begin_smart_stop()
            await _until_refused(own_postgres)
            # The host's pooled connections go, as in a restart: each request has to connect anew.
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
            during = [
                await http.post("/chatkit", content=json.dumps({"type": kind, "params": params}))
                for kind, params in [
                    ("threads.list", {"limit": 5}),
                    ("items.list", {"thread_id": thread_id}),
                    ("threads.create", {"input": user_input("new")}),
                    ("threads.add_user_message", {"thread_id": thread_id, "input": user_input("again")}),
                ]
            ]
        finally:
            await admin.close()
        await asyncio.to_thread(own_postgres.wait_stopped)
        await asyncio.to_thread(own_postgres.resume)
        answers = [(r.status_code, _json(r), r.headers.get("retry-after")) for r in during]
        assert answers == [(503, OUTAGE, "2")] * 4, answers
        follow_up = await _retry_outage(lambda: http.post("/chatkit", content=json.dumps(
            {"type": "threads.list", "params": {"limit": 5}})))
        assert follow_up.status_code == 200


async def _until_refused(server: PostgresServer) -> None:
    """Until a new connection is refused with "the database system is shutting down"."""
    for _ in range(500):
        try:
            connection = await asyncpg.connect(server.dsn())
        except asyncpg.CannotConnectNowError:
            return
        await connection.close()
        await asyncio.sleep(0.01)
    raise AssertionError("PostgreSQL kept accepting connections after a smart shutdown began")


HOLD_PY = '''
import asyncio
from pathlib import Path

HERE = Path(__file__).parent


async def hold() -> str:
    """Holds the turn until the test lets go (adds a line to `holding`, waits for `release`)."""
    with (HERE / "holding").open("a") as marks:
        marks.write("held\\n")
    for _ in range(3000):
        if (HERE / "release").exists():
            return "released"
        await asyncio.sleep(0.01)
    return "gave up"
'''
HOLD_SCRIPT = {"replies": [
    {"when": ["slow"], "steps": [{"call": "hold", "arguments": {}}, {"say": "held: {{ tool_output }}"}]},
    {"steps": [{"say": "Echo {{ turn }}: {{ user_text }}"}]},
]}


NO_HOLD_PY = '''
async def hold() -> str:
    """Returns at once."""
    return "not held"
'''


def holding_project(root: Path, store_url: str, tools: str = HOLD_PY) -> Path:
    config = base_config()
    config["store"] = {"url": store_url}
    config["tools"] = {"hold": {"python": "./tools.py:hold"}}
    config["agents"]["triage"]["tools"] = ["hold"]
    return write_project(root, config, script=HOLD_SCRIPT, files={"tools.py": tools})


def test_a_postgres_restart_mid_stream_never_lets_two_turns_interleave_and_ends_streams_cleanly(
    tmp_path: Path, own_postgres: PostgresServer
) -> None:
    """Two replicas on one PostgreSQL; two slow turns stream on A when PostgreSQL restarts.

    The restart drops the connection that held each thread's lock. On thread X a second turn comes
    to B at once: it may run, but then the first turn must stop before it writes — the stored items
    never interleave (#18 F1). Thread Y is left alone: its turn finishes and is stored whole. Either
    way every HTTP response ends properly, with an `error` event or a normal end (F2), and neither
    replica logs a traceback or calls a finished stream cancelled (F4).
    """
    name = f"faults_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_database(own_postgres, name))
    holding_project(tmp_path / "a", own_postgres.url(name))
    # B's `hold` returns at once: the second turn on X (which the scripted model reads as going on
    # from the first, unanswered, "slow" message) does not wait.
    holding_project(tmp_path / "b", own_postgres.url(name), tools=NO_HOLD_PY)
    with serve_host(tmp_path / "a", timeout=STARTUP) as a, serve_host(tmp_path / "b", timeout=STARTUP) as b:
        x, y, second, busy_before = asyncio.run(_restart_under_two_turns(a, b, own_postgres, tmp_path / "a"))
        items_x = asyncio.run(_items(b, x.thread))
        items_y = asyncio.run(_items(b, y.thread))
    logs = {"a": a.log.read_text(), "b": b.log.read_text()}
    texts_x = [_text(item) for item in items_x]
    print(f"\nfaults injected: 1 PostgreSQL restart under 2 streaming turns; stored on X: {texts_x}")
    assert busy_before == 409
    assert second.assistant_text == "held: not held"
    # No item of the first turn after the second turn's message.
    after_second = texts_x[texts_x.index("after the restart"):]
    assert "held: released" not in after_second, texts_x
    assert x.complete and y.complete, (x, y)
    assert x.events[-1]["type"] == "error" or x.text == "held: released", x
    assert y.text == "held: released" and y.events[-1]["type"] != "error", y
    assert [_text(item) for item in items_y][-1] == "held: released"
    for replica, log in logs.items():
        assert "Traceback" not in log, (replica, log)
        assert "Exception in ASGI application" not in log, (replica, log)
    assert "outcome=cancelled" not in logs["a"], logs["a"]


class _Streamed:
    """One streamed turn read over a real socket: its events, and whether the response ended
    properly (a cut chunked body raises in httpx)."""

    def __init__(self, thread: str) -> None:
        self.thread = thread
        self.events: list[dict[str, Any]] = []
        self.complete = False

    @property
    def text(self) -> str:
        return "".join(_text(e["item"]) for e in self.events
                       if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message")

    def __repr__(self) -> str:
        return f"_Streamed(complete={self.complete}, events={[e['type'] for e in self.events]})"


async def _stream_turn(url: str, thread_id: str, text: str) -> _Streamed:
    streamed = _Streamed(thread_id)
    body = json.dumps({"type": "threads.add_user_message",
                       "params": {"thread_id": thread_id, "input": user_input(text)}})
    async with httpx.AsyncClient(timeout=60) as http:
        try:
            async with http.stream("POST", url, content=body) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        streamed.events.append(json.loads(line[6:]))
            streamed.complete = True
        except httpx.HTTPError:
            pass
    return streamed


async def _restart_under_two_turns(
    a: ServedHost, b: ServedHost, server: PostgresServer, root_a: Path
) -> tuple[_Streamed, _Streamed, Any, int]:
    async with ChatKitClient(a.url) as on_a, ChatKitClient(b.url) as on_b:
        x = (await on_a.create_thread("first")).thread_id
        y = (await on_a.create_thread("first")).thread_id
        turns = [asyncio.create_task(_stream_turn(a.url, thread, "slow please")) for thread in (x, y)]
        for _ in range(3000):
            if (root_a / "holding").exists() and len((root_a / "holding").read_text().split()) == 2:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the slow turns never started")
        try:
            await on_b.add_message(x, "too early")
        except ChatKitHTTPError as error:
            busy_before = error.status
        else:
            busy_before = 200
        await asyncio.to_thread(server.halt)
        await asyncio.to_thread(server.resume)
        second = None
        for _ in range(200):  # the first requests may still meet the server starting up (503)
            try:
                second = await on_b.add_message(x, "after the restart")
                break
            except ChatKitHTTPError as error:
                if error.status != 503:
                    raise
                await asyncio.sleep(0.05)
        (root_a / "release").write_text("go")
        streamed_x, streamed_y = await asyncio.gather(*turns)
    return streamed_x, streamed_y, second, busy_before


def _text(item: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for part in item.get("content", []) if isinstance(part, dict))
