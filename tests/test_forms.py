"""Forms over the ChatKit protocol: asked by an agent or an action, answered, skipped, refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatkit_host.testing import ChatKitClient, ChatKitHTTPError, run_host
from projects import recorded_calls
from ui_project import texts, write_ui_project


async def _ask(client: ChatKitClient) -> tuple[str, dict[str, Any]]:
    turn = await client.create_thread("I need a support ticket")
    forms = [i for i in turn.items_done if i["type"] == "structured_input"]
    assert len(forms) == 1 and turn.assistant_text == ""  # the run stopped at the form
    return turn.thread_id, forms[0]


def _submit(thread_id: str, item_id: str, status: str = "answered",
            answers: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"thread_id": thread_id, "item_id": item_id, "input": {
        "status": status, "answers": {key: {"values": values} for key, values in (answers or {}).items()}}}


def _form_text(model_input: list[dict[str, Any]]) -> str:
    return next(t for t in texts(model_input) if t.startswith("A structured input request"))


async def test_an_agent_asks_a_form_and_answers_reach_the_model(tmp_path: Path) -> None:
    async with run_host(write_ui_project(tmp_path)) as running:
        client = running.client()
        thread_id, form = await _ask(client)
        assert form["status"] == "pending"
        assert form["inputs"] == [
            {"id": "priority", "question": "How urgent is it?", "type": "multiple_choice", "multiple": False,
             "options": [{"value": "Low"}, {"value": "Medium"}, {"value": "High"}]},
            {"id": "topics", "question": "What is it about?", "type": "multiple_choice", "multiple": True,
             "options": [{"value": "Delivery"}, {"value": "Payment"}]},
            {"id": "notes", "question": "Anything else?", "type": "freeform"},
        ]
        # Partly answered: the optional question is left out.
        turn = await client.stream("threads.add_structured_input", _submit(
            thread_id, form["id"], answers={"priority": ["High"], "topics": ["Delivery", "Payment"]}))
        assert turn.errors == []
        assert [e["item"]["status"] for e in turn.events if e["type"] == "thread.item.replaced"] == ["answered"]
        assert turn.assistant_text == "Filed, turn 1."
        items = (await client.list_items(thread_id))["data"]
        assert [i["type"] for i in items] == ["user_message", "structured_input", "assistant_message"]
        assert items[1]["status"] == "answered"

        with pytest.raises(ChatKitHTTPError) as again:  # not pending any more
            await client.stream("threads.add_structured_input", _submit(thread_id, form["id"], answers={"priority": ["Low"]}))
        assert again.value.status == 409
        assert again.value.body == {"error": {"code": "not_pending", "message": "that form is not waiting for an answer"}}

    calls = recorded_calls(tmp_path)
    assert _form_text(calls[-1]["input"]) == (
        "A structured input request was displayed to the user with the following status: answered\n"
        "<StructuredInput>\n- How urgent is it?: High\n- What is it about?: Delivery, Payment\n"
        "- Anything else?: skipped\n</StructuredInput>")
    assert [i["name"] for i in calls[-1]["input"] if i.get("type") == "function_call"] == ["ask_ticket"]


async def test_a_skipped_form_reaches_the_model_as_skipped(tmp_path: Path) -> None:
    async with run_host(write_ui_project(tmp_path)) as running:
        client = running.client()
        thread_id, form = await _ask(client)
        turn = await client.stream("threads.add_structured_input", _submit(thread_id, form["id"], "skipped"))
        assert turn.assistant_text == "Filed, turn 1."
    text = _form_text(recorded_calls(tmp_path)[-1]["input"])
    assert text.startswith("A structured input request was displayed to the user with the following status: skipped")
    assert "- How urgent is it?: skipped" in text


async def test_a_required_question_left_out_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    async with run_host(write_ui_project(tmp_path)) as running:
        client = running.client()
        thread_id, form = await _ask(client)
        before = await client.list_items(thread_id)
        with pytest.raises(ChatKitHTTPError) as refused:
            await client.stream("threads.add_structured_input", _submit(
                thread_id, form["id"], answers={"topics": ["Payment"], "notes": ["soon please"]}))
        assert refused.value.status == 400
        assert refused.value.body == {"error": {"code": "missing_answers", "message":
            'question(s) "priority" need an answer; only optional questions may be left out '
            "(or skip the whole form)"}}
        assert await client.list_items(thread_id) == before


async def test_an_action_can_ask_a_form(tmp_path: Path) -> None:
    async with run_host(write_ui_project(tmp_path)) as running:
        client = running.client()
        thread_id = (await client.create_thread("hello")).thread_id
        turn = await client.stream("threads.custom_action", {
            "thread_id": thread_id, "action": {"type": "ticket.open", "payload": None}})
        forms = [i for i in turn.items_done if i["type"] == "structured_input"]
        assert len(forms) == 1 and forms[0]["status"] == "pending"
        answered = await client.stream("threads.add_structured_input", _submit(
            thread_id, forms[0]["id"], answers={"priority": ["Low"], "topics": ["Delivery"], "notes": ["none"]}))
        assert answered.assistant_text == "Echo 1: hello"  # the agent answers, the form in its input
    model_input = recorded_calls(tmp_path)[-1]["input"]
    assert "- Anything else?: none" in _form_text(model_input)
    assert any("The user opened a ticket form." in t for t in texts(model_input))
