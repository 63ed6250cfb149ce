"""A project with a widget tool, a form tool, forms and action routes, served in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any


from projects import REPO, base_config, write_project

ORDER_CARD = (REPO / "widgets" / "order_card.widget").read_text()

SCRIPT = {
    "replies": [
        {"when": ["show"], "steps": [
            {"call": "show_order", "arguments": {"order_id": "A-1001", "status": "processing",
                                                 "eta": "next week"}},
            {"say": "Here is the card."},
            {"say": "Refreshed: {{ tool_output }}"},
        ]},
        {"when": ["bad card"], "steps": [
            {"call": "show_order", "arguments": {"order_id": "", "status": "processing"}},
            {"say": "The card said: {{ tool_output }}"},
        ]},
        {"when": ["ticket"], "steps": [
            {"call": "ask_ticket", "arguments": {}},
            {"say": "Filed, turn {{ turn }}."},
        ]},
        {"steps": [{"say": "Echo {{ turn }}: {{ user_text }}"}]},
    ],
}

TICKET = [
    {"id": "priority", "question": "How urgent is it?", "choices": ["Low", "Medium", "High"]},
    {"id": "topics", "question": "What is it about?", "choices": ["Delivery", "Payment"], "multiple": True},
    {"id": "notes", "question": "Anything else?", "freeform": True, "optional": True},
]


def ui_config() -> dict[str, Any]:
    config = base_config()
    config["agents"]["triage"]["tools"] = ["lookup_order", "show_order", "ask_ticket"]
    config["tools"]["show_order"] = {"widget": "order_card"}
    config["tools"]["ask_ticket"] = {"form": "ticket"}
    config["forms"] = {"ticket": TICKET}
    card_from_payload = {"widget": "order_card",
                         "data": {"order_id": "{{ payload.order_id }}", "status": "{{ payload.status }}"}}
    config["actions"] = {
        "order.refresh": {"payload": {"order_id": "string"}, "do": [
            {"call": "lookup_order"},
            {"update_widget": {"widget": "order_card", "data": "{{ result }}"}},
            {"hidden_context": "The user refreshed order {{ payload.order_id }}: it is {{ result.status }}."},
            {"respond": True},
        ]},
        "order.set_status": {"payload": {"order_id": "string", "status": "string"}, "streaming": False, "do": [
            {"update_widget": card_from_payload},
            {"hidden_context": "The user set order {{ payload.order_id }} to {{ payload.status }}."},
        ]},
        # The payload schema lets an empty order id through; the widget's own schema does not.
        "order.loose": {"payload": {"order_id": "string", "status": "string"}, "do": [
            {"hidden_context": "This must not be stored."},
            {"update_widget": card_from_payload},
            {"respond": True},
        ]},
        "ticket.open": {"do": [{"hidden_context": "The user opened a ticket form."}, {"ask": "ticket"}]},
    }
    return config


def write_ui_project(root: Path, config: dict[str, Any] | None = None,
                     files: dict[str, str] | None = None) -> Path:
    return write_project(root, config or ui_config(), SCRIPT,
                         {"widgets/order_card.widget": ORDER_CARD, **(files or {})})


def texts(input_items: list[dict[str, Any]]) -> list[str]:
    """The text of every message in a recorded model input."""
    found = []
    for item in input_items:
        content = item.get("content")
        if isinstance(content, str):
            found.append(content)
        elif isinstance(content, list):
            found.append("".join(part.get("text", "") for part in content if isinstance(part, dict)))
    return found
