"""The ChatKit protocol over HTTP, against the app built from a chatkit.yaml (in-process ASGI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from chatkit.types import LockedStatus

from chatkit_host.context import RequestContext
from chatkit_host.testing import ChatKitClient, ChatKitHTTPError, run_host
from projects import base_config, recorded_calls, write_project


def chatkit(client: httpx.AsyncClient, token: str | None = None) -> ChatKitClient:
    return ChatKitClient("/chatkit", token=token, client=client)


async def test_a_conversation_from_create_to_delete(tmp_path: Path, store_url: str) -> None:
    config = base_config()
    config["store"] = {"url": store_url}
    config["stream"] = {"coalesce_ms": 0}  # one event per word, to see the streaming itself
    async with run_host(write_project(tmp_path, config)) as running:
        http = running.http
        client = chatkit(http)
        first = await client.create_thread("hello there")
        thread_id = first.thread_id
        assert thread_id and thread_id.startswith("thr_")
        assert first.assistant_text == "Echo 1: hello there"
        deltas = [e for e in first.events if e["type"] == "thread.item.updated"
                  and e["update"]["type"] == "assistant_message.content_part.text_delta"]
        assert "".join(d["update"]["delta"] for d in deltas) == "Echo 1: hello there"
        assert len(deltas) > 3  # streamed word by word, not in one piece

        second = await client.add_message(thread_id, "and again")
        assert second.assistant_text == "Echo 2: and again"

        threads = await client.list_threads()
        assert [t["id"] for t in threads["data"]] == [thread_id]
        assert threads["data"][0]["title"] == "hello there"  # titled from the first message

        items = await client.list_items(thread_id)
        kinds = [(i["type"], _text(i)) for i in items["data"]]
        assert kinds == [
            ("user_message", "hello there"), ("assistant_message", "Echo 1: hello there"),
            ("user_message", "and again"), ("assistant_message", "Echo 2: and again"),
        ]

        renamed = await client.rename_thread(thread_id, "Renamed")
        assert renamed["title"] == "Renamed"
        assert (await client.get_thread(thread_id))["title"] == "Renamed"

        await client.delete_thread(thread_id)
        with pytest.raises(ChatKitHTTPError) as gone:
            await client.get_thread(thread_id)
        assert gone.value.status == 404
        assert (await client.list_threads())["data"] == []


async def test_every_reply_gets_its_own_item_id(tmp_path: Path) -> None:
    # The scripted model gives every message one fixed id, as Chat Completions models do.
    async with run_host(write_project(tmp_path)) as running:
        http = running.http
        client = chatkit(http)
        thread_id = (await client.create_thread("one")).thread_id
        for text in ("two", "three"):
            await client.add_message(thread_id, text)
        items = (await client.list_items(thread_id))["data"]
        replies = [i for i in items if i["type"] == "assistant_message"]
        assert [_text(r) for r in replies] == ["Echo 1: one", "Echo 2: two", "Echo 3: three"]
        assert len({i["id"] for i in items}) == len(items) == 6


async def test_tool_results_of_earlier_turns_reach_the_next_turn(tmp_path: Path) -> None:
    async with run_host(write_project(tmp_path)) as running:
        http = running.http
        client = chatkit(http)
        turn = await client.create_thread("where is my order?")
        assert turn.assistant_text.startswith("Order status: ")
        assert "shipped" in turn.assistant_text
        # The hidden tool history is not shown to the client...
        visible = (await client.list_items(turn.thread_id))["data"]
        assert [i["type"] for i in visible] == ["user_message", "assistant_message"]
        await client.add_message(turn.thread_id, "thanks")

    last_input = recorded_calls(tmp_path)[-1]["input"]
    calls = [i for i in last_input if i.get("type") == "function_call"]
    outputs = [i for i in last_input if i.get("type") == "function_call_output"]
    assert [c["name"] for c in calls] == ["lookup_order"]
    assert "shipped" in outputs[0]["output"] and outputs[0]["call_id"] == calls[0]["call_id"]
    # ...and sits where the call happened: after the question, before the answer.
    kinds = [i.get("type") or i.get("role") for i in last_input]
    assert kinds.index("function_call") < kinds.index("function_call_output")
    assert _roles(last_input) == ["user", "call", "output", "assistant", "user"]


async def test_a_handoff_lasts_and_instructions_are_rendered(tmp_path: Path) -> None:
    async with run_host(write_project(tmp_path)) as running:
        http = running.http
        client = chatkit(http)
        turn = await client.create_thread("I want a refund")
        assert turn.assistant_text == "Billing here, turn 1."
        await client.add_message(turn.thread_id, "it is order 7")
    calls = recorded_calls(tmp_path)
    assert calls[0]["instructions"] == "You are triage for Acme; the user is local.\n"
    assert calls[1]["instructions"] == "You are billing for Acme."
    assert calls[-1]["instructions"] == "You are billing for Acme."  # the next turn stays there


async def test_history_is_bounded(tmp_path: Path) -> None:
    config = base_config()
    config["history"] = {"max_items": 3}
    async with run_host(write_project(tmp_path, config)) as running:
        http = running.http
        client = chatkit(http)
        thread_id = (await client.create_thread("m1")).thread_id
        for n in range(2, 5):
            await client.add_message(thread_id, f"m{n}")
    last_input = recorded_calls(tmp_path)[-1]["input"]
    assert _user_texts(last_input) == ["m3", "m4"]
    assert len(last_input) == 3


async def test_feedback_is_stored(tmp_path: Path) -> None:
    async with run_host(write_project(tmp_path)) as running:
        host, http = running.host, running.http
        client = chatkit(http)
        turn = await client.create_thread("hello")
        reply = next(i for i in turn.items_done if i["type"] == "assistant_message")
        assert await client.call(
            "items.feedback", {"thread_id": turn.thread_id, "item_ids": [reply["id"]], "kind": "positive"}
        ) == {}
        stored = await host.store.load_feedback(turn.thread_id, RequestContext("local"))
        assert stored == {reply["id"]: "positive"}
        with pytest.raises(ChatKitHTTPError) as missing:
            await client.call("items.feedback",
                              {"thread_id": turn.thread_id, "item_ids": ["msg_nope"], "kind": "negative"})
        assert missing.value.status == 404


async def test_retry_after_item_replaces_the_reply(tmp_path: Path) -> None:
    async with run_host(write_project(tmp_path)) as running:
        http = running.http
        client = chatkit(http)
        turn = await client.create_thread("first")
        user_item = next(i for i in turn.items_done if i["type"] == "user_message")
        old_reply = next(i for i in turn.items_done if i["type"] == "assistant_message")
        retried = await client.stream(
            "threads.retry_after_item", {"thread_id": turn.thread_id, "item_id": user_item["id"]}
        )
        assert retried.assistant_text == "Echo 1: first"
        items = (await client.list_items(turn.thread_id))["data"]
        assert [i["type"] for i in items] == ["user_message", "assistant_message"]
        assert items[1]["id"] != old_reply["id"]


async def test_pagination_of_threads_and_items(tmp_path: Path) -> None:
    async with run_host(write_project(tmp_path)) as running:
        http = running.http
        client = chatkit(http)
        ids = [(await client.create_thread(f"thread {n}")).thread_id for n in range(5)]
        first = await client.list_threads(limit=2, order="desc")
        assert [t["id"] for t in first["data"]] == ids[::-1][:2] and first["has_more"]
        rest = await client.list_threads(limit=10, order="desc", after=first["after"])
        assert [t["id"] for t in rest["data"]] == ids[::-1][2:] and not rest["has_more"]
        asc = await client.list_threads(limit=3, order="asc")
        assert [t["id"] for t in asc["data"]] == ids[:3] and asc["has_more"]

        thread_id = ids[0]
        for n in range(3):
            await client.add_message(thread_id, f"more {n}")
        every = (await client.list_items(thread_id, limit=100))["data"]
        assert len(every) == 8
        page1 = await client.list_items(thread_id, limit=3, order="desc")
        page2 = await client.list_items(thread_id, limit=3, order="desc", after=page1["after"])
        assert [i["id"] for i in page1["data"] + page2["data"]] == [i["id"] for i in every[::-1][:6]]
        assert page2["has_more"]


async def test_users_never_see_each_other(tmp_path: Path) -> None:
    config = base_config()
    config["auth"] = {"mode": "bearer", "tokens": "alice=token-a,bob=token-b"}
    async with run_host(write_project(tmp_path, config)) as running:
        http = running.http
        alice, bob = chatkit(http, "token-a"), chatkit(http, "token-b")
        turn = await alice.create_thread("alice's secret")
        thread_id = turn.thread_id
        reply = next(i for i in turn.items_done if i["type"] == "assistant_message")
        user_item = next(i for i in turn.items_done if i["type"] == "user_message")
        before = await alice.list_items(thread_id)

        attempts: list[tuple[str, dict[str, Any]]] = [
            ("threads.get_by_id", {"thread_id": thread_id}),
            ("items.list", {"thread_id": thread_id}),
            ("threads.update", {"thread_id": thread_id, "title": "bob was here"}),
            ("items.feedback", {"thread_id": thread_id, "item_ids": [reply["id"]], "kind": "negative"}),
            ("threads.delete", {"thread_id": thread_id}),
        ]
        for kind, params in attempts:
            with pytest.raises(ChatKitHTTPError) as refused:
                await bob.call(kind, params)
            assert refused.value.status == 404, kind
            assert "secret" not in str(refused.value.body)
        streamed: list[tuple[str, dict[str, Any]]] = [
            ("threads.add_user_message", {"thread_id": thread_id, "input": _input("hi")}),
            ("threads.retry_after_item", {"thread_id": thread_id, "item_id": user_item["id"]}),
        ]
        for kind, params in streamed:
            with pytest.raises(ChatKitHTTPError) as refused:
                await bob.stream(kind, params)
            assert refused.value.status == 404, kind  # a JSON answer, not a broken stream
        assert (await bob.list_threads())["data"] == []

        after = await alice.list_items(thread_id)
        assert after == before
        assert (await alice.get_thread(thread_id))["title"] == "alice's secret"

        for token in (None, "token-x"):
            with pytest.raises(ChatKitHTTPError) as unauthorized:
                await chatkit(http, token).list_threads()
            assert unauthorized.value.status == 401


async def test_missing_thread_is_a_404_before_any_stream(tmp_path: Path) -> None:
    async with run_host(write_project(tmp_path)) as running:
        http = running.http
        response = await http.post("/chatkit", json={
            "type": "threads.add_user_message",
            "params": {"thread_id": "thr_missing", "input": _input("hi")},
        })
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == {"error": {"code": "not_found", "message": "thread thr_missing not found"}}


async def test_a_locked_thread_takes_no_new_messages(tmp_path: Path) -> None:
    async with run_host(write_project(tmp_path)) as running:
        host, http = running.host, running.http
        client = chatkit(http)
        thread_id = (await client.create_thread("hello")).thread_id
        user = RequestContext("local")
        thread = await host.store.load_thread(thread_id, user)
        thread.status = LockedStatus(reason="under review")
        await host.store.save_thread(thread, user)
        before = await client.list_items(thread_id)
        with pytest.raises(ChatKitHTTPError) as refused:
            await client.add_message(thread_id, "let me in")
        assert refused.value.status == 409
        assert refused.value.body == {"error": {"code": "thread_locked",
                                                "message": "the thread is locked: under review"}}
        assert await client.list_items(thread_id) == before


async def test_bad_requests_get_clear_errors_and_change_nothing(tmp_path: Path) -> None:
    config = base_config()
    config["server"] = {"max_body": "2KB"}
    async with run_host(write_project(tmp_path, config)) as running:
        http = running.http
        not_json = await http.post("/chatkit", content=b"{nope")
        assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_request"
        unknown = await http.post("/chatkit", json={"type": "threads.explode", "params": {}})
        assert unknown.status_code == 400
        too_big = await http.post("/chatkit", json={
            "type": "threads.create", "params": {"input": _input("x" * 5000)}})
        assert too_big.status_code == 413
        assert too_big.json() == {"error": {
            "code": "too_large", "message": "the request body is larger than this endpoint accepts: "
            "at most 2KB (2,000 bytes)"}}
        assert (await chatkit(http).list_threads())["data"] == []


async def test_health(tmp_path: Path) -> None:
    async with run_host(write_project(tmp_path)) as running:
        host, http = running.host, running.http
        health = (await http.get("/healthz")).json()
        assert health["status"] == "ok"
        assert health["config_version"] == host.runtime.version
        assert health["last_error"] is None


def _input(text: str) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}


def _text(item: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for part in item.get("content", []))


def _user_texts(input_items: list[dict[str, Any]]) -> list[str]:
    texts = []
    for item in input_items:
        if item.get("role") == "user":
            content = item["content"]
            texts.append(content if isinstance(content, str) else "".join(p.get("text", "") for p in content))
    return texts


def _roles(input_items: list[dict[str, Any]]) -> list[str]:
    names = {"function_call": "call", "function_call_output": "output"}
    return [names.get(i.get("type", ""), i.get("role", "?")) for i in input_items]


async def test_a_chaining_model_gets_only_the_new_items(tmp_path: Path) -> None:
    config = base_config()
    config["models"]["providers"]["demo"]["api"] = "responses"
    async with run_host(write_project(tmp_path, config)) as running:
        http = running.http
        client = chatkit(http)
        first = await client.create_thread("where is my order?")
        assert "shipped" in first.assistant_text
        second = await client.add_message(first.thread_id, "thanks")
        assert second.assistant_text == "Echo 2: thanks"
        calls = recorded_calls(tmp_path)
        assert calls[-1]["previous_response_id"].startswith("resp_scripted_")
        assert _user_texts(calls[-1]["input"]) == ["thanks"] and len(calls[-1]["input"]) == 1

        # A retry deletes the item the chain continued from: the full history is sent again.
        user_item = next(i for i in second.items_done if i["type"] == "user_message")
        retried = await client.stream(
            "threads.retry_after_item", {"thread_id": first.thread_id, "item_id": user_item["id"]}
        )
        assert retried.assistant_text == "Echo 2: thanks"
        last = recorded_calls(tmp_path)[-1]
        assert last["previous_response_id"] is None
        assert _user_texts(last["input"]) == ["where is my order?", "thanks"]
