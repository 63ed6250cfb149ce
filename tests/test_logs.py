"""One structured log line per request: type, user, thread, duration and outcome — and no secrets
or message text unless debug logging is on."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from chatkit_host.testing import ChatKitClient, run_host, serve_host, user_input
from loopback import JsonHandler, serving
from projects import base_config, write_project
from logcapture import captured_logs

pytestmark = pytest.mark.serial

TOKEN = "tok-7d1e0c2f-never-log-me"


def request_lines(log: str) -> list[dict[str, Any]]:
    lines = []
    for line in log.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("logger") == "chatkit_host.requests":
                lines.append(entry)
    return lines


async def test_serve_writes_one_json_line_per_request(tmp_path: Path) -> None:
    config = base_config()
    config["auth"] = {"mode": "bearer", "tokens": {"alice": TOKEN}}
    config["observability"] = {"logs": {"format": "json"}}
    write_project(tmp_path, config)
    with serve_host(tmp_path) as host:
        async with ChatKitClient(host.url, token=TOKEN) as client:
            turn = await client.create_thread("my secret recipe is lasagne")
            thread_id = turn.thread_id
            await client.list_items(thread_id or "")
        async with ChatKitClient(host.url, token="wrong") as stranger:
            with pytest.raises(Exception):
                await stranger.list_threads()
    log = host.log.read_text()

    lines = request_lines(log)
    assert [(e["type"], e["user"] if "user" in e else None, e["outcome"], e["status"])
            for e in lines] == [
        ("threads.create", "alice", "ok", 200),
        ("items.list", "alice", "ok", 200),
        ("-", None, "unauthorized", 401),
    ]
    assert lines[0]["thread"] == lines[1]["thread"] == thread_id
    assert all(isinstance(e["duration_ms"], float | int) and e["duration_ms"] >= 0 for e in lines)
    assert all(e["level"] == "info" and e["message"] == "request" for e in lines)
    # Neither the token nor what the user wrote reaches the log.
    assert TOKEN not in log
    assert "lasagne" not in log


async def test_debug_logging_adds_the_message_text(tmp_path: Path) -> None:
    config = base_config()
    config["observability"] = {"logs": {"level": "debug", "format": "text"}}
    path = write_project(tmp_path, config)
    with captured_logs() as records:
        async with run_host(path) as running:
            await running.client().create_thread("lasagne for two")
            # The line is written once the response has ended: a moment after the last event.
            for _ in range(1000):
                fields = [r.chatkit_fields for r in records  # type: ignore[attr-defined]
                          if r.name == "chatkit_host.requests"]
                if fields:
                    break
                await asyncio.sleep(0.01)
    assert fields and fields[0]["text"] == "lasagne for two"
    assert fields[0]["outcome"] == "ok" and fields[0]["type"] == "threads.create"




TEXT_LINE = re.compile(r"^\d\d:\d\d:\d\d (debug|info|warning|error|critical) [\w.]+: \S")
"""A line in the text format; a traceback's lines follow, indented."""


def unparsed_lines(log: str, format: str) -> list[str]:
    """The lines of ``log`` that are not whole records of ``format``."""
    if format == "json":
        def parses(line: str) -> bool:
            try:
                return isinstance(json.loads(line), dict)
            except ValueError:
                return False
    else:
        def parses(line: str) -> bool:
            return bool(TEXT_LINE.match(line))
    return [line for line in log.splitlines() if not parses(line)]


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))

FORGED = "\n12:00:00 error chatkit_host.requests: forged \x1b[2J\x1b[31mred\x1b[0m\r\u2028"


@pytest.mark.serial
def test_client_chosen_ids_and_jwt_subjects_cannot_forge_log_lines(tmp_path: Path) -> None:
    secret = "s3cret-" + "x" * 40
    config = base_config()
    config["auth"] = {"mode": "jwt", "jwt": {"algorithm": "HS256", "secret": secret}}
    write_project(tmp_path, config)
    token = jwt.encode({"sub": "mallory" + FORGED, "exp": int(time.time()) + 600}, secret,
                       algorithm="HS256")
    with serve_host(tmp_path) as host:
        response = httpx.post(host.url, headers={"Authorization": f"Bearer {token}"}, json={
            "type": "threads.get_by_id", "params": {"thread_id": "thr_1" + FORGED}})
        assert response.status_code == 404
    log = host.log.read_text()

    assert unparsed_lines(log, "text") == []
    assert "\x1b" not in log and "\u2028" not in log and "forged" in log
    (line,) = [line for line in log.splitlines() if "chatkit_host.requests" in line]
    assert r"\n12:00:00 error chatkit_host.requests: forged \u001b[2J\u001b[31mred" in line
    assert "user=" in line and "thread=" in line


@pytest.mark.serial
def test_outgoing_urls_of_http_tools_stay_out_of_the_log(tmp_path: Path) -> None:
    class Orders(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_json({"path": self.path, "status": "shipped"})

    with serving(Orders) as api:
        config = base_config()
        config["tools"]["order_api"] = {"http": {
            "url": api + "/orders/{order_id}?key=${ORDERS_KEY}", "parameters": {"order_id": "string"}}}
        config["agents"]["triage"]["tools"] = ["order_api"]
        script = {"replies": [{"steps": [
            {"call": "order_api", "arguments": {"order_id": "A-1"}},
            {"say": "Result: {{ tool_output }}"},
        ]}]}
        write_project(tmp_path, config, script)
        with serve_host(tmp_path, env={"ORDERS_KEY": "k-9f3e-never-log-me"}) as host:
            turn = asyncio.run(_create(host.url, "where is A-1?"))
    assert "k-9f3e-never-log-me" in turn.assistant_text  # the API saw the key
    assert "k-9f3e-never-log-me" not in host.log.read_text()


@pytest.mark.serial
def test_the_access_log_carries_preview_links_without_their_signature(tmp_path: Path) -> None:
    config = base_config()
    config["auth"] = {"mode": "bearer", "tokens": {"alice": TOKEN}}
    config["files"] = {"url": "file://stored", "secret": "a-secret-of-this-test"}
    write_project(tmp_path, config)
    with serve_host(tmp_path) as host:
        uploaded = httpx.post(f"{host.base}/files", headers={"Authorization": f"Bearer {TOKEN}"},
                              files={"file": ("cat.png", PNG, "image/png")})
        assert uploaded.status_code == 200, uploaded.text
        preview = uploaded.json()["preview_url"]
        assert httpx.get(preview).status_code == 200
    path, query = httpx.URL(preview).path, httpx.URL(preview).query.decode()
    signature = dict(pair.split("=", 1) for pair in query.split("&"))["s"]
    log = host.log.read_text()
    assert f'"GET {path} HTTP/1.1" 200' in log
    assert signature not in log


@pytest.mark.serial
@pytest.mark.parametrize("format", ["json", "text"])
def test_clients_leaving_mid_stream_log_no_error_in_one_format(tmp_path: Path, format: str) -> None:
    config = base_config()
    config["observability"] = {"logs": {"format": format}}
    script = {"replies": [{"steps": [{"say": " ".join(f"word{n}" for n in range(200))}]}],
              "delay_ms": 20}
    write_project(tmp_path, config, script)
    with serve_host(tmp_path) as host:
        asyncio.run(_leave_mid_stream(host.url, clients=8))
        # Each request's line is written when the server is done with it.
        deadline = time.monotonic() + 20
        while host.log.read_text().count("cancelled") < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        asyncio.run(_create(host.url, "and one that stays"))
    log = host.log.read_text()

    assert log.count("cancelled") == 8
    assert unparsed_lines(log, format) == []
    levels = ([json.loads(line)["level"] for line in log.splitlines()] if format == "json"
              else [TEXT_LINE.match(line).group(1) for line in log.splitlines()])  # type: ignore[union-attr]
    assert "error" not in levels and "critical" not in levels
    loggers = {"uvicorn.error", "uvicorn.access", "chatkit_host.requests", "chatkit_host.serve"}
    assert all(name in log for name in loggers)


async def _create(url: str, text: str) -> Any:
    async with ChatKitClient(url) as client:
        return await client.create_thread(text)


async def _leave_mid_stream(url: str, clients: int) -> None:
    async def leave() -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            body = {"type": "threads.create", "params": {"input": user_input("long reply please")}}
            async with http.stream("POST", url, json=body) as response:
                deltas = 0
                async for line in response.aiter_lines():
                    deltas += "text_delta" in line
                    if deltas == 3:
                        return  # leaving the block closes the connection mid-stream

    await asyncio.gather(*(leave() for _ in range(clients)))


BROKEN_TOOLS_PY = '''
def broken_lookup(order_id: str) -> str:
    """Always fails.

    Args:
        order_id: The order id.
    """
    raise RuntimeError("the order service is down")
'''


@pytest.mark.parametrize("level", ["info", "debug"])
async def test_a_python_tool_that_raises_is_one_warning_line_and_its_message_reaches_the_model(
        tmp_path: Path, level: str) -> None:
    config = base_config()
    config["tools"] = {"broken_lookup": {"python": "./tools.py:broken_lookup"}}
    config["agents"]["triage"]["tools"] = ["broken_lookup"]
    config["observability"] = {"logs": {"level": level}}
    script = {"replies": [{"steps": [
        {"call": "broken_lookup", "arguments": {"order_id": "A-1"}},
        {"say": "Sorry: {{ tool_output }}"},
    ]}]}
    path = write_project(tmp_path, config, script, files={"tools.py": BROKEN_TOOLS_PY})
    with captured_logs() as records:
        async with run_host(path) as running:
            turn = await running.client().create_thread("where is A-1?")

    assert turn.assistant_text == "Sorry: error: the order service is down"
    (record,) = [r for r in records if r.name == "chatkit_host.tools"]
    assert (record.levelname, record.getMessage()) == ("WARNING", "tool failed")
    assert record.chatkit_fields == {  # type: ignore[attr-defined]
        "tool": "broken_lookup", "error": "RuntimeError: the order service is down",
        "thread": turn.thread_id}
    assert (record.exc_info is not None) == (level == "debug")  # the traceback only at debug
