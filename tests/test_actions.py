"""Action routes over the ChatKit protocol: widget buttons run declared steps."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatkit_host.testing import ChatKitClient, ChatKitHTTPError, run_host
from projects import recorded_calls
from ui_project import texts, write_ui_project


@pytest.fixture
def action_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    # The host's logging setup may stop propagation to the root logger, where caplog listens.
    logger = logging.getLogger("chatkit_host.actions")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


async def _show_card(client: ChatKitClient) -> tuple[str, dict[str, Any]]:
    turn = await client.create_thread("show me my order")
    widget = next(i for i in turn.items_done if i["type"] == "widget")
    return turn.thread_id, widget


def _action(thread_id: str, kind: str, payload: Any, item_id: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"thread_id": thread_id, "action": {"type": kind, "payload": payload}}
    if item_id is not None:
        params["item_id"] = item_id
    return params


def _badge(widget: dict[str, Any]) -> str:
    return widget["widget"]["children"][0]["children"][2]["label"]


async def test_a_button_updates_its_widget_and_the_agent_follows_up(tmp_path: Path) -> None:
    async with run_host(write_ui_project(tmp_path)) as running:
        client = running.client()
        thread_id, card = await _show_card(client)
        assert _badge(card) == "processing"

        turn = await client.stream("threads.custom_action", _action(
            thread_id, "order.refresh", {"order_id": "A-1001"}, card["id"]))
        assert turn.errors == []
        replaced = [e["item"] for e in turn.events if e["type"] == "thread.item.replaced"]
        assert [r["id"] for r in replaced] == [card["id"]]
        assert _badge(replaced[0]) == "shipped"
        assert turn.assistant_text.startswith("Refreshed: ") and "shipped" in turn.assistant_text

        items = (await client.list_items(thread_id))["data"]
        assert [i["type"] for i in items] == ["user_message", "widget", "assistant_message", "assistant_message"]
        assert items[1]["id"] == card["id"] and _badge(items[1]) == "shipped"  # persisted, in place
        assert items[3]["content"][0]["text"] == turn.assistant_text

    model_input = recorded_calls(tmp_path)[-1]["input"]
    hidden = [t for t in texts(model_input) if "refreshed order" in t]
    assert hidden and "The user refreshed order A-1001: it is shipped." in hidden[0]
    calls = [i["name"] for i in model_input if i.get("type") == "function_call"]
    assert calls == ["show_order", "lookup_order"]  # the action's tool call is kept for the model


async def test_a_sync_action_returns_the_updated_widget_and_saves_it(tmp_path: Path) -> None:
    async with run_host(write_ui_project(tmp_path)) as running:
        client = running.client()
        thread_id, card = await _show_card(client)
        answer = await client.call("threads.sync_custom_action", _action(
            thread_id, "order.set_status", {"order_id": "A-1001", "status": "on hold"}, card["id"]))
        updated = answer["updated_item"]
        assert updated["id"] == card["id"] and _badge(updated) == "on hold"

        items = (await client.list_items(thread_id))["data"]
        assert [i["type"] for i in items] == ["user_message", "widget", "assistant_message"]
        assert items[1]["id"] == card["id"] and _badge(items[1]) == "on hold"  # saved: a reload shows it
        await client.add_message(thread_id, "thanks")
    model_input = recorded_calls(tmp_path)[-1]["input"]
    assert any("The user set order A-1001 to on hold." in t for t in texts(model_input))


async def test_bad_actions_are_refused_before_the_stream_and_change_nothing(
    tmp_path: Path, action_log: pytest.LogCaptureFixture
) -> None:
    async with run_host(write_ui_project(tmp_path)) as running:
        client = running.client()
        thread_id, card = await _show_card(client)
        before = await client.list_items(thread_id)
        cases = [
            (_action(thread_id, "order.explode", {}, card["id"]), "unknown_action",
             "unknown action type 'order.explode' (known: order.refresh, order.set_status, order.loose, "
             "ticket.open)"),
            (_action(thread_id, "order.refresh", {"order_id": 7}, card["id"]), "invalid_payload",
             "action 'order.refresh': invalid payload: order_id: 7 is not of type 'string'"),
            (_action(thread_id, "order.refresh", {"order_id": "A-1", "admin": True}, card["id"]), "invalid_payload",
             "action 'order.refresh': invalid payload: payload: Additional properties are not allowed "
             "('admin' was unexpected)"),
            (_action(thread_id, "order.refresh", {"order_id": "A-1"}), "invalid_request",
             "action 'order.refresh' updates the widget that sends it: send it from a widget (item_id)"),
        ]
        for params, code, message in cases:
            for kind in ("threads.custom_action", "threads.sync_custom_action"):
                with pytest.raises(ChatKitHTTPError) as refused:
                    if kind == "threads.custom_action":
                        await client.stream(kind, params)
                    else:
                        await client.call(kind, params)
                assert refused.value.status == 400, (kind, params)
                assert refused.value.body == {"error": {"code": code, "message": message}}
        with pytest.raises(ChatKitHTTPError) as streaming_only:
            await client.call("threads.sync_custom_action",
                              _action(thread_id, "order.refresh", {"order_id": "A-1001"}, card["id"]))
        assert streaming_only.value.body["error"]["code"] == "streaming_required"
        assert await client.list_items(thread_id) == before
    logged = [r.getMessage() for r in action_log.records if r.name == "chatkit_host.actions"]
    assert any("refused action 'order.explode': unknown action type 'order.explode'" in line for line in logged)
    assert any("invalid payload: order_id: 7 is not of type 'string'" in line for line in logged)


async def test_widget_data_that_breaks_the_widget_schema_fails_the_action_and_changes_nothing(
    tmp_path: Path, action_log: pytest.LogCaptureFixture
) -> None:
    async with run_host(write_ui_project(tmp_path)) as running:
        client = running.client()
        thread_id, card = await _show_card(client)
        before = await client.list_items(thread_id)
        turn = await client.stream("threads.custom_action", _action(
            thread_id, "order.loose", {"order_id": "", "status": "x"}, card["id"]))
        assert turn.errors == [{"type": "error", "code": "custom", "allow_retry": False,
                                "message": "action 'order.loose' failed: widget 'order_card': "
                                           "the data does not match the widget's jsonSchema"}]
        assert turn.items_done == [] and not any(e["type"] == "thread.item.replaced" for e in turn.events)
        with pytest.raises(ChatKitHTTPError) as failed:
            await client.call("threads.sync_custom_action", _action(
                thread_id, "order.set_status", {"order_id": "", "status": "x"}, card["id"]))
        assert failed.value.status == 500
        assert failed.value.body["error"]["code"] == "action_failed"
        assert await client.list_items(thread_id) == before
        await client.add_message(thread_id, "anything stored?")
    assert not any("must not be stored" in t for t in texts(recorded_calls(tmp_path)[-1]["input"]))
    assert any("order_id: '' should be non-empty" in r.getMessage() for r in action_log.records)


async def test_someone_elses_widget_cannot_be_acted_on(tmp_path: Path) -> None:
    from ui_project import ui_config

    config = ui_config()
    config["auth"] = {"mode": "bearer", "tokens": "alice=token-a,bob=token-b"}
    path = write_ui_project(tmp_path, config)
    async with run_host(path) as running:
        alice = running.client()
        alice._headers = {"Authorization": "Bearer token-a"}
        thread_id, card = await _show_card(alice)
        bob = ChatKitClient("/chatkit", token="token-b", client=alice._client)
        with pytest.raises(ChatKitHTTPError) as refused:
            await bob.call("threads.sync_custom_action", _action(
                thread_id, "order.set_status", {"order_id": "A-1", "status": "mine"}, card["id"]))
        assert refused.value.status == 404
        items = (await alice.list_items(thread_id))["data"]
        assert _badge(items[1]) == "processing"
