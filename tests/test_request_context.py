"""Request context (#15): declared request headers reach templates and python tools; others never do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from chatkit_host.config.loader import load_config
from chatkit_host.errors import ConfigError
from chatkit_host.testing import ChatKitClient, run_host
from projects import base_config, recorded_calls, write_project

ARTICLE_PY = '''
from chatkit_host.tools import ToolRun


async def read_article(run: ToolRun, part: str) -> dict:
    """Read the article on screen.

    Args:
        part: Which part.
    """
    return {"headers": dict(run.headers), "part": part}
'''

SCRIPT = {"replies": [
    {"when": ["read"], "steps": [
        {"call": "read_article", "arguments": {"part": "intro"}},
        {"say": "Read: {{ tool_output }}"},
    ]},
    {"steps": [{"say": "Echo: {{ user_text }}"}]},
]}


def article_config() -> dict[str, Any]:
    config = base_config()
    config["request"] = {"headers": ["X-Article-Id", "x-page"]}
    config["agents"]["triage"]["tools"] = ["read_article"]
    config["tools"] = {"read_article": {
        "python": "./article.py:read_article",
        "progress": "Reading {{ part }} of {{ request.headers['x-article-id'] or 'nothing' }}…"}}
    config["actions"] = {"article.cite": {"do": [
        {"say": "Citing {{ request.headers.x_article_id }} on page '{{ request.headers['x-page'] }}'."}]}}
    return config


def write_article(root: Path, config: dict[str, Any] | None = None) -> Path:
    instructions = "The reader is on article {{ request.headers['x-article-id'] or 'none' }}.\n"
    return write_project(root, config or article_config(), SCRIPT,
                         files={"article.py": ARTICLE_PY, "agents/triage.md": instructions})


@asynccontextmanager
async def serving(path: Path, headers: dict[str, str]) -> AsyncIterator[ChatKitClient]:
    async with run_host(path) as running:
        http = running.http
        yield ChatKitClient("/chatkit", client=http, headers=headers)


async def test_declared_headers_reach_instructions_tools_progress_and_action_steps(tmp_path: Path) -> None:
    sent = {"X-Article-Id": "{{ 7 * 7 }}-a1", "X-Secret": "s3cret", "Cookie": "session=1"}
    async with serving(write_article(tmp_path), sent) as client:
        turn = await client.create_thread("read it")
        assert turn.errors == []
        # the value is data: a client's `{{ … }}` is shown as sent, never evaluated
        assert "The reader is on article {{ 7 * 7 }}-a1." in recorded_calls(tmp_path)[-1]["instructions"]
        assert turn.progress == ["Reading intro of {{ 7 * 7 }}-a1…"]
        # a python tool sees the declared headers the client sent, and nothing else
        assert turn.assistant_text == 'Read: {"headers":{"x-article-id":"{{ 7 * 7 }}-a1"},"part":"intro"}'

        action = await client.stream("threads.custom_action", {
            "thread_id": turn.thread_id, "action": {"type": "article.cite", "payload": {}}})
        assert action.assistant_text == "Citing {{ 7 * 7 }}-a1 on page ''."

    async with serving(write_article(tmp_path), {}) as client:
        turn = await client.create_thread("hello")
        assert "The reader is on article none." in recorded_calls(tmp_path)[-1]["instructions"]


@pytest.mark.parametrize(("headers", "message"), [
    (["x article"], "request.headers: 'x article' is not a header name: letters, digits and '-', "
                    "e.g. x-article-id"),
    (["x-page", "Authorization"], "request.headers: authorization carries credentials and is never "
                                  "passed to templates or tools: use `user` and `user.claims` for who is asking"),
])
def test_header_names_that_cannot_be_declared_are_located_errors(
        tmp_path: Path, headers: list[str], message: str) -> None:
    config = article_config()
    config["request"] = {"headers": headers}
    path = write_article(tmp_path, config)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert [problem.render(tmp_path) for problem in error.value.problems] == [f"chatkit.yaml:27:3: {message}"]


def test_a_misspelt_request_key_has_a_suggestion(tmp_path: Path) -> None:
    config = article_config()
    config["request"] = {"header": ["x-page"]}
    with pytest.raises(ConfigError) as error:
        load_config(write_article(tmp_path, config), environ={})
    assert error.value.render(tmp_path) == ("chatkit.yaml:27:3: request.header: unknown key 'header' "
                                            "(hint: did you mean 'headers'?)")
