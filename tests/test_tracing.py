"""Tracing declared in chatkit.yaml, exported over OTLP/HTTP to a collector stand-in on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from chatkit_host.config.loader import load_config
from chatkit_host.host import Host
from chatkit_host.runtime.build import build_runtime
from chatkit_host.testing import ChatKitClient, free_port, run_host
from chatkit_host.observability.tracing import OtlpProcessor
from loopback import JsonHandler, serving

from projects import base_config, write_project


class Collector:
    """What the stand-in received: OTLP/HTTP JSON export requests."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.lock = threading.Lock()

    def spans(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {**span, "attrs": {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}}
                for request in self.requests
                for resource in request["resourceSpans"]
                for scope in resource["scopeSpans"]
                for span in scope["spans"]
            ]

    def wait_for(self, count: int, name: str, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Spans, once ``count`` spans called ``name`` have arrived (export is asynchronous)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            spans = self.spans()
            if sum(s["name"] == name for s in spans) >= count:
                return spans
            time.sleep(0.05)
        raise AssertionError(f"no {count} '{name}' spans; got {[s['name'] for s in self.spans()]}")


@contextmanager
def collector() -> Iterator[tuple[str, Collector]]:
    received = Collector()

    class Handler(JsonHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.read_body()
            assert self.headers["Content-Type"] == "application/json"
            with received.lock:
                received.paths.append(self.path)
                received.requests.append(json.loads(body))
            self.send_json({})

    with serving(Handler) as url:
        yield f"{url}/v1/traces", received


def traced(endpoint: str, **tracing: Any) -> dict[str, Any]:
    config = base_config()
    config["observability"] = {"tracing": {
        "enabled": True, "exporters": ["otlp"], "workflow_name": "support-desk",
        "otlp": {"endpoint": endpoint, "timeout_s": 1}, **tracing,
    }}
    return config


@asynccontextmanager
async def running(root: Path, config: dict[str, Any]) -> AsyncIterator[tuple[Host, ChatKitClient]]:
    async with run_host(write_project(root, config)) as started:
        yield started.host, started.client()


async def test_a_turn_is_traced_with_its_model_and_tool_calls_grouped_by_thread(
    tmp_path: Path,
) -> None:
    with collector() as (endpoint, received):
        async with running(tmp_path, traced(endpoint)) as (_, client):
            first = await client.create_thread("where is my order?")
            thread_id = first.thread_id
            assert first.assistant_text.startswith("Order status:")
            second = await client.add_message(thread_id or "", "thanks")
            assert second.assistant_text == "Echo 2: thanks"
            spans = received.wait_for(2, "support-desk")

    assert set(received.paths) == {"/v1/traces"}
    roots = [s for s in spans if s["name"] == "support-desk"]
    assert {r["attrs"]["chatkit.thread_id"] for r in roots} == {thread_id}
    by_trace: dict[str, list[str]] = {}
    for span in spans:
        by_trace.setdefault(span["traceId"], []).append(span["name"])
    assert len(by_trace) == 2  # one trace per turn …
    assert all(s["attrs"].get("chatkit.thread_id") == thread_id for s in spans)  # … one thread
    tool_turn = next(names for names in by_trace.values() if "execute_tool lookup_order" in names)
    assert tool_turn.count("chat offline") == 2  # the call, then the answer
    assert {"support-desk", "run support-desk", "invoke_agent triage", "turn 1 triage",
            "turn 2 triage"} <= set(tool_turn)
    plain_turn = next(names for names in by_trace.values() if names is not tool_turn)
    assert plain_turn.count("chat offline") == 1 and "execute_tool lookup_order" not in plain_turn

    # Every span hangs from a span of its own trace: the run's root, the agent, the model call.
    ids = {(s["traceId"], s["spanId"]) for s in spans}
    assert all((s["traceId"], s["parentSpanId"]) in ids for s in spans if "parentSpanId" in s)
    model = next(s for s in spans if s["name"] == "chat offline")
    assert int(model["attrs"]["gen_ai.usage.output_tokens"]) > 0
    assert int(model["endTimeUnixNano"]) >= int(model["startTimeUnixNano"]) > 0
    # Sensitive data is off by default: no tool arguments, results or model input in spans.
    tool = next(s for s in spans if s["name"] == "execute_tool lookup_order")
    assert "gen_ai.tool.call.arguments" not in tool["attrs"]
    assert "gen_ai.input.messages" not in model["attrs"]


async def test_sensitive_data_is_recorded_only_when_switched_on(tmp_path: Path) -> None:
    with collector() as (endpoint, received):
        config = traced(endpoint, include_sensitive_data=True)
        async with running(tmp_path, config) as (_, client):
            await client.create_thread("where is my order?")
            spans = received.wait_for(1, "support-desk")
    tool = next(s for s in spans if s["name"] == "execute_tool lookup_order")
    assert json.loads(tool["attrs"]["gen_ai.tool.call.arguments"]) == {"order_id": "A-1001"}


async def test_a_collector_that_is_down_never_stops_a_turn(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}/v1/traces"  # nothing listens there
    async with running(tmp_path, traced(endpoint)) as (host, client):
        turn = await client.create_thread("where is my order?")
        assert turn.errors == [] and turn.assistant_text.startswith("Order status:")
        again = await client.add_message(turn.thread_id or "", "still there?")
        assert again.assistant_text == "Echo 2: still there?"
        route = host.runtime.tracing.route
        assert route is not None
        processor = route.exporters[0]
        assert isinstance(processor, OtlpProcessor)
        processor.force_flush()
        assert processor.exporter.failed > 0 and processor.exporter.sent == 0


def test_tracing_is_off_without_an_openai_key_and_on_with_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    path = write_project(tmp_path, base_config())
    off = build_runtime(load_config(path, environ={})).run_config("thr_1")
    assert off.tracing_disabled is True

    config = base_config()
    config["models"]["providers"]["openai"] = {"api_key": "sk-test-not-real"}
    on = build_runtime(load_config(write_project(tmp_path, config), environ={})).run_config("thr_1")
    assert on.tracing_disabled is False
    assert (on.group_id, on.workflow_name) == ("thr_1", "chatkit-host")
    assert on.trace_include_sensitive_data is False

    config["observability"] = {"tracing": {"exporters": ["none"]}}
    none = build_runtime(load_config(write_project(tmp_path, config), environ={})).run_config("t")
    assert none.tracing_disabled is True


async def test_openai_traces_go_to_the_service_the_key_belongs_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths: list[str] = []

    class Handler(JsonHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.read_body()
            paths.append(self.path)
            self.send_json({})

    with serving(Handler) as url:
        # A key for a proxy or a stand-in: its traces must not go to api.openai.com.
        monkeypatch.setenv("OPENAI_BASE_URL", f"{url}/v1")
        config = base_config()
        config["models"]["providers"]["openai"] = {"api_key": "sk-test-not-real"}
        async with running(tmp_path, config) as (host, client):
            assert (await client.create_thread("hello")).errors == []
            route = host.runtime.tracing.route
            assert route is not None
            for exporter in route.exporters:
                exporter.force_flush()
    assert paths and set(paths) == {"/v1/traces/ingest"}
