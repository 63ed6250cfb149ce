"""`GET /metrics`: Prometheus text that the reference parser reads, moving as a conversation runs."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from chatkit_host.observability import metrics
from chatkit_host.testing import ChatKitClient, run_host, serve_host, user_input
from projects import DEMO_SCRIPT, TOOLS_PY, base_config, write_project

pytestmark = pytest.mark.serial

BROKEN_TOOL = TOOLS_PY + '''

def broken_lookup(order_id: str) -> str:
    """Always fails.

    Args:
        order_id: The order id.
    """
    raise RuntimeError("the order service is down")
'''

SCRIPT = {"replies": [
    {"when": ["broken"], "steps": [
        {"call": "broken_lookup", "arguments": {"order_id": "A-1"}},
        {"say": "Sorry: {{ tool_output }}"},
    ]},
    *DEMO_SCRIPT["replies"],
]}


@asynccontextmanager
async def running(root: Path, config: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    path = write_project(root, config, SCRIPT, files={"tools.py": BROKEN_TOOL})
    async with run_host(path) as running:
        yield running.http


def project_config() -> dict[str, Any]:
    config = base_config()
    config["tools"]["broken_lookup"] = {"python": "./tools.py:broken_lookup"}
    config["agents"]["triage"]["tools"].append("broken_lookup")
    return config


class Samples:
    """One scrape, parsed by prometheus_client's own text-format parser."""

    def __init__(self, text: str):
        self.families = {f.name: f for f in text_string_to_metric_families(text)}

    def value(self, name: str, **labels: str) -> float:
        return sum(
            sample.value
            for family in self.families.values() for sample in family.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        )


async def scrape(http: httpx.AsyncClient, headers: dict[str, str] | None = None) -> Samples:
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Samples(response.text)


async def test_counters_move_as_a_scripted_conversation_runs(tmp_path: Path) -> None:
    async with running(tmp_path, project_config()) as http:
        client = ChatKitClient("/chatkit", client=http)
        before = await scrape(http)
        assert {"chatkit_requests", "chatkit_turn_duration_seconds", "chatkit_model_tokens",
                "chatkit_tool_calls", "chatkit_reloads", "chatkit_open_streams",
                "chatkit_turn_first_event_seconds"} <= set(before.families)

        first = await client.create_thread("hello there")
        thread_id = first.thread_id or ""
        await client.add_message(thread_id, "where is my order?")
        await client.add_message(thread_id, "the broken one, please")
        await client.list_items(thread_id)
        metrics.reload_finished(ok=False)  # what the reloader calls after a failed reload

        after = await scrape(http)

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved("chatkit_requests_total", type="threads.create", outcome="ok") == 1
    assert moved("chatkit_requests_total", type="threads.add_user_message", outcome="ok") == 2
    assert moved("chatkit_requests_total", type="items.list", outcome="ok") == 1
    assert moved("chatkit_request_duration_seconds_count", type="items.list") == 1
    assert moved("chatkit_turn_duration_seconds_count", agent="triage") == 3
    assert moved("chatkit_turn_first_event_seconds_count", agent="triage") == 3
    # Five model calls: one per plain reply, two per tool turn; the scripted model reports usage.
    assert moved("chatkit_model_calls_total", model="offline") == 5
    assert moved("chatkit_model_tokens_total", model="offline", kind="input") > 0
    assert moved("chatkit_model_tokens_total", model="offline", kind="output") > 0
    assert moved("chatkit_tool_calls_total", tool="lookup_order", outcome="ok") == 1
    assert moved("chatkit_tool_calls_total", tool="broken_lookup", outcome="error") == 1
    assert moved("chatkit_tool_calls_total", tool="broken_lookup", outcome="ok") == 0
    assert moved("chatkit_reloads_total", outcome="error") == 1
    assert after.value("chatkit_open_streams") == 0


async def test_refused_and_unauthorized_requests_are_counted_by_outcome(tmp_path: Path) -> None:
    config = project_config()
    config["auth"] = {"mode": "bearer", "tokens": {"alice": "secret-token"}}
    alice = {"Authorization": "Bearer secret-token"}
    async with running(tmp_path, config) as http:
        before = await scrape(http, alice)
        anonymous = await http.post("/chatkit", content=b'{"type":"threads.list","params":{}}')
        assert anonymous.status_code == 401
        client = ChatKitClient("/chatkit", token="secret-token", client=http)
        missing = await http.post(
            "/chatkit", headers={"Authorization": "Bearer secret-token"},
            content=b'{"type":"threads.get_by_id","params":{"thread_id":"thr_nope"}}')
        assert missing.status_code == 404
        await client.list_threads()
        after = await scrape(http, alice)

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved("chatkit_requests_total", type="-", outcome="unauthorized") == 1
    assert moved("chatkit_requests_total", type="threads.get_by_id", outcome="refused") == 1
    assert moved("chatkit_requests_total", type="threads.list", outcome="ok") == 1


async def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    config = project_config()
    config["observability"] = {"metrics": False}
    async with running(tmp_path, config) as http:
        assert (await http.get("/metrics")).status_code == 404


@pytest.mark.serial
def test_one_scrape_counts_every_worker_of_serve(tmp_path: Path) -> None:
    slow = {"replies": [{"when": ["slow"], "steps": [{"say": "word " * 500}]}, *SCRIPT["replies"]],
            "delay_ms": 20}
    write_project(tmp_path, project_config(), slow, files={"tools.py": BROKEN_TOOL})
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    # Worker processes are slow to spawn on a busy machine: a generous start-up timeout.
    with serve_host(tmp_path, "--workers", "2", env={"TMPDIR": str(scratch)}, timeout=90) as host:
        (shared,) = scratch.glob("chatkit-host-metrics-*")
        sent = 0
        # New connections land on either worker; a worker's counter file appears with its first
        # counted request.
        while len(list(shared.glob("counter_*.db"))) < 2 and sent < 400:
            response = httpx.post(host.url, content=b'{"type":"threads.list","params":{}}')
            assert response.status_code == 200
            sent += 1
        assert len(list(shared.glob("counter_*.db"))) == 2, f"one worker served all {sent}"
        # A request is counted when its response has ended, a moment after the client has it.
        deadline = time.monotonic() + 10
        while True:
            scraped = Samples(httpx.get(f"{host.base}/metrics").text)
            counted = scraped.value("chatkit_requests_total", type="threads.list", outcome="ok")
            if counted == sent or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert counted == sent
        assert scraped.value("chatkit_request_duration_seconds_count", type="threads.list") == sent
        assert scraped.value("chatkit_open_streams") == 0

        # A worker killed while it streams: its counts stay, its open stream goes.
        with httpx.stream("POST", host.url, timeout=30, json={
                "type": "threads.create", "params": {"input": user_input("slow please")}}) as stream:
            next(line for line in stream.iter_lines() if "text_delta" in line)
            (streaming,) = [pid for pid, value in live_gauges(shared).items() if value == 1]
            os.kill(streaming, signal.SIGKILL)
        # Its gauge goes once uvicorn has reaped it (until then the pid is a zombie's).
        deadline = time.monotonic() + 10
        while True:
            scraped = Samples(httpx.get(f"{host.base}/metrics").text)
            if scraped.value("chatkit_open_streams") == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert scraped.value("chatkit_open_streams") == 0
        assert scraped.value("chatkit_requests_total", type="threads.list", outcome="ok") == sent
    # serve removes the directory it made.
    assert list(scratch.iterdir()) == []


async def test_tools_an_action_route_calls_are_counted(tmp_path: Path) -> None:
    config = project_config()
    config["actions"] = {"order.check": {"payload": {"order_id": "string"}, "do": [
        {"call": "lookup_order"}, {"hidden_context": "Order {{ payload.order_id }} is {{ result.status }}."},
    ]}}
    async with running(tmp_path, config) as http:
        client = ChatKitClient("/chatkit", client=http)
        thread_id = (await client.create_thread("hello")).thread_id or ""
        before = await scrape(http)
        turn = await client.custom_action(thread_id, "order.check", {"order_id": "A-7"})
        assert turn.errors == []
        after = await scrape(http)
    labels = {"tool": "lookup_order", "outcome": "ok"}
    assert after.value("chatkit_tool_calls_total", **labels) - before.value("chatkit_tool_calls_total", **labels) == 1


@pytest.mark.serial
def test_a_model_call_cut_short_by_a_disconnect_is_counted(tmp_path: Path) -> None:
    script = {"delay_ms": 50, "replies": [{"steps": [{"say": " ".join(["word"] * 400)}]}]}
    config = base_config()
    config["stream"] = {"coalesce_ms": 0}
    write_project(tmp_path, config, script)
    with serve_host(tmp_path) as host, httpx.Client(timeout=30) as http:
        body = b'{"type":"threads.create","params":{"input":{"content":[{"type":"input_text",' \
               b'"text":"hi"}],"attachments":[],"inference_options":{}}}}'
        with http.stream("POST", host.url, content=body) as response:
            for line in response.iter_lines():
                if "text_delta" in line:
                    break  # the model is mid-answer: leave
        for _ in range(1000):  # until the server has seen the client go and closed the stream
            after = Samples(http.get(host.base + "/metrics").text)
            if after.value("chatkit_open_streams") == 0:
                break
            time.sleep(0.01)
        assert after.value("chatkit_open_streams") == 0
    assert after.value("chatkit_model_calls_total", model="offline") == 1
    assert after.value("chatkit_model_tokens_total", model="offline") == 0  # it never reported usage


def live_gauges(directory: Path) -> dict[int, float]:
    """Each worker's `chatkit_open_streams`, read from its file in the shared directory."""
    return {
        int(path.stem.rsplit("_", 1)[1]): sum(
            value for _, value, _, _ in MmapedDict.read_all_values_from_file(str(path)))
        for path in directory.glob("gauge_livesum_*.db")
    }
