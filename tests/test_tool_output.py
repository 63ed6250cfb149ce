"""A tool's result reaches the model in one form, in its turn and in every later one (#18)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


from chatkit_host.testing import run_host
from projects import base_config, recorded_calls, write_project

TOOLS_PY = '''
def lookup_order(order_id: str) -> dict:
    """Look up an order.

    Args:
        order_id: The order id.
    """
    return {"order_id": order_id, "city": "Zürich", "items": [1, 2]}
'''
EXPECTED = '{"order_id":"A-1001","city":"Zürich","items":[1,2]}'


def outputs(call: dict[str, Any]) -> list[str]:
    return [item["output"] for item in call["input"] if item.get("type") == "function_call_output"]


async def test_a_tool_result_is_the_same_compact_utf8_json_in_its_turn_and_the_next(tmp_path: Path) -> None:
    project = write_project(tmp_path, base_config(), files={"tools.py": TOOLS_PY})
    async with run_host(project) as running:
        client = running.client()
        turn = await client.create_thread("where is my order")
        await client.add_message(turn.thread_id, "thanks")
    calls = recorded_calls(tmp_path)
    assert turn.assistant_text == f"Order status: {EXPECTED}"
    assert [outputs(call) for call in calls] == [[], [EXPECTED], [EXPECTED]]
    assert json.loads(EXPECTED)["city"] == "Zürich"
