"""`tools.NAME.approval` over the protocol: the run stops before the call, the user approves or
rejects in the chat, and the run goes on — on whichever replica gets the answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatkit_host.testing import ChatKitClient, run_host
from projects import recorded_calls
from workflow_projects import write_workflow_project

TOOLS = '''
def refund(amount: int) -> dict:
    """Refund an amount.

    Args:
        amount: Euros to refund.
    """
    return {"refunded": amount}
'''

SCRIPT = {"replies": [
    {"when": ["big"], "steps": [{"call": "refund", "arguments": {"amount": 250}}, {"say": "Banker: {{ tool_output }}"}]},
    {"steps": [{"call": "refund", "arguments": {"amount": 20}}, {"say": "Banker: {{ tool_output }}"}]},
], "stream": "whole"}


def _project(root: Path, store: str = "sqlite:///data/chatkit.db") -> Path:
    config = {"agents": {"banker": {"instructions": "Refund.", "tools": ["refund"]}},
              "tools": {"refund": {"python": "./tools.py:refund", "approval": "arguments.amount > 100"}},
              "store": {"url": store}}
    path = write_workflow_project(root, config, {"bank": SCRIPT})
    (root / "tools.py").write_text(TOOLS)
    return path


async def _ask(client: ChatKitClient) -> tuple[str, dict[str, Any]]:
    turn = await client.create_thread("a big refund please")
    assert turn.errors == [] and turn.assistant_text == ""
    questions = [i for i in turn.items_done if i["type"] == "structured_input"]
    assert [q["inputs"] for q in questions] == [[{
        "id": "call_0", "question": "Allow refund(amount=250)?", "type": "multiple_choice", "multiple": False,
        "options": [{"value": "Approve"}, {"value": "Reject"}]}]]
    return turn.thread_id, questions[0]


def _answer(thread_id: str, item_id: str, value: str) -> dict[str, Any]:
    return {"thread_id": thread_id, "item_id": item_id,
            "input": {"status": "answered", "answers": {"call_0": {"values": [value]}}}}


@pytest.mark.parametrize(("answer", "reply"), [
    ("Approve", 'Banker: {"refunded":250}'),
    ("Reject", "Banker: The user rejected this call of refund; it did not run. Do not call it again unless the "
               "user asks."),
])
async def test_a_call_waits_for_the_users_answer(tmp_path: Path, answer: str, reply: str) -> None:
    async with run_host(_project(tmp_path)) as running:
        client = running.client()
        thread_id, question = await _ask(client)
        turn = await client.stream("threads.add_structured_input", _answer(thread_id, question["id"], answer))
        assert turn.errors == []
        assert turn.assistant_text == reply
    assert len(recorded_calls(tmp_path)) == 2  # the call, then the reply: the model is not asked again


async def test_a_call_the_condition_lets_through_runs_at_once(tmp_path: Path) -> None:
    async with run_host(_project(tmp_path)) as running:
        client = running.client()
        turn = await client.create_thread("a small refund")
        assert turn.assistant_text == 'Banker: {"refunded":20}'
        assert not [i for i in turn.items_done if i["type"] == "structured_input"]


async def test_the_approval_reaches_another_replica(tmp_path: Path, postgres_db_url: str) -> None:
    async with run_host(_project(tmp_path / "a", postgres_db_url)) as running:
        client = running.client()
        thread_id, question = await _ask(client)
    async with run_host(_project(tmp_path / "b", postgres_db_url)) as running:
        client = running.client()
        turn = await client.stream("threads.add_structured_input", _answer(thread_id, question["id"], "Approve"))
        assert turn.assistant_text == 'Banker: {"refunded":250}'


def test_a_tool_that_waits_for_approval_inside_a_workflow_is_a_config_error(tmp_path: Path) -> None:
    from chatkit_host.config.loader import load_config
    from chatkit_host.errors import ConfigError

    path = _project(tmp_path)
    text = path.read_text() + (
        "workflows:\n"
        "  refunds:\n"
        "    nodes:\n"
        "      pay: { agent: banker }\n"
    )
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path, environ={})
    [problem] = [p for p in raised.value.problems if "waits for approval" in p.message]
    assert problem.message == ("tool 'refund' waits for approval, but agent 'banker' also runs inside "
                               "workflows.refunds, where nobody would be asked")
