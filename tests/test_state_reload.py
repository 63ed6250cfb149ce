"""`serve --reload` and the `state:` schema (#15): a change the saved states no longer fit is refused
and reported; a compatible one (a new property with a default) applies to old threads at once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chatkit_host.testing import ChatKitClient, ServedHost, serve_host
from projects import base_config, write_project
from test_reload import health, save, wait_health

pytestmark = pytest.mark.serial


def pet_config(**hunger: Any) -> dict[str, Any]:
    config = base_config()
    config["state"] = {"properties": {"hunger": {"type": "integer", "minimum": 0, "maximum": 10, "default": 5,
                                                 **hunger}}}
    config["actions"] = {"pet.set": {"payload": {"hunger": "integer"}, "streaming": False,
                                     "do": [{"set_state": {"hunger": "{{ payload.hunger }}"}}]}}
    return config


def test_a_state_schema_that_saved_states_break_is_refused_and_a_compatible_one_applies(tmp_path: Path) -> None:
    write_project(tmp_path, pet_config())
    with serve_host(tmp_path, "--reload") as host:
        asyncio.run(_edits(host, tmp_path))


async def _edits(host: ServedHost, root: Path) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        client = ChatKitClient(host.url, client=http)
        thread_id = (await client.create_thread("hello")).thread_id
        untouched = (await client.create_thread("hello")).thread_id  # no state saved: reads the defaults
        await client.call("threads.sync_custom_action", {"thread_id": thread_id,
                                                         "action": {"type": "pet.set", "payload": {"hunger": 8}}})
        before = await health(http, host)

        save(root / "chatkit.yaml", yaml.safe_dump(pet_config(maximum=6), sort_keys=False))
        body = await wait_health(http, host, lambda b: b["last_error"] is not None, "the refused schema")
        assert body["last_error"] == (
            f"chatkit.yaml:25:3: state.properties: the state saved for 1 thread(s) does not fit the new schema: "
            f"{thread_id}: hunger: 8 is greater than the maximum of 6 (hint: keep the change compatible (a new "
            "property with a default, a wider limit), or restart to apply it anyway)")
        assert body["config_version"] == before["config_version"]  # the old schema keeps serving
        assert await client.get_state(thread_id) == {"hunger": 8}
        await client.call("threads.sync_custom_action", {"thread_id": untouched,
                                                         "action": {"type": "pet.set", "payload": {"hunger": 9}}})
        assert await client.get_state(untouched) == {"hunger": 9}
        assert "does not fit the new schema" in host.log.read_text()

        compatible = pet_config()
        compatible["state"]["properties"]["mood"] = {"type": "string", "default": "calm"}
        save(root / "chatkit.yaml", yaml.safe_dump(compatible, sort_keys=False))
        await wait_health(http, host, lambda b: b["last_error"] is None
                          and b["config_version"] != before["config_version"], "the compatible schema")
        assert await client.get_state(thread_id) == {"hunger": 8, "mood": "calm"}
