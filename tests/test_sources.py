"""Sources from tools shown as annotations on the assistant message that follows (#15 item 12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatkit_host.config.loader import load_config
from chatkit_host.errors import ConfigError
from chatkit_host.testing import run_host
from projects import base_config, write_project

NEWS_PY = '''
from chatkit_host.tools import ToolRun


def find_news(topic: str) -> dict:
    """Find articles.

    Args:
        topic: What about.
    """
    return {"articles": [{"id": "a-1", "headline": f"{topic} rises"}, {"id": "a-2", "headline": "Rain"}]}


async def read_page(run: ToolRun, url: str) -> str:
    """Read a page.

    Args:
        url: The page.
    """
    run.add_source("The page", url=url, description="read just now")
    run.add_source("The notes", file="notes.pdf")
    if url.endswith("/both"):
        run.add_source("Both", url=url, entity="a-1")
    return "read"
'''

SCRIPT = {"replies": [
    {"when": ["news"], "steps": [{"call": "find_news", "arguments": {"topic": "Tide"}}, {"say": "Two stories."}]},
    {"when": ["both"], "steps": [{"call": "read_page", "arguments": {"url": "https://example.com/both"}},
                                 {"say": "Tool: {{ tool_output }}"}]},
    {"when": ["page"], "steps": [{"call": "read_page", "arguments": {"url": "https://example.com/p"}},
                                 {"say": "Read it."}]},
    {"steps": [{"say": "Echo: {{ user_text }}"}]},
]}


def news_config() -> dict[str, Any]:
    config = base_config()
    config["agents"]["triage"]["tools"] = ["find_news", "read_page"]
    config["tools"] = {
        "find_news": {"python": "./news.py:find_news",
                      "sources": {"each": "{{ result.articles }}", "entity": "{{ item.id }}",
                                  "title": "{{ item.headline }}", "description": "about {{ arguments.topic }}"}},
        "read_page": {"python": "./news.py:read_page"},
    }
    config["actions"] = {"news.refresh": {"payload": {"topic": "string"}, "do": [
        {"call": "find_news", "arguments": {"topic": "{{ payload.topic }}"}},
        {"say": "{{ result.articles | length }} stories."}]}}
    return config


def _annotations(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event["update"] for event in events if event["type"] == "thread.item.updated"
            and event["update"]["type"] == "assistant_message.content_part.annotation_added"]


async def test_tool_sources_are_streamed_and_saved_as_annotations(tmp_path: Path) -> None:
    path = write_project(tmp_path, news_config(), SCRIPT, files={"news.py": NEWS_PY})
    async with run_host(path) as running:
        client = running.client()
        turn = await client.create_thread("news please")
        assert turn.errors == []
        entities = [
            {"type": "annotation", "source": {"type": "entity", "id": "a-1", "title": "Tide rises",
                                              "description": "about Tide", "interactive": False, "data": {}}},
            {"type": "annotation", "source": {"type": "entity", "id": "a-2", "title": "Rain",
                                              "description": "about Tide", "interactive": False, "data": {}}},
        ]
        assert _annotations(turn.events) == [
            {"type": "assistant_message.content_part.annotation_added", "content_index": 0, "annotation_index": i,
             "annotation": annotation} for i, annotation in enumerate(entities)]
        message = next(i for i in turn.items_done if i["type"] == "assistant_message")
        assert message["content"][0]["annotations"] == entities
        stored = next(i for i in (await client.list_items(turn.thread_id))["data"] if i["type"] == "assistant_message")
        assert stored["content"][0]["annotations"] == entities

        page = await client.add_message(turn.thread_id, "read the page")
        assert [(u["annotation_index"], u["annotation"]["source"]["type"], u["annotation"]["source"]["title"])
                for u in _annotations(page.events)] == [(0, "url", "The page"), (1, "file", "The notes")]
        url = _annotations(page.events)[0]["annotation"]["source"]
        assert (url["url"], url["description"]) == ("https://example.com/p", "read just now")

        # a source of two kinds is the tool's error, and nothing is cited
        both = await client.add_message(turn.thread_id, "read both")
        assert both.assistant_text == "Tool: error: a source has exactly one of url, entity, file"
        assert _annotations(both.events) == []

        plain = await client.add_message(turn.thread_id, "hello")
        assert _annotations(plain.events) == []

        # an action's `say` carries the sources of the `call` before it
        refreshed = await client.stream("threads.custom_action", {
            "thread_id": turn.thread_id, "action": {"type": "news.refresh", "payload": {"topic": "Moon"}}})
        said = next(i for i in refreshed.items_done if i["type"] == "assistant_message")
        assert said["content"][0]["text"] == "2 stories."
        assert [a["source"]["title"] for a in said["content"][0]["annotations"]] == ["Moon rises", "Rain"]


@pytest.mark.parametrize(("sources", "tool", "message"), [
    ({"title": "x"}, "find_news",
     "tools.find_news.sources: a source has exactly one of url, entity, file (got none)"),
    ({"title": "x", "url": "{{ result.url "}, "find_news",
     "tools.find_news.sources.url: template syntax error on line 1 of the instructions"),
    ({"title": "x", "url": "https://x"}, "theme", "tools.theme.sources: a client tool has no result to cite "
                                                   "(hint: sources go on python and http tools)"),
])
def test_mistaken_sources_are_located_errors(tmp_path: Path, sources: dict[str, Any], tool: str,
                                             message: str) -> None:
    config = news_config()
    config["tools"]["theme"] = {"client": {"parameters": {"theme": "string"}}}
    config["tools"][tool]["sources"] = sources
    with pytest.raises(ConfigError) as error:
        load_config(write_project(tmp_path, config, SCRIPT, files={"news.py": NEWS_PY}), environ={})
    assert any(message in problem.render(tmp_path) for problem in error.value.problems), error.value.render()
