"""`stream.allow_cancel` and an agent's `allow_cancel` reach the client as the stream's options (#15 item 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatkit_host.config.loader import load_config
from chatkit_host.errors import ConfigError
from chatkit_host.testing import ChatKitClient, Turn, run_host
from projects import base_config, write_project


def _options(turn: Turn) -> list[dict[str, bool]]:
    return [event["stream_options"] for event in turn.events if event["type"] == "stream_options"]


async def test_the_stop_button_follows_the_stream_section_and_the_thread_agent(tmp_path: Path) -> None:
    config = base_config()
    config["stream"] = {"allow_cancel": False}
    config["agents"]["billing"]["allow_cancel"] = True
    async with run_host(write_project(tmp_path, config)) as running:
        client = running.client()
        first = await client.create_thread("hello")
        assert _options(first) == [{"allow_cancel": False}]
        handed = await client.add_message(first.thread_id, "refund please")  # triage hands off to billing
        assert handed.assistant_text == "Billing here, turn 2."
        assert _options(await client.add_message(first.thread_id, "thanks")) == [{"allow_cancel": True}]


async def test_replies_may_be_stopped_unless_declared_otherwise(tmp_path: Path) -> None:
    async with run_host(write_project(tmp_path)) as running:
        http = running.http
        assert _options(await ChatKitClient("/chatkit", client=http).create_thread("hi")) == [{"allow_cancel": True}]


def test_a_misspelt_allow_cancel_is_a_located_error(tmp_path: Path) -> None:
    config = base_config()
    config["agents"]["billing"]["allow_cancle"] = False
    with pytest.raises(ConfigError) as error:
        load_config(write_project(tmp_path, config), environ={})
    assert error.value.render(tmp_path) == ("chatkit.yaml:19:5: agents.billing.allow_cancle: unknown key "
                                            "'allow_cancle' (hint: did you mean 'allow_cancel'?)")
