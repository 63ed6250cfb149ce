"""A hot reload never weakens who may call (#18): an edit that changes `auth`, `server.cors`,
`server.host`, `server.public_without_auth` or `files.secret` is refused as a whole, with the real
reloader of `serve --reload`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chatkit_host.testing import ChatKitClient, ServedHost, serve_host
from projects import base_config, write_project

pytestmark = pytest.mark.serial

ALICE = {"Authorization": "Bearer token-alice"}


def save(path: Path, config: dict[str, Any]) -> None:
    """Save as editors do: a hidden temporary file renamed over the old one."""
    temporary = path.with_name(f".{path.name}.saving")
    temporary.write_text(yaml.safe_dump(config, sort_keys=False))
    os.replace(temporary, path)


async def wait_health(http: httpx.AsyncClient, host: ServedHost, ready: Callable[[dict[str, Any]], bool],
                      what: str) -> dict[str, Any]:
    for _ in range(800):  # bounded: about 20 s on a busy machine
        body = (await http.get(f"{host.base}/healthz", headers=ALICE)).json()
        if ready(body):
            return body
        await asyncio.sleep(0.025)
    raise AssertionError(f"/healthz never showed {what}; last: {body}\n{host.log.read_text()}")


def bearer_config() -> dict[str, Any]:
    config = base_config()
    config["auth"] = {"mode": "bearer", "tokens": "alice=token-alice"}
    return config


def test_a_reload_to_auth_none_is_refused_and_bearer_stays(tmp_path: Path) -> None:
    write_project(tmp_path, bearer_config())
    with serve_host(tmp_path, "--reload") as host:
        asyncio.run(_weaken(host, tmp_path))


async def _weaken(host: ServedHost, root: Path) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        before = await wait_health(http, host, lambda b: "config_version" in b, "the details")
        opened = bearer_config()
        opened["auth"] = {"mode": "none"}
        opened["server"] = {"cors": ["https://evil.example"]}
        opened["vars"] = {"company": "Open"}
        save(root / "chatkit.yaml", opened)
        body = await wait_health(http, host, lambda b: b["last_error"] is not None, "the refusal")
        lines = body["last_error"].splitlines()
        assert [line.split(": ", 1)[1] for line in lines] == [
            "auth: changed: auth is not changed by a reload; restart the host to apply it "
            "(hint: until then the settings it started with stay in force)",
            "server.cors: changed: server.cors is not changed by a reload; restart the host to apply it "
            "(hint: until then the settings it started with stay in force)",
        ]
        assert all(line.startswith("chatkit.yaml:") for line in lines)
        assert body["status"] == "degraded" and body["config_version"] == before["config_version"]
        assert (await http.get(f"{host.base}/healthz")).json() == {"status": "degraded"}
        assert "the configuration is not reloaded (2 problem(s))" in host.log.read_text()

        anonymous = await http.post(host.url, json={"type": "threads.list", "params": {}})
        assert anonymous.status_code == 401
        turn = await ChatKitClient(host.url, token="token-alice", client=http).create_thread("hi")
        assert turn.assistant_text  # served by the configuration it started with

        save(root / "chatkit.yaml", {**bearer_config(), "vars": {"company": "Later"}})
        body = await wait_health(http, host, lambda b: b["last_error"] is None, "the refusal cleared")
        assert body["config_version"] != before["config_version"]  # other edits reload again
