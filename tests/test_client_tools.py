"""Client tools over HTTP: the call reaches the client, its output goes back, the model continues."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatkit_host.config.loader import load_config
from chatkit_host.errors import ConfigError
from chatkit_host.testing import ChatKitClient, ChatKitHTTPError, run_host
from projects import base_config, recorded_calls, write_project

SCRIPT = {"replies": [
    {"when": ["theme"], "steps": [
        {"call": "switch_theme", "arguments": {"theme": "dark"}},
        {"say": "Done: {{ tool_output }}"},
    ]},
    {"steps": [{"say": "Echo {{ turn }}: {{ user_text }}"}]},
]}


def client_tool_project(root: Path) -> Path:
    config = base_config()
    config["tools"]["switch_theme"] = {
        "client": {"parameters": {"theme": {"enum": ["light", "dark"]}}},
        "description": "Switch the page between light and dark.",
    }
    config["agents"]["triage"]["tools"] = ["lookup_order", "switch_theme"]
    return write_project(root, config, SCRIPT)


async def test_a_client_tool_round_trip(tmp_path: Path) -> None:
    async with run_host(client_tool_project(tmp_path)) as running:
        http = running.http
        client = ChatKitClient("/chatkit", client=http)
        first = await client.create_thread("dark theme please")
        [call] = [item for item in first.items_done if item["type"] == "client_tool_call"]
        assert (call["name"], call["arguments"], call["status"]) == ("switch_theme", {"theme": "dark"}, "pending")
        assert first.assistant_text == ""
        assert len(recorded_calls(tmp_path)) == 1  # the run stopped at the call

        second = await client.stream("threads.add_client_tool_output", {
            "thread_id": first.thread_id, "result": {"applied": "dark"}})
        assert second.assistant_text == 'Done: {"applied": "dark"}'

        with pytest.raises(ChatKitHTTPError) as twice:  # nothing is waiting any more
            await client.stream("threads.add_client_tool_output",
                                {"thread_id": first.thread_id, "result": {}})
        assert twice.value.status == 409

        items = (await client.list_items(first.thread_id))["data"]
        stored = [item for item in items if item["type"] == "client_tool_call"]
        assert [(item["status"], item["output"]) for item in stored] == [("completed", {"applied": "dark"})]

    calls = recorded_calls(tmp_path)
    assert "switch_theme" in calls[0]["tools"]
    resumed = calls[-1]["input"]
    function_call = next(item for item in resumed if item.get("type") == "function_call")
    output = next(item for item in resumed if item.get("type") == "function_call_output")
    assert (function_call["name"], json.loads(function_call["arguments"])) == ("switch_theme", {"theme": "dark"})
    assert (output["call_id"], json.loads(output["output"])) == (function_call["call_id"], {"applied": "dark"})


async def test_invalid_client_arguments_go_back_to_the_model(tmp_path: Path) -> None:
    script = {"replies": [{"steps": [
        {"call": "switch_theme", "arguments": {"theme": "purple"}},
        {"say": "Could not: {{ tool_output }}"},
    ]}]}
    config = base_config()
    config["tools"]["switch_theme"] = {"client": {"parameters": {"theme": {"enum": ["light", "dark"]}}}}
    config["agents"]["triage"]["tools"] = ["switch_theme"]
    async with run_host(write_project(tmp_path, config, script)) as running:
        http = running.http
        turn = await ChatKitClient("/chatkit", client=http).create_thread("purple")
    assert not [item for item in turn.items_done if item["type"] == "client_tool_call"]
    assert turn.assistant_text.startswith("Could not: error: invalid arguments: theme: 'purple' is not one of")


def test_a_tool_has_exactly_one_kind(tmp_path: Path) -> None:
    config = base_config()
    config["tools"]["both"] = {"client": {}, "python": "./tools.py:lookup_order"}
    with pytest.raises(ConfigError) as error:
        load_config(write_project(tmp_path, config), environ={})
    assert "tools.both: a tool has exactly one of python, http, client, hosted, mcp, agent" in str(error.value)
