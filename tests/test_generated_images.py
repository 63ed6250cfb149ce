"""Generated images over HTTP: the hosted image_generation tool, played by the scripted model.

The image's bytes go to file storage and the thread keeps a URL of this host: never base64 in the
database. Partial images stream as progress; deleting the thread deletes the files.
"""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from chatkit_host.runtime.scripted.image import scripted_png
from chatkit_host.testing import ChatKitClient, ChatKitHTTPError, run_host
from projects import base_config, recorded_calls, write_project

ALICE, BOB = "token-alice", "token-bob"
RED = (0xFF, 0x00, 0x00)
FINAL = scripted_png(RED)
PARTIALS = [scripted_png(RED, index, 2) for index in range(2)]

SCRIPT = {
    "replies": [
        {"when": "draw", "steps": [
            {"image": {"partial_images": 2, "color": "#ff0000"}},
            {"say": "Here is your picture."},
        ]},
        {"steps": [{"say": "Echo {{ turn }}: {{ user_text }}"}]},
    ],
}


def project(root: Path) -> Path:
    config = base_config()
    config["auth"] = {"mode": "bearer", "tokens": f"alice={ALICE},bob={BOB}"}
    config["files"] = {"url": "file://stored"}
    config["tools"]["draw"] = {"hosted": {"type": "image_generation", "partial_images": 2}}
    config["agents"]["triage"]["tools"] = ["lookup_order", "draw"]
    return write_project(root, config, SCRIPT)


def stored(root: Path) -> dict[str, bytes]:
    """Every file in the project's file storage, read directly (not through the host)."""
    base = root / "stored"
    return {str(p.relative_to(base)): p.read_bytes() for p in base.rglob("*") if p.is_file()}


def database_text(root: Path) -> str:
    """The whole SQLite database as SQL text: every row of every table."""
    with sqlite3.connect(root / "data" / "chatkit.db") as connection:
        return "\n".join(connection.iterdump())


def image_updates(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["update"] for e in events
            if e["type"] == "thread.item.updated" and e["update"]["type"] == "generated_image.updated"]


async def test_a_generated_image_streams_progress_and_lands_in_file_storage_by_url(tmp_path: Path) -> None:
    async with run_host(project(tmp_path)) as running:
        http = running.http
        alice = ChatKitClient("/chatkit", token=ALICE, client=http)
        turn = await alice.create_thread("draw a red square")
        thread = turn.thread_id
        assert turn.errors == []

        # Progress: the image item appears empty, then each partial image arrives with more progress.
        added = [e["item"] for e in turn.events if e["type"] == "thread.item.added"
                 and e["item"]["type"] == "generated_image"]
        assert len(added) == 1 and added[0].get("image") is None
        updates = image_updates(turn.events)
        assert [u["progress"] for u in updates] == [0.0, 0.5]
        assert all(u["image"]["url"].startswith("http") for u in updates)

        done = [i for i in turn.items_done if i["type"] == "generated_image"]
        assert len(done) == 1 and done[0]["id"] == added[0]["id"]
        url = done[0]["image"]["url"]
        assert "/files/img_" in url and not url.startswith("data:")
        fetched = await http.get(url)  # signed: no auth header needed, like an <img src>
        assert fetched.status_code == 200 and fetched.content == FINAL
        assert turn.assistant_text == "Here is your picture."

        # One file per image (the partials were overwritten by the final one), in file storage...
        files = stored(tmp_path)
        assert list(files.values()) == [FINAL]
        # ...and nothing of it in the database: no base64 of any version, no data URL.
        dump = database_text(tmp_path)
        for image in (FINAL, *PARTIALS):
            assert base64.b64encode(image).decode() not in dump
        assert "data:image" not in dump
        assert "/files/img_" in dump  # the URL is what the thread keeps

        # The turn was two model calls: the image call (run by the provider), then the message.
        calls = recorded_calls(tmp_path)
        assert len(calls) == 2 and "image_generation" in calls[0]["tools"]
        assert [i.get("type") for i in calls[1]["input"]][-1] == "image_generation_call"

        # Read back, the thread still shows the image at a URL that serves it.
        items = (await alice.list_items(thread))["data"]
        assert [i["type"] for i in items] == ["user_message", "generated_image", "assistant_message"]
        assert (await http.get(items[1]["image"]["url"])).content == FINAL

        # The next turn's model input has the image, as the converter sends generated images: inline.
        second = await alice.add_message(thread, "and what is it?")
        assert second.assistant_text == "Echo 2: and what is it?"
        image_messages = [i for i in recorded_calls(tmp_path)[-1]["input"] if i.get("role") == "user"
                          and isinstance(i.get("content"), list)
                          and any(p.get("type") == "input_image" for p in i["content"])]
        assert len(image_messages) == 1
        text, image = image_messages[0]["content"]
        assert text["text"] == "The following image was generated by the agent."
        assert image["image_url"] == "data:image/png;base64," + base64.b64encode(FINAL).decode()

        # Bob cannot read Alice's image through her thread, and deleting the thread deletes the file.
        bob = ChatKitClient("/chatkit", token=BOB, client=http)
        with pytest.raises(ChatKitHTTPError) as refused:
            await bob.list_items(thread)
        assert refused.value.status == 404
        await alice.delete_thread(thread)
        assert stored(tmp_path) == {}
        assert (await http.get(url)).status_code == 404


def test_an_image_tool_without_file_storage_is_a_configuration_error(tmp_path: Path) -> None:
    import os

    from click.testing import CliRunner

    from chatkit_host.cli import main

    path = project(tmp_path)
    text = path.read_text()
    path.write_text(text.replace("files:\n  url: file://stored\n", ""))
    line = next(n for n, row in enumerate(path.read_text().splitlines(), 1) if "image_generation" in row
                or row.strip() == "hosted:")
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        refused = CliRunner().invoke(main, ["validate"], catch_exceptions=False)
        (tmp_path / "chatkit.yaml").write_text(
            path.read_text() + "converters:\n  generated_images: data_url\n")
        allowed = CliRunner().invoke(main, ["validate"], catch_exceptions=False)
    finally:
        os.chdir(old)
    assert refused.exit_code == 1
    assert (
        f"Error: chatkit.yaml:{line}:"
    ) in refused.output
    assert ("tools.draw.hosted: generated images are kept in file storage, and there is no `files` "
            "section (hint: add `files: { url: \"file://.chatkit/files\" }`, or set "
            "`converters.generated_images: data_url` to keep them as base64 in the database)") in refused.output
    assert allowed.exit_code == 0, allowed.output
