"""The python tool API (`chatkit_host.tools.ToolRun`) over the ChatKit protocol (#15)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatkit_host.config.loader import load_config
from chatkit_host.runtime.build import build_runtime
from test_state import _state, pet_config, serving, write_project
from ui_project import ORDER_CARD

ADOPT_PY = '''
from __future__ import annotations

from chatkit_host.tools import ToolRun


async def adopt(run: ToolRun, name: str) -> str:
    """Adopt the pet.

    Args:
        name: The pet's name.
    """
    await run.progress(f"Adopting {name} for {run.user}…")
    if run.state.get("pet_name"):
        return f"already adopted: {run.state['pet_name']}"
    state = await run.set_state(pet_name=name)
    await run.say(f"Welcome home, {name}!")
    await run.effect("pet.fed", {"hunger": state["hunger"]})
    await run.show_widget("order_card", {"order_id": name, "status": "adopted"}, copy_text=name)
    await run.set_title(f"{name} at home")
    return f"adopted {name} in {run.thread_id}"


def starve(run: ToolRun) -> str:
    """Starve the pet (refused by the state's schema)."""
    raise ValueError(f"never: hunger stays at {run.state['hunger']}")


async def overfeed(run: ToolRun) -> str:
    """Overfeed the pet."""
    await run.set_state(hunger=99)
    return "unreachable"
'''

SCRIPT = {"replies": [
    {"when": ["adopt"], "steps": [
        {"call": "adopt", "arguments": {"name": "Rex"}},
        {"say": "Tool: {{ tool_output }}"},
    ]},
    {"when": ["starve"], "steps": [{"call": "starve", "arguments": {}}, {"say": "Tool: {{ tool_output }}"}]},
    {"when": ["overfeed"], "steps": [{"call": "overfeed", "arguments": {}}, {"say": "Tool: {{ tool_output }}"}]},
    {"steps": [{"say": "Echo: {{ user_text }}"}]},
]}


def _project(root: Path) -> Path:
    config: dict[str, Any] = pet_config()
    config["agents"]["triage"]["tools"] = ["adopt", "starve", "overfeed"]
    config["tools"] = {name: {"python": f"./adopt.py:{name}"} for name in ("adopt", "starve", "overfeed")}
    config["tools"]["lookup_order"] = {"python": "./tools.py:lookup_order"}
    config["actions"] = {}
    return write_project(root, config, SCRIPT, files={"adopt.py": ADOPT_PY, "widgets/order_card.widget": ORDER_CARD})


async def test_a_python_tool_reaches_the_thread_through_tool_run(tmp_path: Path) -> None:
    path = _project(tmp_path)
    adopt = next(t for t in build_runtime(load_config(path, environ={})).agents["triage"].tools if t.name == "adopt")
    assert list(adopt.params_json_schema["properties"]) == ["name"]  # the model never sees the ToolRun
    assert adopt.description == "Adopt the pet."
    async with serving(path) as (alice, _, http):
        turn = await alice.create_thread("adopt")
        thread_id = turn.thread_id
        assert turn.progress == ["Adopting Rex for alice…"]
        assert [e["data"] for e in turn.events if e["type"] == "client_effect"] == [{"hunger": 5}]
        messages = [i["content"][0]["text"] for i in turn.items_done if i["type"] == "assistant_message"]
        assert messages == ["Welcome home, Rex!", f"Tool: adopted Rex in {thread_id}"]
        widget = next(i for i in turn.items_done if i["type"] == "widget")
        assert widget["copy_text"] == "Rex"
        assert (await alice.get_thread(thread_id))["title"] == "Rex at home"
        assert (await _state(http, thread_id)).json()["state"] == {"hunger": 5, "pet_name": "Rex"}

        again = await alice.add_message(thread_id, "adopt")
        assert again.assistant_text == "Tool: already adopted: Rex"

        # what a tool raises reaches the model as its message; a refused change saves nothing
        starve = await alice.add_message(thread_id, "starve")
        assert starve.assistant_text == "Tool: error: never: hunger stays at 5"
        over = await alice.add_message(thread_id, "overfeed")
        assert over.assistant_text == "Tool: error: state change refused: hunger: 99 is greater than the maximum of 10"
        assert (await _state(http, thread_id)).json()["state"] == {"hunger": 5, "pet_name": "Rex"}
