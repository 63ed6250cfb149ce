"""Input no client should send gets a 4xx before the response starts, never a 500 (#18): odd
characters in signed links, page sizes past any integer column, NUL in ids, text and JWT claims."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import jwt
import httpx
import pytest

from chatkit_host.testing import ChatKitClient, run_host, user_input
from projects import base_config, write_project

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
SECRET = "a-jwt-secret-of-enough-length-" + "x" * 20


@asynccontextmanager
async def running(path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with run_host(path) as started:
        yield started.http


async def post(http: httpx.AsyncClient, type: str, params: dict[str, Any],
               headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One request; its status and body, read to the end (a stream too)."""
    body = json.dumps({"type": type, "params": params}).encode()
    response = await http.post("/chatkit", content=body, headers=headers or {})
    if response.headers["content-type"].startswith("application/json"):
        return response.status_code, response.json()
    return response.status_code, response.text


async def test_preview_links_with_non_ascii_expiry_or_signature_are_refused(tmp_path: Path) -> None:
    config = base_config()
    config["files"] = {"url": "file://stored", "secret": "a-secret-shared-by-every-replica"}
    async with running(write_project(tmp_path, config)) as http:
        uploaded = await http.post("/files", files={"file": ("cat.png", PNG, "image/png")})
        url = uploaded.json()["preview_url"]
        path, query = url.split("?", 1)
        params = dict(part.split("=", 1) for part in query.split("&"))
        assert (await http.get(url)).status_code == 200
        for bent in ({"e": "²"}, {"e": "١٢٣٤٥٦٧٨٩٠١٢"}, {"s": "é" * 64}, {"e": "9" * 5000}):
            response = await http.get(path, params={**params, **bent})
            assert response.status_code == 403, (bent, response.text)
            assert response.json()["error"]["code"] == "link_expired"


async def test_page_sizes_past_any_integer_are_refused(tmp_path: Path) -> None:
    async with running(write_project(tmp_path, base_config())) as http:
        thread = (await ChatKitClient("/chatkit", client=http).create_thread("hi")).thread_id
        for limit in (2**63, 2**64 + 5, 10**30, 0, -1):
            for type, params in (("threads.list", {}), ("items.list", {"thread_id": thread})):
                status, body = await post(http, type, {**params, "limit": limit})
                assert status == 400, (type, limit, body)
                assert body["error"]["code"] == "invalid_request"
        status, body = await post(http, "threads.list", {"limit": 1000})
        assert status == 200


def _postgres_project(root: Path, url: str, **auth: Any) -> Path:
    config = base_config()
    config["store"] = {"url": url}
    if auth:
        config["auth"] = auth
    return write_project(root, config)


async def test_nul_in_ids_and_text_is_refused_on_postgres(tmp_path: Path, postgres_db_url: str) -> None:
    async with running(_postgres_project(tmp_path, postgres_db_url)) as http:
        thread = (await ChatKitClient("/chatkit", client=http).create_thread("hi")).thread_id
        requests = [
            ("threads.get_by_id", {"thread_id": "thr_\x00"}),
            ("items.list", {"thread_id": thread + "\x00"}),
            ("threads.add_user_message", {"thread_id": thread + "\x00", "input": user_input("x")}),
            ("threads.add_user_message", {"thread_id": thread, "input": user_input("a\x00b")}),
            ("threads.create", {"input": user_input("x", ["atc_\x00"])}),
            ("threads.update", {"thread_id": thread, "title": "t\x00"}),
            ("threads.list", {"after": "thr_\x00"}),
        ]
        for type, params in requests:
            status, body = await post(http, type, params)
            assert status == 400, (type, params, body)
            assert body["error"] == {"code": "invalid_request",
                                     "message": "text may not contain NUL characters (\\u0000)"}
        status, body = await post(http, "items.list", {"thread_id": thread, "order": "asc"})
        assert status == 200 and len(body["data"]) == 2  # nothing was added
        assert [i["type"] for i in body["data"]] == ["user_message", "assistant_message"]


async def test_a_jwt_subject_with_nul_is_refused_on_postgres(tmp_path: Path, postgres_db_url: str) -> None:
    now = int(time.time())
    auth = {"mode": "jwt", "jwt": {"algorithm": "HS256", "secret": SECRET}}
    async with running(_postgres_project(tmp_path, postgres_db_url, **auth)) as http:
        for sub in ("alice\x00", "\x00"):
            token = jwt.encode({"sub": sub, "iat": now, "exp": now + 600}, SECRET, algorithm="HS256")
            headers = {"Authorization": f"Bearer {token}"}
            for type, params in (("threads.list", {}), ("threads.create", {"input": user_input("hi")})):
                status, _ = await post(http, type, params, headers)
                assert status == 401, (sub, type)
        token = jwt.encode({"sub": "alice", "iat": now, "exp": now + 600}, SECRET, algorithm="HS256")
        assert (await post(http, "threads.list", {}, {"Authorization": f"Bearer {token}"}))[0] == 200


@pytest.mark.parametrize("escape", ["\\u0000", "\\u0000\\u0000"])
async def test_an_escaped_backslash_before_u0000_is_plain_text(tmp_path: Path, escape: str) -> None:
    # `\\u0000` in JSON is a backslash and "u0000": text a user may type, not a NUL.
    async with running(write_project(tmp_path, base_config())) as http:
        turn = await ChatKitClient("/chatkit", client=http).create_thread(escape)
        assert turn.assistant_text == f"Echo 1: {escape}"


async def test_nul_in_a_file_route_is_not_a_500_on_postgres(tmp_path: Path, postgres_db_url: str) -> None:
    config = base_config()
    config["store"] = {"url": postgres_db_url}
    config["files"] = {"url": "file://stored", "secret": "a-secret-shared-by-every-replica"}
    async with running(write_project(tmp_path, config)) as http:
        for path in ("/files/atc_%00", "/files/atc_%00/preview?o=a&e=1&s=b"):
            response = await http.get(path)
            assert 400 <= response.status_code < 500, (path, response.text)
