"""Thread state, app action steps and tool options over the ChatKit protocol (#15)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatkit_host.config.loader import load_config
from chatkit_host.errors import ConfigError
from chatkit_host.runtime.build import build_runtime
from chatkit_host.testing import ChatKitClient, run_host
from projects import base_config, recorded_calls, write_project
from ui_project import ORDER_CARD

TOKENS = "alice=token-a,bob=token-b"

PET_PY = '''
def feed(amount: int) -> dict:
    """Feed the pet.

    Args:
        amount: How much food.
    """
    return {"eaten": amount}


def order(order_id: str) -> dict:
    """An order card's data.

    Args:
        order_id: The order.
    """
    return {"order_id": order_id, "status": "shipped", "eta": "tomorrow"}
'''

SCRIPT = {"replies": [
    {"when": ["overfeed"], "steps": [
        {"call": "feed", "arguments": {"amount": 9}},
        {"say": "Overfed: {{ tool_output }}"},
    ]},
    {"when": ["feed"], "steps": [
        {"call": "feed", "arguments": {"amount": 2}},
        {"say": "Fed: {{ tool_output }}"},
    ]},
    {"when": ["card"], "steps": [
        {"call": "show_order", "arguments": {"order_id": "A-7"}},
        {"say": "never said: the run stops after the card"},
    ]},
    {"steps": [{"say": "Echo: {{ user_text }}"}]},
]}


def pet_config() -> dict[str, Any]:
    config = base_config()
    config["auth"] = {"mode": "bearer", "tokens": TOKENS}
    config["state"] = {
        "properties": {"hunger": {"type": "integer", "minimum": 0, "maximum": 10, "default": 5},
                       "pet_name": "string?"},
        "context": "Pet {{ state.pet_name or 'unnamed' }}, hunger {{ state.hunger }}.",
    }
    config["effects"] = {"pet.fed": {"data": {"hunger": "integer"}}}
    config["agents"]["triage"]["tools"] = ["feed", "show_order"]
    config["tools"] = {
        "lookup_order": {"python": "./tools.py:lookup_order"},
        "feed": {"python": "./pet.py:feed", "progress": "Feeding {{ amount }} (hunger {{ state.hunger }})…",
                 "set_state": {"hunger": "{{ state.hunger - result.eaten }}"},
                 "effect": {"name": "pet.fed", "data": {"hunger": "{{ state.hunger }}"}}},
        "order_data": {"python": "./pet.py:order"},
        "show_order": {"widget": "order_card", "data_from": "order_data", "stop_after": True,
                       "copy_text": "Order {{ order_id }}: {{ status }}"},
    }
    config["actions"] = {
        "pet.feed": {"payload": {"amount": "integer"}, "do": [
            {"set_state": {"hunger": "{{ state.hunger - payload.amount }}"}},
            {"effect": {"name": "pet.fed", "data": {"hunger": "{{ state.hunger }}"}}},
            {"say": "Yum! Hunger is now {{ state.hunger }}."},
        ]},
        "pet.set_hunger": {"payload": {"hunger": "integer"}, "streaming": False, "do": [
            {"set_state": {"hunger": "{{ payload.hunger }}"}},
        ]},
        "pet.name": {"payload": {"name": "string"}, "do": [
            {"if": "state.pet_name", "say": "I already have a name: {{ state.pet_name }}."},
            {"if": "not state.pet_name", "set_title": "{{ payload.name }}'s chat"},
            {"if": "not state.pet_name", "say": "{{ payload.name }} it is (asked from {{ sender.id }})."},
            {"if": "not state.pet_name", "set_state": {"pet_name": "{{ payload.name }}"}},
        ]},
    }
    return config


def write_pet(root: Path, config: dict[str, Any] | None = None) -> Path:
    instructions = "You care for {{ state.pet_name or 'a pet' }} (hunger {{ state.hunger }}).\n"
    return write_project(root, config or pet_config(), SCRIPT, files={
        "pet.py": PET_PY, "agents/triage.md": instructions, "widgets/order_card.widget": ORDER_CARD})


@asynccontextmanager
async def serving(path: Path) -> AsyncIterator[tuple[ChatKitClient, ChatKitClient, httpx.AsyncClient]]:
    async with run_host(path) as running:
        yield running.client("token-a"), running.client("token-b"), running.http


async def _state(http: httpx.AsyncClient, thread_id: str, token: str = "token-a") -> httpx.Response:
    return await http.get("/chatkit/state", params={"thread_id": thread_id},
                          headers={"Authorization": f"Bearer {token}"})


def _action(thread_id: str, kind: str, payload: Any, item_id: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"thread_id": thread_id, "action": {"type": kind, "payload": payload}}
    if item_id:
        params["item_id"] = item_id
    return params


async def test_actions_change_state_send_effects_and_speak_without_the_model(tmp_path: Path) -> None:
    path = write_pet(tmp_path)
    async with serving(path) as (alice, bob, http):
        thread_id = (await alice.create_thread("hello")).thread_id
        assert (await _state(http, thread_id)).json() == {"thread_id": thread_id, "state": {"hunger": 5}}
        calls = len(recorded_calls(tmp_path))

        turn = await alice.stream("threads.custom_action", _action(thread_id, "pet.feed", {"amount": 2}))
        assert turn.errors == []
        assert [e for e in turn.events if e["type"] == "client_effect"] == [
            {"type": "client_effect", "name": "pet.fed", "data": {"hunger": 3}}]
        assert turn.assistant_text == "Yum! Hunger is now 3."
        assert len(recorded_calls(tmp_path)) == calls  # no model call
        assert (await _state(http, thread_id)).json()["state"] == {"hunger": 3}

        await alice.add_message(thread_id, "how are you")
        last = recorded_calls(tmp_path)[-1]
        assert "You care for a pet (hunger 3)." in last["instructions"]
        assert last["input"][-1] == {"role": "developer", "content": "Pet unnamed, hunger 3."}

        # another user can neither read nor change it
        assert (await _state(http, thread_id, "token-b")).status_code == 404
        assert (await _state(http, "thr_missing")).status_code == 404
        assert (await http.get("/chatkit/state", params={"thread_id": thread_id})).status_code == 401


async def test_conditions_the_sender_and_the_title(tmp_path: Path) -> None:
    async with serving(write_pet(tmp_path)) as (alice, _, http):
        shown = await alice.create_thread("card")
        thread_id = shown.thread_id
        card = next(i for i in shown.items_done if i["type"] == "widget")
        turn = await alice.stream("threads.custom_action", _action(thread_id, "pet.name", {"name": "Rex"}, card["id"]))
        assert turn.errors == []
        assert turn.assistant_text == f"Rex it is (asked from {card['id']})."
        assert (await alice.get_thread(thread_id))["title"] == "Rex's chat"
        assert (await _state(http, thread_id)).json()["state"] == {"hunger": 5, "pet_name": "Rex"}

        again = await alice.stream("threads.custom_action", _action(thread_id, "pet.name", {"name": "Max"}))
        assert again.assistant_text == "I already have a name: Rex."
        assert (await alice.get_thread(thread_id))["title"] == "Rex's chat"
        assert (await _state(http, thread_id)).json()["state"]["pet_name"] == "Rex"


async def test_a_state_change_that_breaks_the_schema_is_refused_and_nothing_is_saved(tmp_path: Path) -> None:
    async with serving(write_pet(tmp_path)) as (alice, _, http):
        thread_id = (await alice.create_thread("hello")).thread_id
        before = await alice.list_items(thread_id)
        turn = await alice.stream("threads.custom_action", _action(thread_id, "pet.feed", {"amount": 7}))
        assert [e["message"] for e in turn.errors] == [
            "action 'pet.feed' failed: state change refused: hunger: -2 is less than the minimum of 0"]
        assert [e for e in turn.events if e["type"] == "client_effect"] == []
        assert await alice.list_items(thread_id) == before
        assert (await _state(http, thread_id)).json()["state"] == {"hunger": 5}

        # a synchronous action's refused change is the caller's mistake: a 400 that names it
        refused = await http.post("/chatkit", headers={"Authorization": "Bearer token-a"}, json={
            "type": "threads.sync_custom_action", "params": _action(thread_id, "pet.set_hunger", {"hunger": 12})})
        assert refused.status_code == 400
        assert refused.json() == {"error": {"code": "state_refused", "message": (
            "action 'pet.set_hunger' failed: state change refused: hunger: 12 is greater than the maximum of 10")}}
        assert await alice.list_items(thread_id) == before
        assert (await _state(http, thread_id)).json()["state"] == {"hunger": 5}
        fitting = await http.post("/chatkit", headers={"Authorization": "Bearer token-a"}, json={
            "type": "threads.sync_custom_action", "params": _action(thread_id, "pet.set_hunger", {"hunger": 4})})
        assert fitting.status_code == 200
        assert (await _state(http, thread_id)).json()["state"] == {"hunger": 4}

        # a tool's refused change reaches the model as the tool's output, and is not saved either
        overfed = await alice.add_message(thread_id, "overfeed")
        assert overfed.assistant_text == ("Overfed: error: state change refused: hunger: -5 is less than "
                                          "the minimum of 0")
        assert (await _state(http, thread_id)).json()["state"] == {"hunger": 4}


async def test_tools_change_state_send_effects_show_progress_and_stop_after_a_widget(tmp_path: Path) -> None:
    path = write_pet(tmp_path)
    async with serving(path) as (alice, _, http):
        turn = await alice.create_thread("feed")
        assert turn.progress == ["Feeding 2 (hunger 5)…"]
        assert [e["data"] for e in turn.events if e["type"] == "client_effect"] == [{"hunger": 3}]
        assert turn.assistant_text.startswith("Fed: ")
        assert (await _state(http, turn.thread_id)).json()["state"] == {"hunger": 3}

        card = await alice.add_message(turn.thread_id, "card")
        widget = next(i for i in card.items_done if i["type"] == "widget")
        assert widget["copy_text"] == "Order A-7: shipped"
        assert "tomorrow" in str(widget["widget"])  # the data came from the python tool
        assert card.assistant_text == ""  # stop_after: the model did not speak again

    # state is in the store: a new host on the same database sees it
    async with serving(path) as (_, _, http):
        assert (await _state(http, turn.thread_id)).json()["state"] == {"hunger": 3}


def _problems(tmp_path: Path, config: dict[str, Any]) -> list[str]:
    path = write_pet(tmp_path, config)
    with pytest.raises(ConfigError) as error:
        build_runtime(load_config(path, environ={}))
    return [problem.render(tmp_path) for problem in error.value.problems]


def test_mistakes_in_state_effects_and_conditions_are_located_config_errors(tmp_path: Path) -> None:
    config = pet_config()
    config["effects"] = {"pet.fed": {"data": {"hunger": "integer"}}}
    config["actions"]["pet.feed"]["do"][1]["effect"]["name"] = "pet.fedd"
    config["actions"]["pet.name"]["do"][0]["if"] = "state.pet_name ==="
    problems = _problems(tmp_path, config)
    assert any(p.endswith("actions.pet.feed.do[1].effect.name: unknown effect 'pet.fedd' "
                          "(hint: did you mean 'pet.fed'?)") for p in problems), problems
    assert any("actions.pet.name.do[0].if: not a jinja expression" in p for p in problems), problems

    config = pet_config()
    config["state"]["initial"] = {"hunger": 11}
    path = write_pet(tmp_path, config)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert "state: the initial state does not fit `properties`: hunger: 11 is greater than the maximum of 10" in str(
        error.value)

    config = copy.deepcopy(pet_config())
    del config["state"]
    problems = _problems(tmp_path, config)
    assert any("actions.pet.feed.do[0].set_state: this thread has no state" in p for p in problems), problems


FAILING_PY = '''
def rename(name: str) -> dict:
    """Rename the pet.

    Args:
        name: The new name.
    """
    if name == "Nobody":
        raise ValueError("a pet needs a real name")
    return {"name": name}
'''


async def test_a_tool_that_fails_changes_no_state_and_sends_no_effect(tmp_path: Path) -> None:
    config = pet_config()
    config["effects"]["pet.renamed"] = {"data": {"name": "string"}}
    config["agents"]["triage"]["tools"] = ["rename"]
    config["tools"]["rename"] = {"python": "./rename.py:rename", "set_state": {"pet_name": "{{ result.name }}"},
                                 "effect": {"name": "pet.renamed", "data": {"name": "{{ state.pet_name }}"}}}
    script = {"replies": [
        {"when": ["nobody"], "steps": [{"call": "rename", "arguments": {"name": "Nobody"}},
                                       {"say": "Tool: {{ tool_output }}"}]},
        {"steps": [{"call": "rename", "arguments": {"name": "Rex"}}, {"say": "Tool: {{ tool_output }}"}]},
    ]}
    path = write_project(tmp_path, config, script, files={
        "rename.py": FAILING_PY, "pet.py": PET_PY, "agents/triage.md": "Hi.\n",
        "widgets/order_card.widget": ORDER_CARD})
    async with serving(path) as (alice, _, http):
        failed = await alice.create_thread("call it nobody")
        # the tool's own error reaches the model, not a state change made from its error text
        assert failed.assistant_text == "Tool: error: a pet needs a real name"
        assert [e for e in failed.events if e["type"] == "client_effect"] == []
        assert (await _state(http, failed.thread_id)).json()["state"] == {"hunger": 5}

        named = await alice.add_message(failed.thread_id, "call it Rex")
        assert [e["data"] for e in named.events if e["type"] == "client_effect"] == [{"name": "Rex"}]
        assert (await _state(http, failed.thread_id)).json()["state"] == {"hunger": 5, "pet_name": "Rex"}


async def test_stop_after_ends_the_run_only_when_the_widget_was_shown(tmp_path: Path) -> None:
    config = pet_config()
    config["tools"]["order_data"] = {"python": "./orders.py:order"}
    script = {"replies": [
        {"when": ["card"], "steps": [
            {"call": "show_order", "arguments": {"order_id": "{{ user_text.split()[-1] }}"}},
            {"say": "Tool: {{ tool_output }}"},
        ]},
        {"steps": [{"say": "Echo: {{ user_text }}"}]},
    ]}
    orders = '''
def order(order_id: str) -> dict:
    """An order card's data.

    Args:
        order_id: The order.
    """
    if order_id == "X":
        raise LookupError("no order X")
    return {"order_id": order_id, "status": "shipped"}
'''
    path = write_project(tmp_path, config, script, files={
        "orders.py": orders, "pet.py": PET_PY, "agents/triage.md": "Hi.\n", "widgets/order_card.widget": ORDER_CARD})
    async with serving(path) as (alice, _, _):
        shown = await alice.create_thread("card A-1")
        assert [i["type"] for i in shown.items_done] == ["user_message", "widget"]  # the run stopped

        # the widget was not shown: the model reads why and speaks, instead of the turn ending in silence
        failed = await alice.add_message(shown.thread_id, "card X")
        assert [i["type"] for i in failed.items_done] == ["user_message", "assistant_message"]
        assert failed.assistant_text == ("Tool: The widget was not shown: order_data gave no data for it "
                                         "(error: no order X).")
