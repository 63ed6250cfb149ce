"""The composer's tool menu and model picker honoured (#15 item 11): `inference_options` routes a
message to an agent, forces a tool or picks a model among what `client.composer` declares."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatkit_host.config.loader import load_config
from chatkit_host.errors import ConfigError
from chatkit_host.testing import ChatKitClient, Turn, run_host
from projects import base_config, recorded_calls, write_project


def composer_config() -> dict[str, Any]:
    config = base_config()
    config["agents"]["billing"]["instructions"] = "Billing (chosen: {{ request.tool_choice }}, {{ request.model }})."
    config["client"] = {"composer": {
        "tools": [{"id": "ask-billing", "label": "Billing", "icon": "globe", "agent": "billing"},
                  {"id": "lookup", "label": "Look up", "icon": "globe", "tool": "lookup_order",
                   "persistent": True}],
        "models": [{"id": "fast", "label": "Fast", "model": "demo/fast", "default": True},
                   {"id": "old", "label": "Old", "model": "demo/old", "disabled": True}],
    }}
    return config


@asynccontextmanager
async def serving(path: Path) -> AsyncIterator[tuple[ChatKitClient, httpx.AsyncClient]]:
    async with run_host(path) as running:
        yield running.client(), running.http


def _message(text: str, tool: str | None = None, model: str | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if tool is not None:
        options["tool_choice"] = {"id": tool}
    if model is not None:
        options["model"] = model
    return {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": options}


async def _send(client: ChatKitClient, thread_id: str, text: str, **options: str) -> Turn:
    return await client.stream("threads.add_user_message",
                               {"thread_id": thread_id, "input": _message(text, **options)})


async def test_the_tool_menu_routes_a_message_and_the_picker_picks_the_model(tmp_path: Path) -> None:
    async with serving(write_project(tmp_path, composer_config())) as (client, _):
        turn = await client.stream("threads.create", {"input": _message("hello", tool="ask-billing", model="fast")})
        assert turn.errors == []
        call = recorded_calls(tmp_path)[-1]
        assert call["instructions"] == "Billing (chosen: ask-billing, fast)."
        assert (call["model"], call["tool_choice"]) == ("fast", None)

        # the next message, without a choice, goes back to the thread's agent
        await _send(client, turn.thread_id, "and now?")
        call = recorded_calls(tmp_path)[-1]
        assert call["instructions"].startswith("You are triage for Acme")
        assert call["model"] == "offline"

        await _send(client, turn.thread_id, "find it", tool="lookup", model="fast")
        call = recorded_calls(tmp_path)[-1]
        assert call["instructions"].startswith("You are triage for Acme")
        assert (call["model"], call["tool_choice"]) == ("fast", "lookup_order")


@pytest.mark.parametrize(("options", "code", "message"), [
    ({"tool": "lookpu"}, "unknown_tool_choice",
     "unknown tool_choice 'lookpu' (the composer offers: ask-billing, lookup)"),
    ({"model": "gpt-5"}, "unknown_model", "unknown model 'gpt-5' (the composer offers: fast, old)"),
    ({"model": "old"}, "unknown_model", "the model 'old' is disabled"),
])
async def test_a_choice_the_composer_does_not_offer_is_refused_before_anything_is_stored(
        tmp_path: Path, options: dict[str, str], code: str, message: str) -> None:
    async with serving(write_project(tmp_path, composer_config())) as (client, http):
        thread_id = (await client.create_thread("hello")).thread_id
        before, calls = await client.list_items(thread_id), len(recorded_calls(tmp_path))
        for request in ({"type": "threads.add_user_message",
                         "params": {"thread_id": thread_id, "input": _message("hi", **options)}},
                        {"type": "threads.create", "params": {"input": _message("hi", **options)}}):
            refused = await http.post("/chatkit", json=request)
            assert refused.status_code == 400
            assert refused.json() == {"error": {"code": code, "message": message}}
        assert await client.list_items(thread_id) == before
        assert len((await client.list_threads())["data"]) == 1
        assert len(recorded_calls(tmp_path)) == calls


async def test_the_playground_offers_exactly_the_declared_choices(tmp_path: Path) -> None:
    async with serving(write_project(tmp_path, composer_config())) as (_, http):
        page = (await http.get("/")).text
    data = json.loads(re.search(r'<script id="playground-data" type="application/json">(.*?)</script>',
                                page, re.DOTALL)[1])  # type: ignore[index]
    composer = data["options"]["composer"]
    assert composer["tools"] == [
        {"id": "ask-billing", "label": "Billing", "icon": "globe", "pinned": False, "persistent": False},
        {"id": "lookup", "label": "Look up", "icon": "globe", "pinned": False, "persistent": True}]
    assert composer["models"] == [{"id": "fast", "label": "Fast", "default": True, "disabled": False},
                                  {"id": "old", "label": "Old", "default": False, "disabled": True}]


def test_composer_routes_to_unknown_agents_or_tools_are_located_errors(tmp_path: Path) -> None:
    config = composer_config()
    composer = config["client"]["composer"]
    composer["tools"][0]["agent"] = "biling"
    composer["tools"][1]["tool"] = "lookup_ordr"
    composer["tools"].append({"id": "lookup", "label": "Again", "icon": "globe", "agent": "billing",
                              "tool": "lookup_order"})
    composer["models"][0]["model"] = "dmo/fast"
    with pytest.raises(ConfigError) as error:
        load_config(write_project(tmp_path, config), environ={})
    assert [problem.render(tmp_path) for problem in error.value.problems] == [
        "chatkit.yaml:30:14: client.composer.tools[0].agent: unknown agent 'biling' "
        "(hint: did you mean 'billing'?)",
        "chatkit.yaml:34:13: client.composer.tools[1].tool: unknown tool 'lookup_ordr' "
        "(hint: did you mean 'lookup_order'?)",
        "chatkit.yaml:36:11: client.composer.tools[2].id: 'lookup' is listed twice",
        "chatkit.yaml:40:13: client.composer.tools[2].tool: agent 'billing' does not have the tool "
        "'lookup_order' (hint: add it to agents.billing.tools)",
        "chatkit.yaml:44:14: client.composer.models[0].model: unknown provider 'dmo' (hint: did you mean 'demo'?)",
    ]
