"""Bounds on what one request may make the host do (#18): repeated ids are merged, lists past
their bound are refused before anything is written, and a turn's converted attachments stay under
`converters.attachments.max_bytes_per_turn` — what does not fit reaches the model as a note."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatkit_host.context import RequestContext
from chatkit_host.host import Host
from chatkit_host.testing import ChatKitClient, ChatKitHTTPError, run_host, user_input
from projects import base_config, recorded_calls, write_project

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
TOKEN = "token-alice"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ALICE = RequestContext(user_id="alice")


def config(**files: Any) -> dict[str, Any]:
    config = base_config()
    config["auth"] = {"mode": "bearer", "tokens": f"alice={TOKEN}"}
    config["files"] = {"url": "file://stored", "secret": "a-secret-shared-by-every-replica", **files}
    return config


@asynccontextmanager
async def running(path: Path) -> AsyncIterator[tuple[Host, httpx.AsyncClient, ChatKitClient]]:
    async with run_host(path) as running:
        yield running.host, running.http, running.client(TOKEN)


async def upload(http: httpx.AsyncClient, name: str, data: bytes, mime: str) -> str:
    response = await http.post("/files", files={"file": (name, data, mime)}, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def count_calls(store: Any, method: str) -> list[str]:
    """The item ids ``store.method`` is called with from now on."""
    calls: list[str] = []
    original = getattr(store, method)

    async def counted(thread_id: str, item_id: str, context: RequestContext) -> Any:
        calls.append(item_id)
        return await original(thread_id, item_id, context)

    setattr(store, method, counted)
    return calls


def user_parts(call: dict[str, Any]) -> list[dict[str, Any]]:
    return [part for item in call["input"] if item.get("role") == "user"
            and isinstance(item.get("content"), list) for part in item["content"]]


async def test_one_attachment_named_thousands_of_times_is_loaded_saved_and_sent_once(
    tmp_path: Path,
) -> None:
    async with running(write_project(tmp_path, config())) as (host, http, alice):
        image = await upload(http, "cat.png", PNG, "image/png")
        turn = await alice.create_thread("look", [image] * 5000)
        await alice.add_message(turn.thread_id, "and again")
        [message] = [i for i in turn.items_done if i["type"] == "user_message"]
        assert [a["id"] for a in message["attachments"]] == [image]
    images = [p for call in recorded_calls(tmp_path) for p in user_parts(call) if p["type"] == "input_image"]
    assert len(images) == 2  # one per model call, not 5,000
    assert images[0]["image_url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()


async def test_a_message_over_max_per_message_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    async with running(write_project(tmp_path, config(max_per_message=2))) as (host, http, alice):
        ids = [await upload(http, f"n{i}.txt", f"note {i}".encode(), "text/plain") for i in range(3)]
        with pytest.raises(ChatKitHTTPError) as refused:
            await alice.create_thread("three", ids)
        assert refused.value.status == 400
        assert refused.value.body["error"] == {
            "code": "too_many_attachments",
            "message": "a message may carry at most 2 attachments (files.max_per_message); this one has 3",
        }
        assert (await alice.list_threads())["data"] == []
        thread = (await alice.create_thread("two", ids[:2])).thread_id
        with pytest.raises(ChatKitHTTPError) as again:
            await alice.add_message(thread, "three", ids)
        assert again.value.status == 400
        assert [i["type"] for i in (await alice.list_items(thread))["data"]] == ["user_message", "assistant_message"]
    assert len(recorded_calls(tmp_path)) == 1


async def test_converted_attachments_over_the_turn_budget_reach_the_model_as_a_note(tmp_path: Path) -> None:
    converters = {"attachments": {"max_bytes_per_turn": 600}}
    project = write_project(tmp_path, {**config(), "converters": converters})
    async with running(project) as (host, http, alice):
        old = await upload(http, "old.txt", b"o" * 400, "text/plain")
        new = await upload(http, "new.txt", b"n" * 400, "text/plain")
        thread = (await alice.create_thread("first", [old])).thread_id
        await alice.add_message(thread, "second", [new])
    first, second = recorded_calls(tmp_path)
    assert any("o" * 400 in p.get("text", "") for p in user_parts(first))
    texts = [p["text"] for p in user_parts(second) if p["type"] == "input_text"]
    assert any("n" * 400 in text for text in texts)  # the newest attachment fits
    assert not any("o" * 400 in text for text in texts)
    assert ("[The user attached old.txt (text/plain); left out: the conversation's attachments are "
            "over the size sent to the model.]") in texts


async def test_feedback_merges_repeated_ids_and_refuses_too_many(tmp_path: Path) -> None:
    async with running(write_project(tmp_path, config())) as (host, http, alice):
        turn = await alice.create_thread("hello")
        reply = next(i for i in turn.items_done if i["type"] == "assistant_message")
        params = {"thread_id": turn.thread_id, "kind": "positive"}
        lookups = count_calls(host.store, "load_item")
        await alice.call("items.feedback", {**params, "item_ids": [reply["id"]] * 20_000})
        assert lookups == [reply["id"]]  # one look-up, not 20,000
        assert await host.store.load_feedback(turn.thread_id, ALICE) == {reply["id"]: "positive"}
        with pytest.raises(ChatKitHTTPError) as refused:
            await alice.call("items.feedback", {**params, "kind": "negative",
                                                "item_ids": [reply["id"]] + [f"msg_{i}" for i in range(100)]})
        assert refused.value.status == 400
        assert refused.value.body["error"]["code"] == "too_many_items"
        assert await host.store.load_feedback(turn.thread_id, ALICE) == {reply["id"]: "positive"}


async def test_a_message_with_too_many_content_parts_is_refused(tmp_path: Path) -> None:
    async with running(write_project(tmp_path, config())) as (host, http, alice):
        message = user_input("x")
        message["content"] = [{"type": "input_tag", "id": f"e{i}", "text": f"e{i}", "data": {}}
                              for i in range(257)]
        with pytest.raises(ChatKitHTTPError) as refused:
            await alice.stream("threads.create", {"input": message})
        assert refused.value.status == 400 and refused.value.body["error"]["code"] == "too_many_parts"
        assert (await alice.list_threads())["data"] == []
