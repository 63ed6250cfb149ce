"""Two `chatkit-host serve` replicas on one PostgreSQL behave as one server.

A thread begun on one continues on the other — including a pending client-tool call and a pending
form answered through the other replica — one turn at a time across both, and no user reads
another's thread through either.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatkit_host.testing import ChatKitClient, ChatKitHTTPError, user_input
from processes import serve
from projects import write_project
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


def replica_project(root: Path, store_url: str) -> Path:
    config = ui_config()
    config["store"] = {"url": store_url}
    config["auth"] = {"mode": "bearer", "tokens": TOKENS}
    config["forms"] = {"ticket": TICKET}
    config["tools"]["switch_theme"] = {"client": {"parameters": {"theme": {"enum": ["light", "dark"]}}}}
    config["tools"]["hold"] = {"python": "./tools.py:hold", "progress": "Holding…"}
    config["agents"]["triage"]["tools"] = ["lookup_order", "show_order", "ask_ticket", "switch_theme", "hold"]
    return write_project(root, config, SCRIPT,
                         {"widgets/order_card.widget": ORDER_CARD, "tools.py": HOLD_TOOLS_PY})


def test_two_replicas_on_one_postgres_behave_as_one_server(tmp_path: Path, postgres_db_url: str) -> None:
    replica_project(tmp_path / "a", postgres_db_url)
    replica_project(tmp_path / "b", postgres_db_url)
    with serve(tmp_path / "a", timeout=90) as a, serve(tmp_path / "b", timeout=90) as b:
        assert a.port != b.port
        cross_user_reads = asyncio.run(_as_one_server(a.url, b.url, tmp_path / "a"))
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
