"""Guardrails declared in chatkit.yaml: a tripwire ends the turn with the configured message, leaves
nothing of the turn in the thread (over HTTP and in the store), and is logged and counted."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
)
from datetime import datetime
from prometheus_client.parser import text_string_to_metric_families

from chatkit_host.config.loader import load_config
from chatkit_host.context import RequestContext
from chatkit_host.errors import ConfigError
from chatkit_host.host import Host
from chatkit_host.runtime.build import build_runtime
from chatkit_host.protocol.stream_ids import FreshItemIds
from chatkit_host.testing import ChatKitClient, Turn, run_host
from logcapture import captured_logs
from loopback import JsonHandler, serving
from projects import DEMO_SCRIPT, base_config, recorded_calls, write_project

GUARDS_PY = '''
from agents import GuardrailFunctionOutput, input_guardrail


def mentions_refund(text: str) -> bool:
    return "refund" in text.lower() or "shipped" in text.lower()


@input_guardrail
def no_shouting(ctx, agent, input):
    text = input if isinstance(input, str) else str(input)
    return GuardrailFunctionOutput(output_info=None, tripwire_triggered="HELP" in text)
'''


@asynccontextmanager
async def running(
    root: Path, config: dict[str, Any], script: dict[str, Any] | None = None
) -> AsyncIterator[tuple[Host, ChatKitClient]]:
    async with run_host(write_project(root, config, script, files={"guards.py": GUARDS_PY})) as started:
        yield started.host, started.client()


def guarded(**guardrails: Any) -> dict[str, Any]:
    config = base_config()
    config["agents"]["triage"]["guardrails"] = guardrails
    return config


async def stored(host: Host, thread_id: str) -> list[tuple[str, str]]:
    """Every item the store holds for the thread, hidden ones included: (type, id)."""
    page = await host.store.load_thread_items(thread_id, None, 100, "asc", RequestContext("local"))
    return [(item.type, item.id) for item in page.data]


def error_of(turn: Turn) -> dict[str, Any]:
    assert len(turn.errors) == 1, turn.events
    return turn.errors[0]


def counter(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


async def scrape(client: ChatKitClient) -> str:
    response = await client._client.get("/metrics")
    assert response.status_code == 200
    return response.text


async def test_input_tripwire_answers_with_the_message_and_removes_the_turn(tmp_path: Path) -> None:
    config = guarded(input=[{"blocked_terms": ["password", "social security number"],
                             "message": "I can't discuss credentials."}])
    async with running(tmp_path, config) as (host, client):
        ok = await client.create_thread("hello")
        thread_id = ok.thread_id
        assert thread_id
        before = await scrape(client)
        calls_before = len(recorded_calls(tmp_path))

        with captured_logs() as records:
            blocked = await client.add_message(thread_id, "What is my PASSWORD?")

        error = error_of(blocked)
        assert (error["code"], error["message"]) == ("custom", "I can't discuss credentials.")
        assert blocked.assistant_text == ""
        # Input checks run before the model: no call was made, no token spent.
        assert len(recorded_calls(tmp_path)) == calls_before
        # The blocked message is gone from the client's view, the item list and the store.
        user_id = [e["item"]["id"] for e in blocked.events if e["type"] == "thread.item.done"]
        removed = [e["item_id"] for e in blocked.events if e["type"] == "thread.item.removed"]
        assert user_id and removed == user_id
        items = await client.list_items(thread_id)
        assert [(i["type"], _text(i)) for i in items["data"]] == [
            ("user_message", "hello"), ("assistant_message", "Echo 1: hello")]
        assert [kind for kind, _ in await stored(host, thread_id)] == [
            "user_message", "assistant_message"]

        after = await scrape(client)
        trips = dict(agent="triage", stage="input", check="blocked_terms")
        assert counter(after, "chatkit_guardrail_trips_total", **trips) == \
            counter(before, "chatkit_guardrail_trips_total", **trips) + 1
        outcome = dict(type="threads.add_user_message", outcome="guardrail")
        assert counter(after, "chatkit_requests_total", **outcome) == \
            counter(before, "chatkit_requests_total", **outcome) + 1

        trip_lines = [r for r in records if r.getMessage() == "guardrail tripped"]
        assert [r.chatkit_fields for r in trip_lines] == [  # type: ignore[attr-defined]
            {"agent": "triage", "stage": "input", "check": "blocked_terms", "thread": thread_id}]
        # The request's line is written once its response has ended, which may be a moment after
        # the client read the last event.
        request_lines = await logged_requests(records, count=1)
        assert request_lines[-1]["outcome"] == "guardrail"
        # The blocked text never reaches the log (not at info level).
        assert not [r for r in records if "PASSWORD" in str(r.__dict__)]

        # The conversation goes on, and the model never sees the blocked message.
        after_block = await client.add_message(thread_id, "thanks")
        assert after_block.assistant_text == "Echo 2: thanks"
        assert "PASSWORD" not in json.dumps(recorded_calls(tmp_path)[-1]["input"])


async def test_output_tripwire_removes_the_streamed_reply_and_the_tool_history(
    tmp_path: Path,
) -> None:
    config = guarded(output=[{"python": "./guards.py:mentions_refund"}],
                     message="That answer was withheld.")
    # Paced deltas: the reply is seen streaming before the answer is complete and checked (else
    # the check may win the race and nothing of the reply reaches the client at all).
    async with running(tmp_path, config, {**DEMO_SCRIPT, "delay_ms": 5}) as (host, client):
        first = await client.create_thread("hi")
        thread_id = first.thread_id
        assert thread_id and first.assistant_text == "Echo 1: hi"

        # "order" calls lookup_order (its output says "shipped"), then answers with it.
        blocked = await client.add_message(thread_id, "where is my order?")

        error = error_of(blocked)
        assert (error["code"], error["message"]) == ("custom", "That answer was withheld.")
        added = [e["item"] for e in blocked.events if e["type"] == "thread.item.added"]
        reply_ids = [i["id"] for i in added if i["type"] == "assistant_message"]
        deltas = [e for e in blocked.events if e["type"] == "thread.item.updated"]
        assert len(reply_ids) == 1 and deltas  # the reply had streamed before the check ran …
        removed = {e["item_id"] for e in blocked.events if e["type"] == "thread.item.removed"}
        assert set(reply_ids) <= removed  # … and its own (rewritten) id was removed

        items = await client.list_items(thread_id)
        assert [(i["type"], _text(i)) for i in items["data"]] == [
            ("user_message", "hi"), ("assistant_message", "Echo 1: hi"),
            ("user_message", "where is my order?")]
        # No partial reply and no hidden tool history left behind in the store either.
        assert [kind for kind, _ in await stored(host, thread_id)] == [
            "user_message", "assistant_message", "user_message"]

        text = await scrape(client)
        assert counter(text, "chatkit_guardrail_trips_total", agent="triage", stage="output",
                       check="./guards.py:mentions_refund") >= 1


async def test_sdk_guardrail_objects_and_length_limits(tmp_path: Path) -> None:
    config = guarded(input=[{"python": "./guards.py:no_shouting"}, {"max_length": 40}],
                     message="Please rephrase.")
    async with running(tmp_path, config) as (host, client):
        shout = await client.create_thread("HELP me")
        assert error_of(shout)["message"] == "Please rephrase."
        thread_id = shout.thread_id
        assert thread_id
        assert await stored(host, thread_id) == []

        long = await client.add_message(thread_id, "x" * 41)
        assert error_of(long)["message"] == "Please rephrase."
        fine = await client.add_message(thread_id, "x" * 40)
        assert fine.errors == [] and fine.assistant_text == "Echo 1: " + "x" * 40


async def test_moderation_asks_the_openai_api_and_trips_on_flagged_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with moderation_stand_in(flag_word="attack") as (url, seen):
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
        config = guarded(input=[{"moderation": {"categories": ["violence"]}}])
        async with running(tmp_path, config) as (_, client):
            calm = await client.create_thread("a calm question")
            assert calm.errors == [] and calm.assistant_text == "Echo 1: a calm question"
            flagged = await client.add_message(calm.thread_id or "", "plan an attack")
            assert error_of(flagged)["message"] == "Sorry, I can't help with that request."
        assert [body["input"] for body in seen] == ["a calm question", "plan an attack"]
        assert {body["model"] for body in seen} == {"omni-moderation-latest"}


async def test_moderation_that_cannot_be_reached_blocks_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    config = guarded(input=[{"moderation": {}}], message="Try again later.")
    async with running(tmp_path, config) as (_, client):
        turn = await client.create_thread("hello")
        assert error_of(turn)["message"] == "Try again later."


def test_guardrail_config_errors_name_the_key_and_the_fix(tmp_path: Path) -> None:
    config = guarded(input=[{"max_length": 10, "blocked_terms": ["x"]},
                            {"python": "./guards.py:nope"}],
                     output=[{"python": "./guards.py:no_shouting"}])
    path = write_project(tmp_path, config, files={"guards.py": GUARDS_PY})
    with pytest.raises(ConfigError) as first:
        load_config(path, environ={})
    text = str(first.value)
    assert "chatkit.yaml:19:9: agents.triage.guardrails.input[0]: a guardrail needs" in text
    assert "exactly one of python, max_length, blocked_terms, moderation" in text

    config["agents"]["triage"]["guardrails"]["input"] = [{"python": "./guards.py:nope"}]
    path = write_project(tmp_path, config, files={"guards.py": GUARDS_PY})
    with pytest.raises(ConfigError) as second:
        build_runtime(load_config(path, environ={}))
    text = str(second.value)
    assert "agents.triage.guardrails.input[0].python" in text
    assert "has no attribute 'nope'" in text
    assert "agents.triage.guardrails.output[0].python" in text
    assert "is an InputGuardrail, listed under output" in text


async def test_one_removal_of_a_shared_model_id_removes_every_message_it_named() -> None:
    # Chat Completions models give every message the same id, and the SDK removes each id it
    # produced once: both messages, stored under fresh ids, must go.
    fresh = iter(["msg_a", "msg_b"])
    ids = FreshItemIds(lambda: next(fresh))

    def message(text: str) -> AssistantMessageItem:
        return AssistantMessageItem(id="__fake_id__", thread_id="thr", created_at=datetime.now(),
                                    content=[AssistantMessageContent(text=text)])

    async def events() -> AsyncIterator[Any]:
        for text in ("one", "two"):
            yield ThreadItemAddedEvent(item=message(text))
            yield ThreadItemDoneEvent(item=message(text))
        yield ThreadItemRemovedEvent(item_id="__fake_id__")
        yield ThreadItemRemovedEvent(item_id="call_123")  # not ours: passes through

    out = [e async for e in ids.rewrite(events())]
    assert [e.item_id for e in out if isinstance(e, ThreadItemRemovedEvent)] == [
        "msg_a", "msg_b", "call_123"]


async def logged_requests(records: list[logging.LogRecord], count: int) -> list[dict[str, Any]]:
    """The request lines among ``records``, once there are ``count`` of them (or after 10 s)."""
    for _ in range(1000):
        lines = [r.chatkit_fields for r in records  # type: ignore[attr-defined]
                 if r.name == "chatkit_host.requests"]
        if len(lines) >= count:
            return lines
        await asyncio.sleep(0.01)
    return lines


def _text(item: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for part in item.get("content", []))


@contextmanager
def moderation_stand_in(flag_word: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback stand-in for OpenAI's `/v1/moderations`, flagging text with ``flag_word``."""
    seen: list[dict[str, Any]] = []

    class Handler(JsonHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.read_json()
            seen.append(body)
            flagged = flag_word in body["input"]
            self.send_json({"id": "modr-1", "model": body["model"], "results": [{
                "flagged": flagged,
                "categories": {"violence": flagged, "harassment": False},
                "category_scores": {"violence": 0.9 if flagged else 0.0, "harassment": 0.0},
            }]})

    with serving(Handler) as url:
        yield f"{url}/v1", seen
