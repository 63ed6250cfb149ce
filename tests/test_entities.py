"""@-mentions over HTTP: the entity search and preview endpoints, their sources (static, python, an
HTTP API the test starts on loopback), auth, the playground wiring, and a tag reaching the model."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml

from chatkit_host.config.loader import load_config
from chatkit_host.errors import ConfigError
from chatkit_host.web.playground.routes import render_page
from chatkit_host.runtime.build import build_runtime
from chatkit_host.testing import ChatKitClient, run_host, serve_host
from loopback import JsonHandler, serving
from projects import base_config, recorded_calls, write_project

pytestmark = pytest.mark.serial

TOKENS = {"alice": "token-alice", "bob": "token-bob"}

PREVIEW_WIDGET = json.dumps({
    "version": "1.0",
    "name": "Article preview",
    "template": '{"type":"Card","children":[{"type":"Title","value":{{ title | tojson }}},'
                '{"type":"Text","value":{{ summary | tojson }}}]}',
    "jsonSchema": {"type": "object", "properties": {"title": {"type": "string"}, "summary": {"type": "string"}},
                   "required": ["title", "summary"], "additionalProperties": False},
})

ARTICLES = [
    {"id": "art_pricing", "title": "Pricing guide", "group": "Articles", "icon": "document",
     "data": {"type": "article", "body": "Plans cost 5 a month."},
     "preview": {"widget": "article_preview", "data": {"title": "Pricing guide", "summary": "Plans cost 5."}}},
    {"id": "art_refunds", "title": "Refund policy", "group": "Articles",
     "data": {"type": "article", "body": "30 days."}},
    {"id": "art_shipping", "title": "Shipping times", "group": "Articles",
     "data": {"type": "article", "body": "2 days."}},
    {"id": "art_privacy", "title": "Privacy notice", "group": "Articles",
     "data": {"type": "article", "body": "We keep little."}},
]

PEOPLE_PY = '''
async def search(query, context):
    """Each user finds only their own colleagues."""
    team = {"alice": ["Ann", "Andrew"], "bob": ["Bea"]}[context.user_id]
    return [{"id": "p_" + name.lower(), "title": name, "data": {"email": name.lower() + "@example.com"}}
            for name in team if query.lower() in name.lower()]


def broken(query, context):
    raise RuntimeError("the directory is down")
'''


def project(root: Path, sources: list[dict[str, Any]], **entities: Any) -> Path:
    config = base_config()
    config["auth"] = {"mode": "bearer", "tokens": TOKENS}
    config["entities"] = {"sources": sources, **entities}
    config["converters"] = {"tags": {"article": "<ARTICLE id='{{ tag.id }}'>{{ tag.data.body }}</ARTICLE>"}}
    return write_project(root, config, files={
        "widgets/article_preview.widget": PREVIEW_WIDGET, "people.py": PEOPLE_PY,
    })


async def search(http: httpx.AsyncClient, query: str, user: str = "alice") -> list[dict[str, Any]]:
    response = await http.get("/chatkit/entities", params={"q": query},
                              headers={"Authorization": f"Bearer {TOKENS[user]}"})
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_static_search_matches_title_and_id_case_insensitively_and_limits(tmp_path: Path) -> None:
    async with run_host(project(tmp_path, [{"static": ARTICLES}], max_results=3)) as running:
        http = running.http
        assert [e["id"] for e in await search(http, "PRIC")] == ["art_pricing"]
        assert [e["id"] for e in await search(http, "art_ref")] == ["art_refunds"]
        assert len(await search(http, "")) == 3  # max_results
        assert await search(http, "nothing like this") == []
        pricing = (await search(http, "pricing"))[0]
    # The ChatKit.js Entity shape; a previewable entity is interactive.
    assert pricing == {"id": "art_pricing", "title": "Pricing guide", "group": "Articles", "icon": "document",
                       "interactive": True, "data": {"type": "article", "body": "Plans cost 5 a month."}}


async def test_a_static_list_can_live_in_its_own_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(parents=True)
    (tmp_path / "data/articles.yaml").write_text(yaml.safe_dump(ARTICLES))
    path = project(tmp_path, [{"static": "data/articles.yaml", "group": "Docs"}])
    async with run_host(path) as running:
        http = running.http
        assert [e["title"] for e in await search(http, "policy")] == ["Refund policy"]


async def test_a_python_source_gets_the_callers_context(tmp_path: Path) -> None:
    path = project(tmp_path, [{"python": "./people.py:search", "type": "person", "group": "People"}])
    async with run_host(path) as running:
        http = running.http
        alice, bob = await search(http, "", "alice"), await search(http, "", "bob")
        assert [e["title"] for e in alice] == ["Ann", "Andrew"]
        assert [e["title"] for e in bob] == ["Bea"]
        assert [e["title"] for e in await search(http, "dre", "alice")] == ["Andrew"]
    assert bob[0] == {"id": "p_bea", "title": "Bea", "group": "People", "interactive": False,
                      "data": {"email": "bea@example.com", "type": "person"}}


class Directory(JsonHandler):
    """A search API: GET /search?q=…&u=… answers {"items": [...]}; it records what it was asked."""

    seen: list[dict[str, Any]] = []

    def do_GET(self) -> None:  # noqa: N802
        query = parse_qs(urlsplit(self.path).query)
        Directory.seen.append({"query": query, "auth": self.headers.get("Authorization")})
        items = [{"key": "T-1", "name": "Login fails", "meta": {"queue": "Tickets"}, "data": {"type": "ticket"}},
                 {"key": "T-2", "name": "Slow export", "meta": {"queue": "Tickets"}},
                 {"name": "no key: left out"}]
        self.send_json({"result": {"items": items}})


@pytest.fixture(scope="module")
def directory() -> Iterator[str]:
    with serving(Directory) as url:
        yield url


async def test_an_http_source_maps_the_apis_answer(tmp_path: Path, directory: str) -> None:
    source = {"http": {"url": directory + "/search?q={query}&u={user}",
                       "headers": {"Authorization": "Bearer ${DIRECTORY_TOKEN}"},
                       "results": "result.items", "fields": {"id": "key", "title": "name", "group": "meta.queue"}}}
    async with run_host(project(tmp_path, [source]), {"DIRECTORY_TOKEN": "s3cret"}) as running:
        http = running.http
        found = await search(http, "log in&x", "bob")
    assert found == [
        {"id": "T-1", "title": "Login fails", "group": "Tickets", "interactive": False, "data": {"type": "ticket"}},
        {"id": "T-2", "title": "Slow export", "group": "Tickets", "interactive": False},
    ]
    assert Directory.seen[-1] == {"query": {"q": ["log in&x"], "u": ["bob"]}, "auth": "Bearer s3cret"}


class People(JsonHandler):
    """A people API under /v1/people/…: records each path it is asked, finds one person there."""

    paths: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        People.paths.append(self.path)
        self.send_json([{"id": "p_1", "title": f"Found at {self.path}"}])


async def test_an_http_source_never_leaves_the_path_its_url_fixes(tmp_path: Path) -> None:
    with serving(People) as api:
        path = project(tmp_path, [{"http": {"url": api + "/v1/people/{user}/{query}",
                                            "headers": {"Authorization": "Bearer ${PEOPLE_TOKEN}"}}}])
        config = yaml.safe_load(path.read_text())
        config["auth"]["tokens"][".."] = "token-dots"  # a user id is a value like any other
        path.write_text(yaml.safe_dump(config))
        async with run_host(path, {"PEOPLE_TOKEN": "s3cret"}) as running:
            http = running.http
            climbing = [await search(http, query) for query in ("..", ".", "%2e%2e", "a/../..", "..\\x")]
            dots_user = await http.get("/chatkit/entities", params={"q": "x"},
                                       headers={"Authorization": "Bearer token-dots"})
            assert People.paths == []
            found = await search(http, "...")
    assert climbing == [[]] * 5 and dots_user.json()["data"] == []
    assert People.paths == ["/v1/people/alice/..."]
    assert found == [{"id": "p_1", "title": "Found at /v1/people/alice/...", "interactive": False}]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_a_failing_source_finds_nothing_and_says_so_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sources = [{"python": "./people.py:broken"},
               {"http": {"url": f"http://127.0.0.1:{closed_port()}/search?q={{query}}"}},
               {"static": ARTICLES}]
    logger = logging.getLogger("chatkit_host.entities")
    # Litestar's logging setup replaces the root handlers caplog listens on: listen on ours.
    logger.addHandler(caplog.handler)
    try:
        async with run_host(project(tmp_path, sources)) as running:
            http = running.http
            found = await search(http, "refund")
    finally:
        logger.removeHandler(caplog.handler)
    assert [e["id"] for e in found] == ["art_refunds"]  # the working source still answers
    lines = [r.getMessage() for r in caplog.records if r.name == "chatkit_host.entities"]
    assert any("entities.sources.0 (python) failed" in line and "the directory is down" in line
               and "people.py:" in line for line in lines), lines
    assert any("entities.sources.1 (http) failed" in line and "ConnectError" in line for line in lines), lines


async def test_a_preview_is_rendered_from_a_widget_file(tmp_path: Path) -> None:
    async with run_host(project(tmp_path, [{"static": ARTICLES}])) as running:
        http = running.http
        headers = {"Authorization": f"Bearer {TOKENS['alice']}"}
        shown = await http.get("/chatkit/entities/preview", params={"id": "art_pricing"}, headers=headers)
        none = await http.get("/chatkit/entities/preview", params={"id": "art_refunds"}, headers=headers)
        unnamed = await http.get("/chatkit/entities/preview", headers=headers)
    assert shown.status_code == 200
    assert shown.json() == {"preview": {"type": "Card", "children": [
        {"type": "Title", "value": "Pricing guide"}, {"type": "Text", "value": "Plans cost 5."}]}}
    assert none.json() == {"preview": None}
    assert unnamed.status_code == 400 and unnamed.json()["error"]["code"] == "invalid_request"


async def test_the_endpoints_need_the_same_auth_as_chatkit(tmp_path: Path) -> None:
    async with run_host(project(tmp_path, [{"static": ARTICLES}])) as running:
        http = running.http
        for url in ("/chatkit/entities?q=p", "/chatkit/entities/preview?id=art_pricing"):
            missing = await http.get(url)
            wrong = await http.get(url, headers={"Authorization": "Bearer nope"})
            assert (missing.status_code, wrong.status_code) == (401, 401)
            assert missing.json()["error"]["code"] == "unauthorized"
            assert "Pricing" not in missing.text


async def test_without_an_entities_section_the_search_says_so(tmp_path: Path) -> None:
    async with run_host(write_project(tmp_path)) as running:
        http = running.http
        response = await http.get("/chatkit/entities", params={"q": "x"})
    assert response.status_code == 404
    assert "no `entities` in chatkit.yaml" in response.json()["error"]["message"]


async def test_the_playground_wires_the_entity_callbacks(tmp_path: Path) -> None:
    config = base_config()
    config["entities"] = {"sources": [{"static": ARTICLES[1:]}], "composer_menu": True}
    async with run_host(write_project(tmp_path, config)) as running:  # auth none: the playground is on
        http = running.http
        page = (await http.get("/")).text
        found = (await http.get("/chatkit/entities", params={"q": "ship"})).json()["data"]
    data = json.loads(page.split('<script id="playground-data" type="application/json">')[1].split("</script>")[0])
    assert data["entities"] == {"search": "/chatkit/entities", "preview": "/chatkit/entities/preview"}
    assert data["options"]["entities"] == {"showComposerMenu": True}
    assert [e["id"] for e in found] == ["art_shipping"]
    plain = load_config(write_project(tmp_path / "plain"), environ={})
    assert '"entities": null' in render_page(plain.config)


async def test_the_pages_entity_callbacks_ask_the_host(tmp_path: Path) -> None:
    """In a real Chromium (the playground tests' stand-in for ChatKit.js records the options)."""
    from test_playground import STAND_IN, chromium_process, open_page, static_files

    with static_files({"chatkit.js": STAND_IN}) as assets:
        config = base_config()
        config["client"] = {"playground": {"script_url": f"{assets}/chatkit.js"}}
        config["entities"] = {"sources": [{"static": ARTICLES}]}
        project_dir = write_project(tmp_path / "project", config,
                                    files={"widgets/article_preview.widget": PREVIEW_WIDGET}).parent
        with serve_host(project_dir, timeout=90) as host, chromium_process(tmp_path / "profile") as port:
            socket, browser = await open_page(port, f"{host.base}/")
            try:
                await browser.until("window.standIn && window.standIn.options", "the page set the options")
                found = await browser.eval("standIn.options.entities.onTagSearch('refund')")
                preview = await browser.eval("standIn.options.entities.onRequestPreview({id: 'art_pricing'})")
            finally:
                await socket.close()
    assert [entity["id"] for entity in found] == ["art_refunds"]
    assert preview["preview"]["type"] == "Card"


async def test_a_tag_from_the_search_reaches_the_model_through_its_template(tmp_path: Path) -> None:
    async with run_host(project(tmp_path, [{"static": ARTICLES}])) as running:
        http = running.http
        entity = (await search(http, "pricing"))[0]
        client = ChatKitClient("/chatkit", token=TOKENS["alice"], client=http)
        # What ChatKit.js sends for a tag picked from the menu (UserMessageTagContent).
        tag = {"type": "input_tag", "id": entity["id"], "text": entity["title"], "data": entity["data"],
               "interactive": entity["interactive"]}
        turn = await client.stream("threads.create", {"input": {
            "content": [{"type": "input_text", "text": "Summarise "}, tag],
            "attachments": [], "inference_options": {}}})
    assert not turn.errors
    model_input = json.dumps(recorded_calls(tmp_path)[-1]["input"])
    assert "<ARTICLE id='art_pricing'>Plans cost 5 a month.</ARTICLE>" in model_input


def config_error(root: Path, sources: list[dict[str, Any]], files: dict[str, str] | None = None) -> str:
    path = project(root, sources)
    for name, text in (files or {}).items():
        (root / name).write_text(text)
    with pytest.raises(ConfigError) as raised:
        build_runtime(load_config(path, environ={}))
    return raised.value.render(relative_to=root)


def test_an_unknown_preview_widget_is_a_located_config_error(tmp_path: Path) -> None:
    article = {**ARTICLES[0], "preview": {"widget": "artcle_preview", "data": {}}}
    rendered = config_error(tmp_path, [{"static": [article]}])
    line = next(n for n, text in enumerate((tmp_path / "chatkit.yaml").read_text().splitlines(), 1)
                if "artcle_preview" in text)
    assert rendered == (f"chatkit.yaml:{line}:17: entities.sources[0].static[0].preview.widget: unknown widget "
                        "'artcle_preview' (hint: did you mean 'article_preview'?)")


def test_preview_data_and_entity_files_are_checked(tmp_path: Path) -> None:
    bad_data = {**ARTICLES[0], "preview": {"widget": "article_preview", "data": {"title": "x"}}}
    assert "entities.sources[0].static[0].preview.data: does not fit widget 'article_preview': " \
           "data: 'summary' is a required property" in config_error(tmp_path / "a", [{"static": [bad_data]}])
    in_file = [{"id": "x", "title": "X", "preview": {"widget": "nope"}}, {"title": "no id"}]
    rendered = config_error(tmp_path / "b", [{"static": "more.yaml"}], {"more.yaml": yaml.safe_dump(in_file)})
    assert rendered == "more.yaml: [1].id: Field required (hint: the file holds a list of {id, title, …} entities)"
    in_file = [{"id": "x", "title": "X", "preview": {"widget": "nope"}}]
    rendered = config_error(tmp_path / "d", [{"static": "more.yaml"}], {"more.yaml": yaml.safe_dump(in_file)})
    assert rendered == "more.yaml: [0].preview.widget: unknown widget 'nope'"
    rendered = config_error(tmp_path / "c", [{"static": "missing.yaml"}, {"python": "people"},
                                             {"http": {"url": "https://api.example.com/?q={q}"}}])
    assert "entities.sources[0].static: entities file missing.yaml not found" in rendered
    assert "entities.sources[1].python: is not an import path of a function" in rendered


def test_an_unknown_url_field_is_a_config_error(tmp_path: Path) -> None:
    rendered = config_error(tmp_path, [{"http": {"url": "https://api.example.com/?q={q}"}}])
    assert "entities.sources[0].http.url: unknown URL field {q} (hint: the URL may use {query} and {user})" in rendered


def test_a_source_is_one_kind(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="exactly one of static, http, python"):
        load_config(project(tmp_path, [{"static": ARTICLES, "python": "./people.py:search"}]), environ={})
