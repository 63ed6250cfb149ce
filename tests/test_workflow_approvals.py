"""Approval nodes over the protocol: the run pauses at the question and goes on when it is answered,
on whichever replica gets the answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatkit_host.testing import ChatKitClient, run_host
from projects import recorded_calls
from ui_project import texts
from workflow_projects import REFUND_SCRIPTS, refund_config, write_workflow_project


async def _ask(client: ChatKitClient) -> tuple[str, dict[str, Any]]:
    turn = await client.create_thread("I want a refund")
    assert turn.errors == []
    questions = [i for i in turn.items_done if i["type"] == "structured_input"]
    assert len(questions) == 1 and turn.assistant_text == ""  # the run waits at the approval
    assert questions[0]["inputs"] == [{
        "id": "approval", "question": "Refund 40 EUR?", "type": "multiple_choice", "multiple": False,
        "options": [{"value": "Approve"}, {"value": "Reject"}]}]
    return turn.thread_id, questions[0]


def _answer(thread_id: str, item_id: str, value: str | None) -> dict[str, Any]:
    if value is None:
        return {"thread_id": thread_id, "item_id": item_id, "input": {"status": "skipped", "answers": {}}}
    return {"thread_id": thread_id, "item_id": item_id,
            "input": {"status": "answered", "answers": {"approval": {"values": [value]}}}}


@pytest.mark.parametrize(("answer", "reply"), [
    ("Approve", "Payer: 40 EUR are on their way."),
    ("Reject", "No refund then (40 EUR kept, asked 1 time(s))."),
    (None, "No refund then (40 EUR kept, asked 1 time(s))."),  # dismissed: not approved
])
async def test_an_approval_pauses_the_run_and_the_answer_picks_the_branch(
        tmp_path: Path, answer: str | None, reply: str) -> None:
    async with run_host(write_workflow_project(tmp_path, refund_config(), REFUND_SCRIPTS)) as running:
        client = running.client()
        thread_id, question = await _ask(client)
        turn = await client.stream("threads.add_structured_input", _answer(thread_id, question["id"], answer))
        assert turn.errors == []
        assert turn.assistant_text == reply
    calls = recorded_calls(tmp_path)
    assert len(calls) == (2 if answer == "Approve" else 1)  # the assessor ran once, before the pause
    if answer == "Approve":
        # The payer reads the conversation as the export builds it: the user's message, the approval,
        # and the assessor's output from before the pause.
        assert texts(calls[1]["input"])[0] == "I want a refund"
        assert json.loads(texts(calls[1]["input"])[-1]) == {"amount": 40}


async def test_the_answer_resumes_the_run_on_another_replica(tmp_path: Path, postgres_db_url: str) -> None:
    config = {**refund_config(), "store": {"url": postgres_db_url}}
    first = write_workflow_project(tmp_path / "a", config, REFUND_SCRIPTS)
    second = write_workflow_project(tmp_path / "b", config, REFUND_SCRIPTS)
    async with run_host(first) as running:
        client = running.client()
        thread_id, question = await _ask(client)
    # The first replica is gone (a restart, or the answer is routed elsewhere): the second goes on.
    async with run_host(second) as running:
        client = running.client()
        turn = await client.stream("threads.add_structured_input", _answer(thread_id, question["id"], "Approve"))
        assert turn.assistant_text == "Payer: 40 EUR are on their way."
        items = (await client.list_items(thread_id))["data"]
        assert [i["type"] for i in items] == ["user_message", "workflow", "structured_input", "assistant_message"]
        assert items[2]["status"] == "answered"
    assert recorded_calls(tmp_path / "a") and len(recorded_calls(tmp_path / "b")) == 1  # only the payer ran there


async def test_a_new_message_instead_of_an_answer_starts_the_workflow_afresh(tmp_path: Path) -> None:
    async with run_host(write_workflow_project(tmp_path, refund_config(), REFUND_SCRIPTS)) as running:
        client = running.client()
        thread_id, _ = await _ask(client)
        turn = await client.add_message(thread_id, "actually, never mind")
        assert [i["inputs"][0]["question"] for i in turn.items_done if i["type"] == "structured_input"] == [
            "Refund 40 EUR?"]
