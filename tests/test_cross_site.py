"""What a page of another site can make a visitor's browser send to a host with `auth: none`:
cross-site writes, bodies that are not JSON, and requests for a rebound host name (#18)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatkit_host.testing import ChatKitClient, run_host, serve_host
from projects import base_config, recorded_calls, write_project

pytestmark = pytest.mark.serial

CREATE = json.dumps({"type": "threads.create", "params": {
    "input": {"content": [{"type": "input_text", "text": "hi"}], "attachments": [],
              "inference_options": {}}}})
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))


@asynccontextmanager
async def running(config: dict[str, Any], tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with run_host(write_project(tmp_path, config)) as started:  # the Host header is testserver.local
        yield started.http


def open_config(**server: Any) -> dict[str, Any]:
    config = base_config()
    config["server"] = server
    config["files"] = {"url": "file://stored", "secret": "a-configured-secret"}
    return config


async def test_a_text_plain_post_is_refused_before_the_agent_runs(tmp_path: Path) -> None:
    async with running(open_config(), tmp_path) as http:
        response = await http.post("/chatkit", content=CREATE, headers={"Content-Type": "text/plain"})
        assert response.status_code == 415
        assert response.json() == {"error": {"code": "unsupported_media_type", "message":
                                             "send the request as JSON (Content-Type: application/json)"}}
        form = await http.post("/chatkit", data={"type": "threads.list"})
        assert form.status_code == 415
        assert (await ChatKitClient("/chatkit", client=http).list_threads())["data"] == []
    assert recorded_calls(tmp_path) == []


async def test_a_write_from_another_origin_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    async with running(open_config(), tmp_path) as http:
        client = ChatKitClient("/chatkit", client=http)
        thread_id = (await client.create_thread("keep me")).thread_id
        delete = json.dumps({"type": "threads.delete", "params": {"thread_id": thread_id}})
        for body, content_type in ((delete, "application/json"), (delete, "text/plain"), (CREATE, None)):
            headers = {"Origin": "http://evil.example"}
            if content_type:
                headers["Content-Type"] = content_type
            refused = await http.post("/chatkit", content=body, headers=headers)
            assert refused.status_code == 403
            assert refused.json() == {"error": {"code": "cross_origin", "message":
                                                "requests from http://evil.example are not allowed "
                                                "(add the origin to server.cors)"}}
        upload = await http.post("/files", files={"file": ("a.png", PNG, "image/png")},
                                 headers={"Origin": "http://evil.example"})
        assert upload.status_code == 403
        assert [t["id"] for t in (await client.list_threads())["data"]] == [thread_id]
        assert not (tmp_path / "stored").exists() or not any((tmp_path / "stored").rglob("atc_*"))


async def test_the_hosts_own_origin_and_those_in_server_cors_may_write(tmp_path: Path) -> None:
    async with running(open_config(cors=["http://localhost:5173"]), tmp_path) as http:
        for origin in ("http://testserver.local", "http://localhost:5173"):
            response = await http.post("/chatkit", content=json.dumps({"type": "threads.list", "params": {}}),
                                       headers={"Origin": origin, "Content-Type": "application/json"})
            assert response.status_code == 200, response.text
        other = await http.post("/chatkit", content=json.dumps({"type": "threads.list", "params": {}}),
                                headers={"Origin": "http://localhost:5174"})
        assert other.status_code == 403


def test_a_rebound_host_name_is_refused_on_a_loopback_bind(tmp_path: Path) -> None:
    project = write_project(tmp_path, open_config(cors=["https://chat.example.com"])).parent
    with serve_host(project) as served:
        rebound = httpx.post(served.url, content=CREATE, headers={
            "Content-Type": "application/json", "Host": f"evil.example:{served.port}"})
        assert rebound.status_code == 421
        assert rebound.json()["error"]["code"] == "wrong_host"
        page = httpx.get(f"{served.base}/healthz", headers={"Host": "evil.example"})
        assert page.status_code == 421
        for name in (f"localhost:{served.port}", f"127.0.0.1:{served.port}", "app.localhost",
                     f"[::1]:{served.port}", "chat.example.com"):
            assert httpx.get(f"{served.base}/healthz", headers={"Host": name}).status_code == 200, name
    assert recorded_calls(project) == []


def test_bearer_auth_accepts_any_host_name(tmp_path: Path) -> None:
    config = open_config()
    config["auth"] = {"mode": "bearer", "tokens": "alice=token-alice"}
    project = write_project(tmp_path, config).parent
    with serve_host(project) as served:
        response = httpx.post(served.url, content=json.dumps({"type": "threads.list", "params": {}}),
                              headers={"Host": "chat.example.com", "Authorization": "Bearer token-alice"})
        assert response.status_code == 200
