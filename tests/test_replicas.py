"""Two `chatkit-host serve` replicas on one PostgreSQL and one S3-compatible store behave as one server.

A thread begun on one continues on the other — including a pending client-tool call and a pending
form answered through the other replica — one turn at a time across both; a file uploaded to one is
sent, previewed and deleted through the other; and no user reads another's thread or file through
either.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatkit_host.testing import ChatKitClient, ChatKitHTTPError, ServedHost, serve_host, user_input
from projects import recorded_calls, write_project
from s3server import s3_server, stored_keys
from test_files import PNG
from test_turns import HOLD_TOOLS_PY, holding, let_go
from ui_project import ORDER_CARD, TICKET, ui_config

pytestmark = pytest.mark.serial

TOKENS = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789"}
SCRIPT = {"replies": [
    {"when": ["theme"], "steps": [
        {"call": "switch_theme", "arguments": {"theme": "dark"}},
        {"say": "Done: {{ tool_output }}"},
    ]},
    {"when": ["ticket"], "steps": [{"call": "ask_ticket", "arguments": {}}, {"say": "Filed."}]},
    {"when": ["slow"], "steps": [{"call": "hold", "arguments": {}}, {"say": "held: {{ tool_output }}"}]},
    {"steps": [{"say": "Echo {{ turn }}: {{ user_text }}"}]},
]}


BUCKET = "chatkit-files"
FILES_SECRET = "one-secret-for-every-replica-0123456789"
"""Every replica signs preview and upload URLs with it, so a URL one signs is good on any other."""


def replica_project(root: Path, store_url: str, files: dict[str, Any]) -> Path:
    config = ui_config()
    config["store"] = {"url": store_url}
    config["files"] = files
    config["auth"] = {"mode": "bearer", "tokens": TOKENS}
    config["forms"] = {"ticket": TICKET}
    config["tools"]["switch_theme"] = {"client": {"parameters": {"theme": {"enum": ["light", "dark"]}}}}
    config["tools"]["hold"] = {"python": "./tools.py:hold", "progress": "Holding…"}
    config["agents"]["triage"]["tools"] = ["lookup_order", "show_order", "ask_ticket", "switch_theme", "hold"]
    return write_project(root, config, SCRIPT,
                         {"widgets/order_card.widget": ORDER_CARD, "tools.py": HOLD_TOOLS_PY})


def test_two_replicas_on_one_postgres_and_one_s3_behave_as_one_server(
    tmp_path: Path, postgres_db_url: str
) -> None:
    with s3_server(BUCKET) as s3:
        files = {"url": f"s3://{BUCKET}/{tmp_path.name}", "options": s3, "secret": FILES_SECRET}
        replica_project(tmp_path / "a", postgres_db_url, files)
        replica_project(tmp_path / "b", postgres_db_url, files)
        with serve_host(tmp_path / "a", timeout=90) as a, serve_host(tmp_path / "b", timeout=90) as b:
            assert a.port != b.port
            cross_user_reads = asyncio.run(_as_one_server(a.url, b.url, tmp_path / "a"))
            cross_user_reads += asyncio.run(_files_across_replicas(a, b, tmp_path / "b", files))
    print(f"\nreplicas: 2; cross-user reads that succeeded: {cross_user_reads}")
    assert cross_user_reads == 0


async def _as_one_server(url_a: str, url_b: str, root_a: Path) -> int:
    async with ChatKitClient(url_a, TOKENS["alice"]) as on_a, ChatKitClient(url_b, TOKENS["alice"]) as on_b:
        # A conversation that alternates replicas.
        thread_id = (await on_a.create_thread("hello")).thread_id
        assert (await on_b.add_message(thread_id, "again")).assistant_text == "Echo 2: again"
        assert [t["id"] for t in (await on_b.list_threads())["data"]] == [thread_id]

        # A client-tool call left pending on A is answered through B.
        first = await on_a.add_message(thread_id, "dark theme please")
        [call] = [i for i in first.items_done if i["type"] == "client_tool_call"]
        assert call["status"] == "pending"
        done = await on_b.stream("threads.add_client_tool_output",
                                 {"thread_id": thread_id, "result": {"applied": "dark"}})
        assert done.assistant_text == 'Done: {"applied": "dark"}'

        # A form left pending on B is answered through A.
        asked = await on_b.add_message(thread_id, "open a ticket")
        [form] = [i for i in asked.items_done if i["type"] == "structured_input"]
        assert form["status"] == "pending"
        answered = await on_a.stream("threads.add_structured_input", {
            "thread_id": thread_id, "item_id": form["id"], "input": {"status": "answered", "answers": {
                "priority": {"values": ["High"]}, "topics": {"values": ["Delivery"]}}}})
        assert answered.errors == [] and answered.assistant_text == "Filed."

        # One turn at a time across replicas: while A holds the thread, B answers 409.
        await _busy_across_replicas(url_a, on_b, thread_id, root_a)

        # Both replicas see the same thread, item for item.
        items_a = (await on_a.list_items(thread_id, limit=100))["data"]
        items_b = (await on_b.list_items(thread_id, limit=100))["data"]
        assert items_a == items_b
        assert [i["type"] for i in items_a if i["type"] in ("user_message", "assistant_message")] == [
            "user_message", "assistant_message"] * 2 + ["user_message", "assistant_message",
                                                        "user_message", "assistant_message",
                                                        "user_message", "assistant_message"]
        return await _cross_user_reads(url_a, url_b, thread_id, form["id"])


async def _busy_across_replicas(url_a: str, on_b: ChatKitClient, thread_id: str, root_a: Path) -> None:
    body = json.dumps({"type": "threads.add_user_message",
                       "params": {"thread_id": thread_id, "input": user_input("slow please")}})
    headers = {"Authorization": f"Bearer {TOKENS['alice']}"}
    async with httpx.AsyncClient(timeout=60) as http:
        async with http.stream("POST", url_a, content=body, headers=headers) as response:
            lines = response.aiter_lines()  # kept: a collected iterator closes the connection
            await holding(root_a)
            with pytest.raises(ChatKitHTTPError) as busy:
                await on_b.add_message(thread_id, "from replica b")
            assert busy.value.status == 409 and busy.value.body["error"]["code"] == "thread_busy"
            let_go(root_a)
            rest = [line async for line in lines]
    assert any('"held: released"' in line for line in rest)


async def _cross_user_reads(url_a: str, url_b: str, thread_id: str, item_id: str) -> int:
    """Bob asks both replicas for alice's thread every way the protocol allows."""
    succeeded = 0
    for url in (url_a, url_b):
        async with ChatKitClient(url, TOKENS["bob"]) as bob:
            attempts: list[tuple[str, dict[str, Any]]] = [
                ("threads.get_by_id", {"thread_id": thread_id}),
                ("items.list", {"thread_id": thread_id}),
                ("threads.update", {"thread_id": thread_id, "title": "mine now"}),
                ("threads.delete", {"thread_id": thread_id}),
                ("items.feedback", {"thread_id": thread_id, "item_ids": [item_id], "kind": "positive"}),
            ]
            for kind, params in attempts:
                try:
                    await bob.call(kind, params)
                    succeeded += 1
                except ChatKitHTTPError as error:
                    assert error.status == 404, (kind, error.body)
            try:
                await bob.add_message(thread_id, "let me in")
                succeeded += 1
            except ChatKitHTTPError as error:
                assert error.status == 404
            assert (await bob.list_threads())["data"] == []
    return succeeded


async def _files_across_replicas(a: ServedHost, b: ServedHost, root_b: Path, files: dict[str, Any]) -> int:
    """Uploaded to A; previewed, sent to the model, deleted through B. Returns bob's successes."""
    alice_auth = {"Authorization": f"Bearer {TOKENS['alice']}"}
    bob_auth = {"Authorization": f"Bearer {TOKENS['bob']}"}
    succeeded = 0
    async with httpx.AsyncClient(timeout=60) as http:
        uploaded = await http.post(f"{a.base}/files", files={"file": ("cat.png", PNG, "image/png")},
                                   headers=alice_auth)
        assert uploaded.status_code == 200, uploaded.text
        image = uploaded.json()
        [key] = stored_keys(files["options"], files["url"])
        assert key.endswith("/" + image["id"])  # the bytes are in the bucket, not on A's disk

        # A preview URL signed by A is good on B (the same files.secret), and so is the download.
        assert image["preview_url"].startswith(a.base + "/files/")
        on_b = b.base + image["preview_url"].removeprefix(a.base)
        preview = await http.get(on_b)
        assert preview.status_code == 200 and preview.content == PNG
        download = await http.get(f"{b.base}/files/{image['id']}", headers=alice_auth)
        assert download.status_code == 200 and download.content == PNG

        # Bob can fetch it from neither replica, nor attach it to his own message.
        for replica in (a, b):
            stolen = await http.get(f"{replica.base}/files/{image['id']}", headers=bob_auth)
            succeeded += stolen.status_code == 200
            assert stolen.status_code == 404, stolen.text
            async with ChatKitClient(replica.url, TOKENS["bob"]) as bob:
                try:
                    await bob.create_thread("mine now", [image["id"]])
                    succeeded += 1
                except ChatKitHTTPError as error:
                    assert error.status == 404, error.body

        # Sent on B: the model B calls gets the image A stored.
        async with ChatKitClient(b.url, TOKENS["alice"]) as alice_on_b:
            turn = await alice_on_b.create_thread("look at this", [image["id"]])
            assert turn.assistant_text.startswith("Echo 1: look at this")
            last_input = recorded_calls(root_b)[-1]["input"]
            parts = [part for item in last_input if item.get("role") == "user"
                     and isinstance(item.get("content"), list) for part in item["content"]]
            assert {"type": "input_image", "detail": "auto",
                    "image_url": "data:image/png;base64," + base64.b64encode(PNG).decode()} in parts

            # Deleting the thread on B deletes the bytes from the bucket; A no longer serves them.
            await alice_on_b.delete_thread(turn.thread_id)
        assert stored_keys(files["options"], files["url"]) == []
        assert (await http.get(f"{a.base}/files/{image['id']}", headers=alice_auth)).status_code == 404
        assert (await http.get(image["preview_url"])).status_code == 404
    return succeeded


DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def test_the_sample_deployment_files_are_well_formed() -> None:
    """The compose stack cannot be started here (no Docker engine): its YAML and its chatkit.yaml are
    checked instead."""
    import yaml

    from chatkit_host.config.loader import load_config

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "minio", "buckets", "chatkit", "proxy"} <= set(services)
    assert services["chatkit"]["deploy"]["replicas"] >= 2
    mounted = [volume.split(":")[0] for volume in services["chatkit"]["volumes"]]
    assert all((DEPLOY / path).exists() for path in mounted)
    assert (DEPLOY / services["proxy"]["volumes"][0].split(":")[0]).exists()

    environ = {"JWKS_URL": "https://login.example.test/jwks.json", "JWT_ISSUER": "https://login.example.test/",
               "JWT_AUDIENCE": "chat", "DATABASE_URL": "postgresql://chatkit:pw@postgres:5432/chatkit",
               "S3_ENDPOINT": "http://minio:9000", "S3_KEY": "k", "S3_SECRET": "s",
               "CHATKIT_FILES_SECRET": "0123456789abcdef0123", "OPENAI_API_KEY": "sk-test"}
    config = load_config(DEPLOY / "chatkit.yaml", environ=environ).config
    assert config.auth.mode == "jwt" and config.store.url.startswith("postgresql://")
    assert config.files is not None and config.files.url.startswith("s3://")
