"""The thread's state and the request context in http tool URL/query/body templates and in the
`converters` templates (#15: state is visible to every template)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatkit_host.config.loader import load_config
from chatkit_host.errors import ConfigError
from chatkit_host.runtime.build import build_runtime
from chatkit_host.testing import ChatKitClient, run_host
from loopback import JsonHandler, serving
from projects import base_config, recorded_calls, write_project


class API(JsonHandler):
    seen: list[dict[str, Any]] = []

    def do_GET(self) -> None:  # noqa: N802
        API.seen.append({"method": "GET", "path": self.path})
        return self.send_json({"ok": True})

    def do_POST(self) -> None:  # noqa: N802
        API.seen.append({"method": "POST", "path": self.path, "body": self.read_json()})
        return self.send_json({"ok": True})


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with serving(API) as url:
        yield url


def map_config(api: str) -> dict[str, Any]:
    config = base_config()
    config["state"] = {"properties": {"customer": {"type": "string", "default": "C 7/1"},
                                      "plan": {"type": "string", "default": "gold"}}}
    config["request"] = {"headers": ["x-map-id"]}
    config["agents"]["triage"]["tools"] = ["orders", "note"]
    config["tools"] = {
        "orders": {"http": {"url": api + "/customers/{{ state.customer }}/orders/{order_id}",
                            "parameters": {"order_id": "string"},
                            "query": {"map": "{{ request.headers['x-map-id'] }}", "by": "{{ user }}",
                                      "co": "{{ vars.company }}"}}},
        "note": {"http": {"method": "POST", "url": api + "/notes", "parameters": {"n": "integer"},
                          "query": {"thread": "{{ thread.id }}"},
                          "body": {"customer": "{{ state.customer }}", "next": "{{ arguments.n + 1 }}"}}},
    }
    config["converters"] = {
        "hidden_context": "{{ content }} [plan {{ state.plan }}, map {{ request.headers['x-map-id'] }}]",
        "tags": {"default": "@{{ tag.text }} for {{ user }} on plan {{ state.plan }}"},
    }
    config["actions"] = {"map.moved": {"do": [{"hidden_context": "The map moved."}]}}
    return config


SCRIPT = {"replies": [
    {"when": ["orders"], "steps": [{"call": "orders", "arguments": {"order_id": "A-1"}}, {"say": "done"}]},
    {"when": ["note"], "steps": [{"call": "note", "arguments": {"n": 4}}, {"say": "noted"}]},
    {"steps": [{"say": "Echo: {{ user_text }}"}]},
]}


async def test_http_tools_and_converters_see_state_and_request(tmp_path: Path, api: str) -> None:
    path = write_project(tmp_path, map_config(api), SCRIPT)
    async with run_host(path) as running:
        http = running.http
        client = ChatKitClient("/chatkit", client=http, headers={"X-Map-Id": "m/1&x=2"})
        turn = await client.create_thread("orders please")
        assert turn.errors == []
        assert API.seen[-1] == {"method": "GET",
                                "path": "/customers/C%207%2F1/orders/A-1?map=m%2F1%26x%3D2&by=local&co=Acme"}

        await client.add_message(turn.thread_id, "note it")
        assert API.seen[-1] == {"method": "POST", "path": f"/notes?thread={turn.thread_id}",
                                "body": {"n": 4, "customer": "C 7/1", "next": 5}}

        await client.stream("threads.custom_action", {"thread_id": turn.thread_id,
                                                      "action": {"type": "map.moved", "payload": {}}})
        tagged = {"content": [{"type": "input_text", "text": "look at "},
                              {"type": "input_tag", "id": "a-1", "text": "Atlas", "data": {}, "interactive": False}],
                  "attachments": [], "inference_options": {}}
        await client.stream("threads.add_user_message", {"thread_id": turn.thread_id, "input": tagged})
        texts = [part["text"] for item in recorded_calls(tmp_path)[-1]["input"] if isinstance(item.get("content"), list)
                 for part in item["content"] if isinstance(part, dict) and "text" in part]
        assert "The map moved. [plan gold, map m/1&x=2]" in texts
        assert "@Atlas for local on plan gold" in texts


@pytest.mark.parametrize(("http", "message"), [
    ({"url": "https://api.example.com/n", "body": {"a": "b"}},
     "tools.orders.http: a GET request has no body: use `query`, or method POST, PUT or PATCH"),
    ({"url": "https://api.example.com/n", "query": {"a": "{{ state.customer "}},
     "tools.orders.http: query.a: template syntax error: unexpected end of template, expected "
     "'end of print statement'."),
    ({"url": "https://api.example.com/{{ state.customer + }}"},
     "tools.orders.http: url: template syntax error: unexpected 'end of print statement'"),
])
def test_broken_http_templates_are_located_errors(tmp_path: Path, http: dict[str, Any], message: str) -> None:
    config = map_config("https://api.example.com")
    config["tools"]["orders"] = {"http": http}
    with pytest.raises(ConfigError) as error:
        build_runtime(load_config(write_project(tmp_path, config, SCRIPT), environ={}))
    rendered = [problem.render(tmp_path) for problem in error.value.problems]
    assert any(line.endswith(message) for line in rendered), rendered
