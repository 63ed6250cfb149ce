"""What each route shows a caller without credentials (#18): `/healthz` says only whether the host
is up, `/metrics` wants the endpoint's credentials, and there are no OpenAPI pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any


import httpx

from chatkit_host.host import Host
from chatkit_host.testing import run_host
from projects import base_config, write_project

ALICE = {"Authorization": "Bearer token-alice"}


@asynccontextmanager
async def running(tmp_path: Path, **auth: Any) -> AsyncIterator[tuple[Host, httpx.AsyncClient]]:
    config = base_config()
    config["auth"] = auth or {"mode": "bearer", "tokens": "alice=token-alice"}
    async with run_host(write_project(tmp_path, config)) as started:
        yield started.host, started.http


async def test_healthz_tells_strangers_only_whether_the_host_is_up(tmp_path: Path) -> None:
    async with running(tmp_path) as (host, http):
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            anonymous = await http.get("/healthz", headers=headers)
            assert anonymous.status_code == 200
            assert anonymous.json() == {"status": "ok"}
        details = (await http.get("/healthz", headers=ALICE)).json()
        assert details["status"] == "ok"
        assert details["config_version"] == host.runtime.version
        assert details["last_error"] is None and "pid" in details


async def test_with_auth_none_the_local_user_sees_the_details(tmp_path: Path) -> None:
    async with running(tmp_path, mode="none") as (host, http):
        assert (await http.get("/healthz")).json()["config_version"] == host.runtime.version


async def test_metrics_want_the_endpoints_credentials(tmp_path: Path) -> None:
    async with running(tmp_path) as (_, http):
        anonymous = await http.get("/metrics")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert anonymous.json() == {"error": {"code": "unauthorized",
                                              "message": "a valid bearer token is required"}}
        scraped = await http.get("/metrics", headers=ALICE)
        assert scraped.status_code == 200
        assert "chatkit_requests_total" in scraped.text


async def test_there_are_no_openapi_pages(tmp_path: Path) -> None:
    async with running(tmp_path) as (_, http):
        for path in ("/schema", "/schema/openapi.json", "/schema/swagger", "/schema/redoc"):
            assert (await http.get(path)).status_code == 404, path
            assert (await http.get(path, headers=ALICE)).status_code == 404, path
