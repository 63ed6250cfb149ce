"""Attachments over HTTP: uploads (direct and two-phase), limits, ownership, previews, model input.

Every scenario runs on `file://` storage and on `s3://` against a local S3-compatible server
(moto's server mode) the suite starts on loopback.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import httpx
import pytest

from chatkit_host.testing import ChatKitClient, ChatKitHTTPError, run_host
from projects import base_config, recorded_calls, write_project
from s3server import s3_server

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TEXT = "Quarterly numbers: revenue 42, costs 17.\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200)

ALICE, BOB = "token-alice", "token-bob"
AUTH = {"Authorization": f"Bearer {ALICE}"}
BOB_AUTH = {"Authorization": f"Bearer {BOB}"}


@pytest.fixture(scope="module")
def s3_options() -> Iterator[dict[str, Any]]:
    """A local S3-compatible server (moto) on loopback, with one bucket; fsspec options for it."""
    with s3_server("attachments") as options:
        yield options


@pytest.fixture(params=["file", "s3"])
def files_section(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "file":
        return {"url": "file://stored"}
    options = request.getfixturevalue("s3_options")
    return {"url": f"s3://attachments/{tmp_path.name}", "options": options}


def stored_files(project: Path, files: dict[str, Any]) -> list[str]:
    """Every file in the attachment storage, looked at directly (not through the host)."""
    if files["url"].startswith("file://"):
        root = project / files["url"].removeprefix("file://")
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    fs = fsspec.filesystem("s3", skip_instance_cache=True, use_listings_cache=False, **files["options"])
    return sorted(fs.find(files["url"].removeprefix("s3://")))


def project_config(files: dict[str, Any], **extra: Any) -> dict[str, Any]:
    config = base_config()
    config["auth"] = {"mode": "bearer", "tokens": f"alice={ALICE},bob={BOB}"}
    config["files"] = {**files, "secret": "a-secret-shared-by-every-replica", **extra}
    return config


async def upload(http: httpx.AsyncClient, name: str, data: bytes, mime: str,
                 headers: dict[str, str] = AUTH) -> Any:
    return await http.post("/files", files={"file": (name, data, mime)}, headers=headers)


def model_parts(root: Path) -> list[dict[str, Any]]:
    """Content parts of the user messages in the latest model call."""
    last = recorded_calls(root)[-1]["input"]
    return [part for item in last if item.get("role") == "user" and isinstance(item.get("content"), list)
            for part in item["content"]]


async def test_a_direct_upload_reaches_the_model_as_configured(tmp_path: Path, files_section: dict) -> None:
    async with run_host(write_project(tmp_path, project_config(files_section))) as running:
        http = running.http
        image = (await upload(http, "cat.png", PNG, "image/png")).json()
        pdf = (await upload(http, "report.pdf", PDF, "application/pdf")).json()
        text = (await upload(http, "notes.md", TEXT.encode(), "text/markdown")).json()
        assert [image["type"], image["mime_type"], pdf["type"], text["mime_type"]] == [
            "image", "image/png", "file", "text/markdown"]
        preview = await http.get(image["preview_url"])  # no auth header: the URL is signed
        assert preview.status_code == 200 and preview.content == PNG

        client = ChatKitClient("/chatkit", token=ALICE, client=http)
        turn = await client.create_thread("look", [image["id"], pdf["id"], text["id"]])
        assert turn.assistant_text.startswith("Echo 1: look")

    parts = model_parts(tmp_path)
    assert {"type": "input_image", "detail": "auto",
            "image_url": "data:image/png;base64," + base64.b64encode(PNG).decode()} in parts
    assert {"type": "input_file", "filename": "report.pdf",
            "file_data": "data:application/pdf;base64," + base64.b64encode(PDF).decode()} in parts
    assert {"type": "input_text",
            "text": f'<file name="notes.md" type="text/markdown">\n{TEXT}\n</file>'} in parts
    assert len(stored_files(tmp_path, files_section)) == 3


async def test_a_two_phase_upload_reaches_the_model(tmp_path: Path, files_section: dict) -> None:
    config = project_config(files_section, upload="two_phase")
    config["converters"] = {"attachments": {"images": "url"}}
    async with run_host(write_project(tmp_path, config)) as running:
        http = running.http
        client = ChatKitClient("/chatkit", token=ALICE, client=http)
        created = await client.call("attachments.create",
                                    {"name": "cat.png", "size": len(PNG), "mime_type": "image/png"})
        descriptor = created["upload_descriptor"]
        assert descriptor["method"] == "POST" and "/files/" in descriptor["url"]
        with pytest.raises(ChatKitHTTPError) as early:  # not uploaded yet: cannot be sent
            await client.create_thread("too soon", [created["id"]])
        assert early.value.status == 409

        uploaded = await http.post(descriptor["url"], files={"file": ("cat.png", PNG, "image/png")})
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.json()["upload_descriptor"] is None
        again = await http.post(descriptor["url"], files={"file": ("cat.png", PNG, "image/png")})
        assert again.status_code == 409

        await client.create_thread("look", [created["id"]])
    [image] = [p for p in model_parts(tmp_path) if p["type"] == "input_image"]
    assert "/files/" + created["id"] + "/preview?" in image["image_url"]  # by URL, as configured
    assert len(stored_files(tmp_path, files_section)) == 1


@pytest.mark.parametrize(("max_bytes", "limit", "shown"), [
    ("1MB", 1_000_000, "1MB (1,000,000 bytes)"),
    ("1 MiB", 1_048_576, "1 MiB (1,048,576 bytes)"),
    ("64kb", 64_000, "64kb (64,000 bytes)"),
])
async def test_sizes_mean_their_units_and_are_quoted_as_written(
    tmp_path: Path, max_bytes: str, limit: int, shown: str
) -> None:
    # KB/MB are powers of 1000, KiB/MiB of 1024; a refusal quotes the limit as configured (#18).
    config = project_config({"url": "file://stored"}, max_bytes=max_bytes)
    async with run_host(write_project(tmp_path, config)) as running:
        http = running.http
        text = "text/plain"
        assert (await upload(http, "fits.txt", b"a" * limit, text)).status_code == 200
        over = await upload(http, "over.txt", b"a" * (limit + 1), text)
        assert over.status_code == 413
        assert over.json()["error"]["message"] == (
            f"the file is {limit + 1:,} bytes; the largest accepted is {shown}")


async def test_too_large_and_disguised_executables_are_refused_and_leave_nothing(
    tmp_path: Path, files_section: dict
) -> None:
    config = project_config(files_section, max_bytes=1024)
    async with run_host(write_project(tmp_path, config)) as running:
        http = running.http
        big = await upload(http, "big.png", PNG + bytes(2000), "image/png")
        assert big.status_code == 413
        assert big.json()["error"]["code"] == "too_large"
        assert big.json()["error"]["message"] == (
            "the file is 2,080 bytes; the largest accepted is 1024 bytes")
        # Past the route's body limit (max_bytes plus multipart room) Litestar itself refuses it.
        huge = await upload(http, "huge.png", PNG + bytes(100 * 1024), "image/png")
        assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"

        disguised = await upload(http, "cat.png", EXE, "image/png")
        assert disguised.status_code == 415
        assert disguised.json()["error"] == {
            "code": "executable_refused",
            "message": "the file is a Windows executable, whatever its name or declared type says",
        }
        zipped = await upload(http, "cat.png", b"PK\x03\x04" + bytes(50), "image/png")
        assert zipped.status_code == 415
        assert "content is application/zip (declared as image/png)" in zipped.json()["error"]["message"]
    assert stored_files(tmp_path, files_section) == []


async def test_two_phase_refusals_leave_nothing(tmp_path: Path, files_section: dict) -> None:
    config = project_config(files_section, upload="two_phase", max_bytes=1024)
    async with run_host(write_project(tmp_path, config)) as running:
        http = running.http
        client = ChatKitClient("/chatkit", token=ALICE, client=http)
        with pytest.raises(ChatKitHTTPError) as announced_big:
            await client.call("attachments.create", {"name": "a.png", "size": 5000, "mime_type": "image/png"})
        assert announced_big.value.status == 413
        created = await client.call("attachments.create",
                                    {"name": "a.png", "size": 100, "mime_type": "image/png"})
        refused = await http.post(created["upload_descriptor"]["url"], files={"file": ("a.png", EXE, "image/png")})
        assert refused.status_code == 415
        with pytest.raises(ChatKitHTTPError) as waiting:  # the announcement still waits for its bytes
            await client.create_thread("hi", [created["id"]])
        assert (waiting.value.status, waiting.value.body["error"]["code"]) == (409, "not_uploaded")
    assert stored_files(tmp_path, files_section) == []


async def test_only_the_owner_can_fetch_delete_or_attach(tmp_path: Path, files_section: dict) -> None:
    async with run_host(write_project(tmp_path, project_config(files_section))) as running:
        http = running.http
        image = (await upload(http, "cat.png", PNG, "image/png")).json()
        bob = ChatKitClient("/chatkit", token=BOB, client=http)
        assert (await http.get(f"/files/{image['id']}", headers=BOB_AUTH)).status_code == 404
        with pytest.raises(ChatKitHTTPError) as attach:
            await bob.create_thread("mine now", [image["id"]])
        assert attach.value.status == 404
        with pytest.raises(ChatKitHTTPError) as delete:
            await bob.call("attachments.delete", {"attachment_id": image["id"]})
        assert delete.value.status == 404

        mine = await http.get(f"/files/{image['id']}", headers=AUTH)
        assert mine.status_code == 200 and mine.content == PNG
        assert (await http.get(f"/files/{image['id']}")).status_code == 401
        assert len(stored_files(tmp_path, files_section)) == 1  # bob changed nothing


async def test_attachments_delete_removes_bytes_and_metadata(tmp_path: Path, files_section: dict) -> None:
    async with run_host(write_project(tmp_path, project_config(files_section))) as running:
        http = running.http
        image = (await upload(http, "cat.png", PNG, "image/png")).json()
        alice = ChatKitClient("/chatkit", token=ALICE, client=http)
        await alice.call("attachments.delete", {"attachment_id": image["id"]})
        assert (await http.get(f"/files/{image['id']}", headers=AUTH)).status_code == 404
        assert (await http.get(image["preview_url"])).status_code == 404
        with pytest.raises(ChatKitHTTPError) as attach:
            await alice.create_thread("hi", [image["id"]])
        assert attach.value.status == 404
    assert stored_files(tmp_path, files_section) == []


async def test_deleting_a_thread_deletes_its_attachments_bytes(tmp_path: Path, files_section: dict) -> None:
    async with run_host(write_project(tmp_path, project_config(files_section))) as running:
        http = running.http
        kept = (await upload(http, "kept.png", PNG, "image/png")).json()
        sent = (await upload(http, "sent.png", PNG, "image/png")).json()
        alice = ChatKitClient("/chatkit", token=ALICE, client=http)
        thread = (await alice.create_thread("look", [sent["id"]])).thread_id
        assert len(stored_files(tmp_path, files_section)) == 2
        await alice.delete_thread(thread)
        assert [path.rsplit("/", 1)[-1] for path in stored_files(tmp_path, files_section)] == [kept["id"]]


async def test_preview_urls_expire_and_are_signed_anew_on_read(
    tmp_path: Path, files_section: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chatkit_host.storage.files as signing

    config = project_config(files_section, preview_ttl="10m")
    async with run_host(write_project(tmp_path, config)) as running:
        http = running.http
        image = (await upload(http, "cat.png", PNG, "image/png")).json()
        alice = ChatKitClient("/chatkit", token=ALICE, client=http)
        thread = (await alice.create_thread("look", [image["id"]])).thread_id

        real_time = signing.time.time
        monkeypatch.setattr(signing.time, "time", lambda: real_time() + 11 * 60)
        expired = await http.get(image["preview_url"])
        assert expired.status_code == 403
        assert expired.json()["error"]["code"] == "link_expired"

        items = await alice.list_items(thread)
        fresh = items["data"][0]["attachments"][0]["preview_url"]
        assert fresh != image["preview_url"]
        assert (await http.get(fresh)).content == PNG
        full = await alice.get_thread(thread)
        assert (await http.get(full["items"]["data"][0]["attachments"][0]["preview_url"])).status_code == 200


async def test_signed_urls_cannot_be_bent_to_other_files(tmp_path: Path, files_section: dict) -> None:
    async with run_host(write_project(tmp_path, project_config(files_section))) as running:
        http = running.http
        first = (await upload(http, "a.png", PNG, "image/png")).json()
        second = (await upload(http, "b.png", PNG + b"x", "image/png")).json()
        swapped = first["preview_url"].replace(first["id"], second["id"])
        assert (await http.get(swapped)).status_code == 403
        traversal = first["preview_url"].replace(first["id"], "..%2F..%2Fchatkit.yaml")
        assert (await http.get(traversal)).status_code in (403, 404)
        evil = await upload(http, "../../chatkit.yaml", TEXT.encode(), "text/plain")
        assert evil.status_code == 200 and evil.json()["name"] == "../../chatkit.yaml"
    assert len(stored_files(tmp_path, files_section)) == 3
    assert (tmp_path / "chatkit.yaml").read_text().startswith("version")


async def test_converted_attachments_are_cached_by_id(tmp_path: Path, files_section: dict) -> None:
    async with run_host(write_project(tmp_path, project_config(files_section))) as running:
        http = running.http
        pdf = (await upload(http, "r.pdf", PDF, "application/pdf")).json()
        alice = ChatKitClient("/chatkit", token=ALICE, client=http)
        thread = (await alice.create_thread("read", [pdf["id"]])).thread_id
        # Take the bytes away behind the host's back: the next turn still sends the converted
        # PDF, so it was not read again.
        _remove_all(tmp_path, files_section)
        await alice.add_message(thread, "again")
    parts = [p for p in model_parts(tmp_path) if p["type"] == "input_file"]
    assert parts and parts[0]["file_data"].endswith(base64.b64encode(PDF).decode())


def _remove_all(project: Path, files: dict[str, Any]) -> None:
    if files["url"].startswith("file://"):
        for path in (project / files["url"].removeprefix("file://")).rglob("*"):
            if path.is_file():
                path.unlink()
        return
    fs = fsspec.filesystem("s3", skip_instance_cache=True, **files["options"])
    for path in fs.find(files["url"].removeprefix("s3://")):
        fs.rm_file(path)


async def test_generated_images_go_to_file_storage_not_the_database(tmp_path: Path) -> None:
    from chatkit_host.context import RequestContext
    from chatkit_host.runtime.hosted_tools import image_converter

    files = {"url": "file://stored"}
    config = project_config(files)
    config["tools"]["draw"] = {"hosted": {"type": "image_generation", "partial_images": 2}}
    config["agents"]["triage"]["tools"] = ["draw"]
    async with run_host(write_project(tmp_path, config)) as running:
        http, host = running.http, running.host
        context = RequestContext(user_id="alice", base_url="http://testserver.local")
        converter = image_converter(host.attachments, host.runtime, host.runtime.entry, context)
        partial = await converter.base64_image_to_url("ig_1", base64.b64encode(PNG[:20]).decode(), 0)
        final = await converter.base64_image_to_url("ig_1", base64.b64encode(PNG).decode())
        assert converter.partial_image_index_to_progress(1) == 0.5
        assert not final.startswith("data:") and "/files/img_" in final and partial != final
        assert (await http.get(final)).content == PNG  # one file, the final image replaced the partial
    assert len(stored_files(tmp_path, files)) == 1


async def test_mention_tags_render_through_their_entity_template(tmp_path: Path) -> None:
    config = base_config()
    config["converters"] = {"tags": {
        "article": "<ARTICLE id='{{ tag.id }}'>{{ tag.data.body }}</ARTICLE>",
        "default": "{{ tag.text }} is entity {{ tag.id }}",
    }}
    content = [
        {"type": "input_text", "text": "compare "},
        {"type": "input_tag", "id": "art_1", "text": "Pricing", "data": {"type": "article", "body": "Costs 5."}},
        {"type": "input_tag", "id": "u_9", "text": "Ann", "data": {"type": "person"}},
    ]
    async with run_host(write_project(tmp_path, config)) as running:
        await running.client().stream("threads.create", {
            "input": {"content": content, "attachments": [], "inference_options": {}}})
    texts = [part["text"] for part in model_parts(tmp_path) if part["type"] == "input_text"]
    assert "<ARTICLE id='art_1'>Costs 5.</ARTICLE>" in texts
    assert "Ann is entity u_9" in texts


async def test_links_a_user_types_are_never_rewritten_on_read(tmp_path: Path) -> None:
    files = {"url": "file://stored"}
    async with run_host(write_project(tmp_path, project_config(files))) as running:
        http = running.http
        image = (await upload(http, "cat.png", PNG, "image/png")).json()
        typed = (f"compare {image['preview_url'].split('?')[0]}?o=someone&e=1&s=forged with "
                 "http://testserver.local/files/atc_x/preview?e=2")
        alice = ChatKitClient("/chatkit", token=ALICE, client=http)
        thread = (await alice.create_thread(typed, [image["id"]])).thread_id
        items = (await alice.list_items(thread))["data"]
        full = (await alice.get_thread(thread))["items"]["data"]
    for read in (items, full):
        message = read[0]
        assert message["content"][0]["text"] == typed  # as typed: no fresh signature slipped in
        assert message["attachments"][0]["preview_url"].startswith(image["preview_url"].split("?")[0])
