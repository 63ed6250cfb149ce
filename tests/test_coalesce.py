"""Text delta coalescing (`stream.coalesce_ms`), seen over HTTP: the same text in fewer events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from chatkit_host.testing import ChatKitClient, Turn, run_host
from projects import base_config, write_project

WORDS = [f"w{n}é" for n in range(60)]  # non-ASCII too: joined bytes must match exactly
REPLY = " ".join(WORDS) + "  ends here.\n"


def script(delay_ms: int = 0) -> dict[str, Any]:
    return {
        "replies": [
            {"when": ["order"], "steps": [
                {"call": "lookup_order", "arguments": {"order_id": "A-1"}},
                {"say": REPLY},
            ]},
            {"steps": [{"say": REPLY}]},
        ],
        "stream": "word",
        "delay_ms": delay_ms,
    }


@asynccontextmanager
async def client_for(tmp_path: Path, coalesce_ms: float | None,
                     delay_ms: int = 0) -> AsyncIterator[ChatKitClient]:
    config = base_config()
    if coalesce_ms is not None:
        config["stream"] = {"coalesce_ms": coalesce_ms}
    path = write_project(tmp_path, config, script(delay_ms))
    async with run_host(path) as running:
        yield running.client()


def text_deltas(turn: Turn) -> list[str]:
    return [
        event["update"]["delta"] for event in turn.events
        if event["type"] == "thread.item.updated"
        and event["update"]["type"] == "assistant_message.content_part.text_delta"
    ]


async def test_coalescing_is_on_by_default_and_sends_the_same_text_in_fewer_events(
    tmp_path: Path,
) -> None:
    async with client_for(tmp_path, None) as client:
        turn = await client.create_thread("hello")
        deltas = text_deltas(turn)
        assert "".join(deltas) == REPLY
        assert len(deltas) < len(REPLY.split())
        assert turn.assistant_text == REPLY
        stored = await client.list_items(turn.thread_id or "")
        assert stored["data"][-1]["content"][0]["text"] == REPLY


async def test_coalescing_keeps_tool_turns_intact(tmp_path: Path) -> None:
    async with client_for(tmp_path, 20) as client:
        turn = await client.create_thread("where is my order")
        assert "".join(text_deltas(turn)) == REPLY
        assert turn.assistant_text == REPLY
        assert not turn.errors
        types = [item["type"] for item in (await client.list_items(turn.thread_id or ""))["data"]]
        assert types[0] == "user_message" and types[-1] == "assistant_message"


async def test_slow_deltas_are_never_held_past_the_window(tmp_path: Path) -> None:
    # Deltas 5 ms apart with a 1 ms window: each window closes before the next delta arrives, so
    # every delta goes out on its own, none lost or reordered.
    async with client_for(tmp_path, 1, delay_ms=5) as client:
        turn = await client.create_thread("hello")
        deltas = text_deltas(turn)
        assert "".join(deltas) == REPLY
        assert len(deltas) == len(REPLY.split())


async def test_a_replys_first_words_are_never_held_for_the_window(tmp_path: Path) -> None:
    # A window longer than the whole reply: without the rule the reply would be one event, sent
    # when the model is done; with it the first word goes out alone, at once, and the rest merged.
    async with client_for(tmp_path, 1000) as client:
        turn = await client.create_thread("hello")
        deltas = text_deltas(turn)
        assert deltas[0].strip() == WORDS[0]
        assert len(deltas) == 2
        assert "".join(deltas) == REPLY


async def test_zero_turns_coalescing_off_one_event_per_word(tmp_path: Path) -> None:
    async with client_for(tmp_path, 0) as client:
        turn = await client.create_thread("hello")
        deltas = text_deltas(turn)
        assert "".join(deltas) == REPLY
        assert len(deltas) == len(REPLY.split())  # the scripted model streams word by word

