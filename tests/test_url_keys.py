"""The key that signs file URLs when `files.secret` is not set: random, private, kept beside the
store, and refused where one process's key cannot serve the others (#18)."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from click.testing import CliRunner

from chatkit_host.cli import main
from chatkit_host.testing import run_host
from projects import base_config, write_project

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
AUTH = {"Authorization": "Bearer token-alice"}


def unsigned_project(tmp_path: Path, **files: Any) -> Path:
    config = base_config()  # store: sqlite:///data/chatkit.db
    config["auth"] = {"mode": "bearer", "tokens": "alice=token-alice"}
    config["files"] = {"url": "file://stored", **files}
    return write_project(tmp_path, config)


@asynccontextmanager
async def running(config_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with run_host(config_path) as started:
        yield started.http


def signed_with(key: bytes, purpose: str, url: str) -> str:
    """``url`` signed again with ``key``: what anyone who knows the key can make."""
    parts = urlsplit(url)
    ident = parts.path.split("/")[2]
    owner = parse_qs(parts.query)["o"][0]
    expires = int(time.time()) + 3600
    signature = hmac.new(key, f"{purpose}\x00{owner}\x00{ident}\x00{expires}".encode(),
                         hashlib.sha256).hexdigest()
    return f"{parts.path}?{urlencode({'o': owner, 'e': expires, 's': signature})}"


async def test_a_link_signed_with_a_key_made_from_public_values_is_refused(tmp_path: Path) -> None:
    config_path = unsigned_project(tmp_path)
    # What a key derived from the configuration's path and files.url would be: anyone can work it out.
    public_key = hashlib.sha256(f"chatkit-host:{config_path}:file://stored".encode()).digest()
    async with running(config_path) as http:
        uploaded = await http.post("/files", files={"file": ("a.png", PNG, "image/png")}, headers=AUTH)
        preview = uploaded.json()["preview_url"]
        assert (await http.get(preview)).content == PNG
        forged = await http.get(signed_with(public_key, "preview", preview))
        assert forged.status_code == 403
        assert forged.json()["error"]["code"] == "link_expired"


async def test_the_kept_key_is_private_and_outlives_a_restart(tmp_path: Path) -> None:
    config_path = unsigned_project(tmp_path)
    async with running(config_path) as http:
        uploaded = await http.post("/files", files={"file": ("a.png", PNG, "image/png")}, headers=AUTH)
        preview = uploaded.json()["preview_url"]
    kept = tmp_path / "data" / "files.secret"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert len(bytes.fromhex(kept.read_text().strip())) == 32
    async with running(config_path) as http:
        assert (await http.get(preview)).content == PNG  # signed before the restart
        # Nor does knowing the key file's location help: its bytes are the key, not its name.
        forged = await http.get(signed_with(hashlib.sha256(str(kept).encode()).digest(), "preview", preview))
        assert forged.status_code == 403


@pytest.mark.parametrize(("files", "store", "extra", "reason"), [
    ({}, "postgresql://chatkit@127.0.0.1:1/chatkit", (),
     "the store is PostgreSQL, which replicas share: each would sign with a key of its own"),
    ({"url": "s3://bucket/files"}, None, (),
     "files are kept at s3://, which other machines may serve: each would sign with a key of its own"),
    ({}, None, ("--workers", "2"), "serve runs 2 worker processes: every one must sign with the same key"),
])
def test_serve_refuses_what_one_processs_key_cannot_serve(
        tmp_path: Path, files: dict[str, Any], store: str | None, extra: tuple[str, ...], reason: str) -> None:
    config_path = unsigned_project(tmp_path, **files)
    if store:
        text = config_path.read_text().replace("sqlite:///data/chatkit.db", store)
        config_path.write_text(text)
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, ["serve", "--port", "1", *extra], catch_exceptions=False)
    finally:
        os.chdir(old)
    assert result.exit_code == 1, result.output
    line = next(n for n, text in enumerate(config_path.read_text().splitlines(), 1) if text.startswith("files:"))
    assert result.output.startswith(  # at `files:`, the nearest key written
        f"Error: chatkit.yaml:{line}:1: files.secret: not set, and {reason} (hint: set files.secret "
        "to a long random value, the same for every process, e.g. files.secret: ${CHATKIT_FILES_SECRET})")
    assert "serving" not in result.output
    assert not (tmp_path / "data" / "files.secret").exists()
