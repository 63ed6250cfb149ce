"""Uploads from clients that do not play by the rules (#18): ten uploads racing on one two-phase
link, bytes that break what was announced, a direct upload that is not multipart, an announcement
to a host without files, and whose the link is."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from chatkit_host.testing import ChatKitClient, ChatKitHTTPError, run_host, serve_host
from projects import base_config, write_project

pytestmark = pytest.mark.serial

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
HTML = b"<!doctype html><script>alert(document.cookie)</script>"
USER, TOKEN = "alice@example.com", "token-alice"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def project(tmp_path: Path, store_url: str | None = None, **files: Any) -> Path:
    config = base_config()
    config["auth"] = {"mode": "bearer", "tokens": {USER: TOKEN}}
    if store_url:
        config["store"] = {"url": store_url}
    if files:
        config["files"] = {"url": "file://stored", "secret": "a-secret-for-every-replica", **files}
    return write_project(tmp_path, config)


@asynccontextmanager
async def running(config_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, ChatKitClient]]:
    async with run_host(config_path) as started:
        yield started.http, started.client(TOKEN)


def stored(tmp_path: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted((tmp_path / "stored").rglob("atc_*"))]


def rows(tmp_path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "data" / "chatkit.db") as db:
        return sorted(db.execute("SELECT * FROM chatkit_attachments").fetchall())


async def announce(client: ChatKitClient, name: str, data: bytes, mime_type: str) -> dict[str, Any]:
    return await client.call("attachments.create", {"name": name, "size": len(data), "mime_type": mime_type})


async def raced(base: str, url: str, bodies: list[bytes]) -> list[tuple[int, bytes]]:
    """POST each body to ``url`` on its own connection, every one held back by its last byte until
    all have arrived, then finished together (so the handlers run at once); (status, body) each."""
    parts = urlsplit(url)
    target = f"{parts.path}?{parts.query}"
    port = int(base.rsplit(":", 1)[1])
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in bodies]
    for (_, writer), body in zip(connections, bodies):
        head = (f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: image/png\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        writer.write(head + body[:-1])
        await writer.drain()
    for (_, writer), body in zip(connections, bodies):
        writer.write(body[-1:])
    answers = []
    for reader, writer in connections:
        response = await reader.read()
        writer.close()
        status_line, _, rest = response.partition(b"\r\n")
        answers.append((int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]))
    return answers


async def test_a_two_phase_link_takes_one_upload_of_ten_racing(tmp_path: Path, store_url: str) -> None:
    with serve_host(project(tmp_path, store_url, upload="two_phase").parent) as served:
        async with httpx.AsyncClient(base_url=served.base, timeout=30) as http:
            client = ChatKitClient(served.url, token=TOKEN, client=http)
            announced = await announce(client, "cat.png", PNG, "image/png")
            bodies = [PNG + bytes([n]) * 100_000 for n in range(10)]
            answers = await raced(served.base, announced["upload_descriptor"]["url"], bodies)
            statuses = sorted(status for status, _ in answers)
            assert statuses == [200] + [409] * 9, answers
            assert {json.loads(body)["error"]["code"] for status, body in answers if status == 409} \
                == {"already_uploaded"}
            [winner] = [body for body, (status, _) in zip(bodies, answers) if status == 200]
            assert stored(tmp_path) == [winner]
            mine = await http.get(f"/files/{announced['id']}", headers=AUTH)
            assert mine.content == winner and mine.headers["content-type"] == "image/png"
            await client.create_thread("look", [announced["id"]])


async def test_bytes_that_are_not_the_announced_image_are_refused(tmp_path: Path) -> None:
    async with running(project(tmp_path, upload="two_phase")) as (http, client):
        announced = await announce(client, "cat.png", HTML, "image/png")
        before = rows(tmp_path)
        refused = await http.post(announced["upload_descriptor"]["url"], content=HTML,
                                  headers={"Content-Type": "image/png"})
        assert rows(tmp_path) == before
        assert refused.status_code == 415
        assert refused.json()["error"] == {"code": "type_mismatch", "message":
                                           "the file's content is text/plain, but it was announced as image/png"}
        with pytest.raises(ChatKitHTTPError) as waiting:
            await client.create_thread("look", [announced["id"]])
        assert waiting.value.body["error"]["code"] == "not_uploaded"
        assert stored(tmp_path) == []
        # The refusal changed nothing: the link still takes the bytes that were promised, once.
        fixed = await http.post(announced["upload_descriptor"]["url"], content=PNG,
                                headers={"Content-Type": "image/png"})
        again = await http.post(announced["upload_descriptor"]["url"], content=PNG,
                                headers={"Content-Type": "image/png"})
        assert (fixed.status_code, again.status_code) == (200, 409)
        assert (await client.create_thread("look", [announced["id"]])).errors == []
    assert stored(tmp_path) == [PNG]


async def test_an_announced_size_below_one_byte_is_refused(tmp_path: Path) -> None:
    async with running(project(tmp_path, upload="two_phase")) as (_, client):
        answers = {}
        for size in (-1, -(2**62), 0):
            with pytest.raises(ChatKitHTTPError) as refused:
                await client.call("attachments.create", {"name": "x.png", "size": size, "mime_type": "image/png"})
            answers[size] = (refused.value.status, refused.value.body["error"]["code"])
    # A negative size passed the size check and got an upload link (#18 attack pass).
    assert answers == {-1: (400, "invalid_size"), -(2**62): (400, "invalid_size"), 0: (400, "empty_file")}
    with sqlite3.connect(tmp_path / "data" / "chatkit.db") as db:
        assert db.execute("SELECT count(*) FROM chatkit_attachments").fetchone() == (0,)


async def test_a_direct_upload_must_be_multipart(tmp_path: Path) -> None:
    async with running(project(tmp_path, upload="direct")) as (http, _):
        raw = await http.post("/files", content=PNG, headers={**AUTH, "Content-Type": "image/png"})
        assert raw.status_code == 415
        assert raw.json()["error"] == {"code": "unsupported_media_type",
                                       "message": "send the file as multipart/form-data, field 'file'"}
    assert stored(tmp_path) == []


async def test_announcing_a_file_to_a_host_without_files_is_not_supported(tmp_path: Path) -> None:
    async with running(project(tmp_path)) as (_, client):
        with pytest.raises(ChatKitHTTPError) as refused:
            await announce(client, "cat.png", PNG, "image/png")
        assert refused.value.status == 501
        assert refused.value.body == {"error": {"code": "not_supported", "message":
                                                "this host takes no attachments (no `files` section in chatkit.yaml)"}}


async def test_an_upload_link_does_not_carry_the_user_id(tmp_path: Path) -> None:
    async with running(project(tmp_path, upload="two_phase")) as (http, client):
        announced = await announce(client, "cat.png", PNG, "image/png")
        url = announced["upload_descriptor"]["url"]
        assert "alice" not in unquote(url) and "example.com" not in unquote(url)
        uploaded = await http.post(url, files={"file": ("cat.png", PNG, "image/png")})
        assert uploaded.status_code == 200
        assert "alice" not in unquote(uploaded.json()["preview_url"])


async def test_announcing_a_file_to_a_host_taking_direct_uploads_is_not_supported(tmp_path: Path) -> None:
    async with running(project(tmp_path, upload="direct")) as (_, client):
        with pytest.raises(ChatKitHTTPError) as refused:
            await announce(client, "cat.png", PNG, "image/png")
        assert refused.value.status == 501
        assert refused.value.body["error"]["code"] == "not_supported"
        assert refused.value.body["error"]["message"].startswith("this host takes direct uploads")


async def test_dictation_on_a_host_without_transcription_is_not_supported(tmp_path: Path) -> None:
    async with running(project(tmp_path)) as (_, client):
        with pytest.raises(ChatKitHTTPError) as refused:
            await client.call("input.transcribe", {"audio_base64": "AAAA", "mime_type": "audio/webm"})
        assert refused.value.status == 501
        assert refused.value.body == {"error": {"code": "not_supported", "message":
                                                "dictation is off: add a `transcription` section to chatkit.yaml"}}
