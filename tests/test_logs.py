"""One structured log line per request: type, user, thread, duration and outcome — and no secrets
or message text unless debug logging is on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from chatkit_host.web.app import create_app
from chatkit_host.config.loader import load_config
from chatkit_host.host import Host
from chatkit_host.runtime.build import build_runtime
from chatkit_host.testing import ChatKitClient
from processes import serve
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
    with serve(tmp_path) as host:
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
    host = Host(build_runtime(load_config(path, environ={})))
    with captured_logs() as records:
        async with AsyncTestClient(create_app(host)) as http:
            await ChatKitClient("/chatkit", client=http).create_thread("lasagne for two")
            # The line is written once the response has ended: a moment after the last event.
            for _ in range(1000):
                fields = [r.chatkit_fields for r in records  # type: ignore[attr-defined]
                          if r.name == "chatkit_host.requests"]
                if fields:
                    break
                await asyncio.sleep(0.01)
    assert fields and fields[0]["text"] == "lasagne for two"
    assert fields[0]["outcome"] == "ok" and fields[0]["type"] == "threads.create"


