"""Workflows over the ChatKit protocol: branches, loops, state, transforms, end messages, progress."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatkit_host.context import RequestContext
from chatkit_host.testing import run_host
from projects import recorded_calls
from ui_project import texts
from workflow_projects import (
    CLASSIFIER_SCRIPTS, REVIEW_SCRIPTS, classifier_config, review_loop_config, write_workflow_project,
)


async def nodes_ran(host: Any, thread_id: str) -> list[str]:
    """The nodes the thread's last workflow turn ran (kept in the thread's metadata)."""
    thread = await host.store.load_thread(thread_id, RequestContext(user_id="local"))
    return thread.metadata["workflow"]["nodes"]


def _workflow_items(turn: Any) -> list[dict[str, Any]]:
    return [item for item in turn.items_done if item["type"] == "workflow"]


@pytest.mark.parametrize(("message", "reply", "branch"), [
    ("I want to book a flight", "Booking agent: your flight is held.", "book"),
    ("Where is my invoice?", "Billing agent: the invoice is on its way.", "bill"),
    ("What's the weather?", "Concierge: happy to help.", "other"),
])
async def test_each_branch_of_a_classifier_ends_in_its_agent(tmp_path: Path, message: str, reply: str,
                                                             branch: str) -> None:
    async with run_host(write_workflow_project(tmp_path, classifier_config(), CLASSIFIER_SCRIPTS)) as running:
        host, client = running.host, running.client()
        turn = await client.create_thread(message)
        assert turn.errors == []
        # The classifier's JSON never reaches the user: only the branch agent's reply does.
        assert turn.assistant_text == reply
        assert [i["type"] for i in turn.items_done] == ["user_message", "workflow", "assistant_message"]
        tasks = _workflow_items(turn)[0]["workflow"]["tasks"]
        assert [(t["title"], t["status_indicator"]) for t in tasks] == [
            ("classifier", "complete"), (f"route: {branch}", "complete")]
        assert await nodes_ran(host, turn.thread_id) == ["classify", "route", branch]
        items = (await client.list_items(turn.thread_id))["data"]
        assert [i["type"] for i in items] == ["user_message", "workflow", "assistant_message"]

    calls = recorded_calls(tmp_path)
    # The branch agent saw what the export's bookkeeping gives it: the user's message, then the
    # classifier's output.
    assert texts(calls[1]["input"])[-2:] == [message, json.dumps(json.loads(texts(calls[1]["input"])[-1]))]
    assert json.loads(texts(calls[1]["input"])[-1])["category"] == {"book": "booking", "bill": "billing"}.get(
        branch, "other")


async def test_the_next_turn_sees_the_replies_not_the_structured_output(tmp_path: Path) -> None:
    async with run_host(write_workflow_project(tmp_path, classifier_config(), CLASSIFIER_SCRIPTS)) as running:
        client = running.client()
        first = await client.create_thread("I want to book a flight")
        second = await client.add_message(first.thread_id, "and an invoice please")
        assert second.assistant_text == "Billing agent: the invoice is on its way."
    calls = recorded_calls(tmp_path)
    assert len(calls) == 4
    assert texts(calls[2]["input"]) == ["I want to book a flight", "Booking agent: your flight is held.",
                                        "and an invoice please"]


async def test_a_loop_ends_when_the_reviewer_approves(tmp_path: Path) -> None:
    path = write_workflow_project(tmp_path, review_loop_config(), REVIEW_SCRIPTS)
    async with run_host(path) as running:
        host, client = running.host, running.client()
        turn = await client.create_thread("an easy poem please")
        assert turn.errors == []
        assert turn.assistant_text == "Approved after 1 round(s): Draft: a short poem."
        assert await nodes_ran(host, turn.thread_id) == [
            "loop", "write", "review", "count", "decide", "publish", "done"]


async def test_a_loop_stops_at_its_maximum(tmp_path: Path) -> None:
    path = write_workflow_project(tmp_path, review_loop_config(max_rounds=3), REVIEW_SCRIPTS)
    async with run_host(path) as running:
        host, client = running.host, running.client()
        turn = await client.create_thread("a hard poem please")
        assert turn.assistant_text == "No approval after 3 rounds."
        ran = await nodes_ran(host, turn.thread_id)
        assert ran.count("write") == 3 and ran[-2:] == ["loop", "gave_up"]
        tasks = [t["title"] for t in _workflow_items(turn)[0]["workflow"]["tasks"]]
        assert tasks[-1] == "loop: stopped at its maximum after 3 round(s)"
        # Hidden replies (the drafts, the verdicts) are not in the thread; the end message is.
        items = (await client.list_items(turn.thread_id))["data"]
        assert [i["type"] for i in items] == ["user_message", "workflow", "assistant_message"]
    calls = recorded_calls(tmp_path)
    assert len(calls) == 6
    # Each round's writer sees the rounds before it, as the export's conversation_history has them.
    assert texts(calls[4]["input"]) == ["a hard poem please", "Draft: a short poem.", '{"verdict": "revise"}',
                                        "Draft: a short poem.", '{"verdict": "revise"}']


async def test_a_failing_expression_ends_the_turn_with_an_error_not_a_traceback(tmp_path: Path) -> None:
    config = classifier_config()
    # Valid, but reads a field the classifier's reply may leave out: here it does.
    config["workflows"]["support"]["nodes"]["route"]["if"][0]["when"] = "outputs.classify.confidence > 0.5"
    scripts = {**CLASSIFIER_SCRIPTS, "classifier": {"replies": [{"steps": [{"say": '{"category": "other"}'}]}]}}
    async with run_host(write_workflow_project(tmp_path, config, scripts)) as running:
        client = running.client()
        turn = await client.create_thread("hello")
        assert [e["message"] for e in turn.errors] == ["Sorry, this conversation could not go on. Please try again."]
        assert turn.assistant_text == ""


async def test_a_reload_mid_turn_leaves_the_running_workflow_on_its_graph(tmp_path: Path) -> None:
    from chatkit_host.config.loader import load_config
    from chatkit_host.runtime.build import build_runtime
    from chatkit_host.testing import Turn, user_input

    slow = {**CLASSIFIER_SCRIPTS["classifier"], "stream": "word", "delay_ms": 30}
    path = write_workflow_project(tmp_path, classifier_config(), {**CLASSIFIER_SCRIPTS, "classifier": slow})
    changed = classifier_config()
    branches = changed["workflows"]["support"]["nodes"]["route"]["if"]
    branches[0]["then"], branches[1]["then"] = "bill", "book"  # bookings go to billing now
    async with run_host(path) as running:
        host, client = running.host, running.client()
        events: list[dict[str, Any]] = []
        async for event in client.events("threads.create", {"input": user_input("book a flight")}):
            events.append(event)
            if event["type"] == "thread.item.added" and event["item"]["type"] == "workflow" and len(events) < 10:
                assert not Turn(events).assistant_text  # the turn is under way, nothing answered yet
                write_workflow_project(tmp_path, changed, {**CLASSIFIER_SCRIPTS, "classifier": slow})
                host.swap(build_runtime(load_config(path, environ={})))
        assert Turn(events).assistant_text == "Booking agent: your flight is held."  # the graph it began with
        after = await client.create_thread("book a flight")
        assert after.assistant_text == "Billing agent: the invoice is on its way."


async def test_an_agent_calls_a_workflow_as_a_tool(tmp_path: Path) -> None:
    config = classifier_config()
    config["agents"]["frontdesk"] = {"instructions": "Greet, then ask support.", "model": "frontdesk/model",
                                     "tools": ["ask_support"]}
    config["tools"] = {"ask_support": {"workflow": "support"}}
    config["entry"] = "frontdesk"
    scripts = {**CLASSIFIER_SCRIPTS, "frontdesk": {"replies": [{"steps": [
        {"call": "ask_support", "arguments": {"input": "{{ user_text }}"}},
        {"say": "Front desk: {{ tool_output }}"}]}], "stream": "whole"}}
    async with run_host(write_workflow_project(tmp_path, config, scripts)) as running:
        client = running.client()
        turn = await client.create_thread("where is my invoice?")
        assert turn.errors == []
        assert turn.assistant_text == "Front desk: Billing agent: the invoice is on its way."
        # The workflow's own steps and replies stay inside the tool call.
        assert [i["type"] for i in (await client.list_items(turn.thread_id))["data"]] == [
            "user_message", "assistant_message"]
    calls = recorded_calls(tmp_path)
    assert texts(calls[1]["input"]) == ["where is my invoice?"]  # the classifier sees the tool's input only


async def test_workflow_agents_read_the_threads_state_like_any_agent(tmp_path: Path) -> None:
    config = {**classifier_config(), "state": {"properties": {"plan": "string?"},
                                               "context": "The user's plan: {{ state.plan or 'none' }}."}}
    async with run_host(write_workflow_project(tmp_path, config, CLASSIFIER_SCRIPTS)) as running:
        client = running.client()
        turn = await client.create_thread("book a flight")
        assert turn.assistant_text == "Booking agent: your flight is held."
    for call in recorded_calls(tmp_path):  # the classifier's and the booking agent's
        assert texts(call["input"])[0] == "The user's plan: none."


async def test_a_retry_runs_the_workflow_on_the_users_last_message(tmp_path: Path) -> None:
    config = classifier_config()
    config["workflows"]["support"]["nodes"]["route"]["if"][1]["when"] = 'input_as_text.contains("invoice")'
    async with run_host(write_workflow_project(tmp_path, config, CLASSIFIER_SCRIPTS)) as running:
        host, client = running.host, running.client()
        first = await client.create_thread("where is my invoice?")
        message = next(i for i in first.items_done if i["type"] == "user_message")
        again = await client.retry_after_item(first.thread_id, message["id"])
        assert again.errors == []
        assert again.assistant_text == "Billing agent: the invoice is on its way."
        assert await nodes_ran(host, first.thread_id) == ["classify", "route", "bill"]


async def test_an_actions_respond_step_runs_the_workflow_on_the_users_last_message(tmp_path: Path) -> None:
    config = classifier_config()
    config["workflows"]["support"]["nodes"]["route"]["if"][1]["when"] = 'input_as_text.contains("invoice")'
    config["actions"] = {"ask.again": {"do": [{"respond": True}]}}
    async with run_host(write_workflow_project(tmp_path, config, CLASSIFIER_SCRIPTS)) as running:
        host, client = running.host, running.client()
        first = await client.create_thread("where is my invoice?")
        again = await client.custom_action(first.thread_id, "ask.again")
        assert again.errors == []
        assert again.assistant_text == "Billing agent: the invoice is on its way."
        assert await nodes_ran(host, first.thread_id) == ["classify", "route", "bill"]
