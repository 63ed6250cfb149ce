"""The playground page (`GET /`), loaded by a real headless Chromium from a running host.

ChatKit.js is replaced by a stand-in `<openai-chatkit>` element served from loopback: it records the
options the page hands it and, like ChatKit.js, posts a client tool's result back to the host once
the page's `onClientTool` resolves. Chromium is Debian's `chromium` package; CI installs it
(`apt-get install -y chromium`). Without it these tests fail: they are the only check of the page.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from chatkit_host.config.loader import load_config
from chatkit_host.testing import run_host, serve_host
from loopback import JsonHandler, serving
from projects import base_config, write_project

pytestmark = pytest.mark.serial

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

STAND_IN = """
window.standIn = { options: null, posts: [] };
class StandInChatKit extends HTMLElement {
  setOptions(options) { window.standIn.options = options; }
  // What ChatKit.js does with a client tool call: ask the page, post the answer to the host.
  async runClientTool(name, params, threadId) {
    const options = window.standIn.options;
    const result = await options.onClientTool({ name, params });
    const body = { type: "threads.add_client_tool_output", params: { thread_id: threadId, result } };
    const response = await (options.api.fetch || fetch)(options.api.url, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    window.standIn.posts.push({ body, status: response.status, text: await response.text() });
  }
}
customElements.define("openai-chatkit", StandInChatKit);
"""

SCRIPT = {"replies": [
    {"when": "dark", "steps": [
        {"call": "switch_theme", "arguments": {"theme": "dark"}},
        {"say": "Theme switched: {{ tool_output }}"},
    ]},
    {"steps": [{"say": "Echo {{ turn }}: {{ user_text }}"}]},
]}


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (Debian's package); "
                    "the playground page is tested in a real browser", pytrace=False)
    return path


def playground_config(script_url: str) -> dict[str, Any]:
    config = base_config()
    config["agents"]["triage"]["tools"] = ["lookup_order", "switch_theme"]
    config["tools"]["switch_theme"] = {
        "client": {"parameters": {"theme": {"enum": ["light", "dark"]}}},
        "description": "Switch the page between light and dark.",
    }
    config["files"] = {"url": "file://files", "max_bytes": "5MB", "accept": ["image/png", "text/*"]}
    config["client"] = {
        "playground": {"script_url": script_url, "domain_key": "test-key"},
        "theme": "dark",
        "header": {"title": "Acme support"},
        "start_screen": {"greeting": "How can we help?",
                         "prompts": [{"label": "Track", "prompt": "Where is my order?", "icon": "map-pin"}]},
        "composer": {"placeholder": "Ask Acme…", "dictation": False,
                     "attachments": {"max_count": 3},
                     "models": [{"id": "fast", "label": "Fast", "default": True, "model": "demo/fast"}],
                     "tools": [{"id": "search", "label": "Search", "icon": "globe", "pinned": True}]},
    }
    return config


@contextmanager
def static_files(files: dict[str, str]) -> Iterator[str]:
    """A loopback HTTP server for ``files``; yields its base URL."""
    with tempfile.TemporaryDirectory() as root:
        for name, text in files.items():
            (Path(root) / name).write_text(text)
        with serving(partial(_QuietHandler, directory=root)) as url:
            yield url


class _QuietHandler(JsonHandler, SimpleHTTPRequestHandler):
    """Static files from `directory`; JsonHandler only for its silent access log."""


class Browser:
    """One headless Chromium page driven over the DevTools protocol."""

    def __init__(self, socket: Any):
        self._socket = socket
        self._next = 0

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        await self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(await self._socket.recv())
            if message.get("method") == "Fetch.requestPaused":
                await self.answer(message["params"])
            elif message.get("id") == ident:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message["result"]

    async def answer(self, paused: dict[str, Any]) -> None:
        """Answer a request the page made that `Fetch.enable` paused (none here)."""
        raise AssertionError(f"a request was paused with no one to answer it: {paused.get('request')}")

    async def eval(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression,
                                 awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def until(self, expression: str, what: str) -> Any:
        """Poll ``expression`` until it is truthy: waiting for the page, not timing it."""
        for _ in range(1200):
            value = await self.eval(expression)
            if value:
                return value
            await asyncio.sleep(0.05)
        raise AssertionError(f"never happened: {what}; the page says: "
                             f"{await self.eval('document.body.innerText')}")


@contextmanager
def chromium_process(profile: Path) -> Iterator[int]:
    """Headless Chromium with a fresh profile; yields its DevTools port."""
    process = subprocess.Popen(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "DevTools listening on ws://" in line:
                yield int(line.split("ws://127.0.0.1:")[1].split("/")[0])
                break
        else:
            raise AssertionError(f"chromium exited with {process.wait()} before listening")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def open_page(port: int, url: str) -> tuple[Any, Browser]:
    targets = httpx.get(f"http://127.0.0.1:{port}/json/list").json()
    page = next(t for t in targets if t["type"] == "page")
    socket = await websockets.connect(page["webSocketDebuggerUrl"], max_size=None)
    browser = Browser(socket)
    await browser.send("Page.enable")
    await browser.send("Page.navigate", url=url)
    return socket, browser


async def test_the_page_hands_the_configured_options_and_answers_client_tools(tmp_path: Path) -> None:
    with static_files({"chatkit.js": STAND_IN}) as assets:
        project = write_project(tmp_path / "project", playground_config(f"{assets}/chatkit.js"),
                                script=SCRIPT).parent
        with serve_host(project, timeout=90) as host, chromium_process(tmp_path / "profile") as port:
            # A turn that ends on the client tool call, as the browser would have started it.
            turn = _stream(host.url, "threads.create", {"input": _text("go dark please")})
            thread_id = turn[0]["thread"]["id"]
            pending = [e["item"] for e in turn if e["type"] == "thread.item.done"
                       and e["item"]["type"] == "client_tool_call"]
            assert [(c["name"], c["arguments"], c["status"]) for c in pending] == [
                ("switch_theme", {"theme": "dark"}, "pending")]

            socket, browser = await open_page(port, f"{host.base}/")
            try:
                options = json.loads(await browser.until(
                    "window.standIn && window.standIn.options && JSON.stringify(window.standIn.options)",
                    "the page set the ChatKit options"))
                assert options == {
                    "api": {"url": "/chatkit", "domainKey": "test-key",
                            "uploadStrategy": {"type": "direct", "uploadUrl": "/files"}},
                    "theme": "dark",
                    "header": {"enabled": True, "title": {"enabled": True, "text": "Acme support"}},
                    "startScreen": {"greeting": "How can we help?", "prompts": [
                        {"label": "Track", "prompt": "Where is my order?", "icon": "map-pin"}]},
                    "composer": {
                        "placeholder": "Ask Acme…",
                        "attachments": {"enabled": True, "maxCount": 3, "maxSize": 5_000_000,
                                        "accept": {"image/png": [], "text/*": []}},
                        "dictation": {"enabled": False},
                        "tools": [{"id": "search", "label": "Search", "icon": "globe",
                                   "pinned": True, "persistent": False}],
                        "models": [{"id": "fast", "label": "Fast", "default": True,
                                    "disabled": False}],
                    },
                    "widgets": {},  # its onAction is a function: JSON leaves it out
                }
                assert await browser.eval(
                    "[typeof standIn.options.onClientTool, typeof standIn.options.widgets.onAction]"
                ) == ["function", "function"]
                assert await browser.eval("document.title") == "Acme support"

                # ChatKit.js asks the page for the tool's result: the panel shows the call...
                await browser.eval(f"document.getElementById('chatkit').runClientTool("
                                   f"'switch_theme', {{theme: 'dark'}}, {json.dumps(thread_id)}); 0")
                card = await browser.until("document.querySelector('.call')?.innerText",
                                           "the panel showed the call")
                assert "Client tool: switch_theme" in card
                assert '"theme": "dark"' in card and "Switch the page between light and dark." in card
                # ...refuses what is not JSON, in words...
                await _answer(browser, "{applied: yes")
                problem = await browser.until("document.querySelector('.call .problem').textContent",
                                              "the panel complained")
                assert problem.startswith("Not valid JSON:")
                assert await browser.eval("standIn.posts.length") == 0
                # ...and hands the typed JSON back, which reaches the host.
                await _answer(browser, '{"applied": "dark"}')
                posts = await browser.until("standIn.posts.length && standIn.posts",
                                            "the result was posted")
            finally:
                await socket.close()
            assert posts[0]["body"]["params"] == {"thread_id": thread_id, "result": {"applied": "dark"}}
            assert posts[0]["status"] == 200
            assert "Theme switched" in posts[0]["text"]  # the model continued from the output
            items = _call(host.url, "items.list", {"thread_id": thread_id, "limit": 20, "order": "asc"})
            call = next(i for i in items["data"] if i["type"] == "client_tool_call")
            assert (call["status"], call["output"]) == ("completed", {"applied": "dark"})


async def test_an_unreachable_cdn_is_said_plainly(tmp_path: Path) -> None:
    with static_files({}) as assets:  # nothing there: the script 404s like a blocked CDN
        project = write_project(tmp_path / "project", playground_config(f"{assets}/chatkit.js")).parent
        with serve_host(project, timeout=90) as host, chromium_process(tmp_path / "profile") as port:
            socket, browser = await open_page(port, f"{host.base}/")
            try:
                status = await browser.until(
                    "document.getElementById('status')?.classList.contains('error')"
                    " && document.getElementById('status').textContent", "the page reported it")
            finally:
                await socket.close()
    assert status == (f"ChatKit.js could not be loaded from {assets}/chatkit.js. The chat needs it: "
                      "check your internet connection (or client.playground.script_url). "
                      "The host itself is running.")


HOSTILE = ["<!--<script>", "</script><script>window.injected = 1</script>", "a & b > c", "line\u2028end\u2029"]


async def test_markup_in_client_strings_neither_stops_nor_enters_the_pages_script(tmp_path: Path) -> None:
    config = playground_config("")
    config["client"]["start_screen"] = {"greeting": HOSTILE[0], "prompts": [
        {"label": text, "prompt": text} for text in HOSTILE[1:]]}
    with static_files({"chatkit.js": STAND_IN}) as assets:
        config["client"]["playground"]["script_url"] = f"{assets}/chatkit.js"
        project = write_project(tmp_path / "project", config).parent
        with serve_host(project, timeout=90) as host, chromium_process(tmp_path / "profile") as port:
            page = httpx.get(f"{host.base}/").text
            socket, browser = await open_page(port, f"{host.base}/")
            try:
                screen = json.loads(await browser.until(
                    "window.standIn && window.standIn.options"
                    " && JSON.stringify(window.standIn.options.startScreen)", "the page set the options"))
                injected = await browser.eval("window.injected === undefined")
            finally:
                await socket.close()
    assert screen == {"greeting": HOSTILE[0], "prompts": [{"label": t, "prompt": t} for t in HOSTILE[1:]]}
    assert injected
    embedded = page.split('<script id="playground-data" type="application/json">', 1)[1].split("</script>", 1)[0]
    assert not any(c in embedded for c in "<>&\u2028\u2029")
    assert json.loads(embedded)["options"]["startScreen"] == screen


async def test_on_by_default_only_without_auth_and_configurable(tmp_path: Path) -> None:
    async def status_of(config: dict[str, Any], path: str = "/") -> tuple[int, str]:
        project = write_project(tmp_path / str(len(list(tmp_path.iterdir()))), config)
        async with run_host(project) as running:
            client = running.http
            response = await client.get(path)
            return response.status_code, response.text

    code, page = await status_of(base_config())
    assert code == 200
    assert 'src = data.scriptUrl' in page
    assert '"scriptUrl": "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js"' in page
    assert '"attachments": {"enabled": false}' in page  # no `files` section: no attachments

    bearer = base_config()
    bearer["auth"] = {"mode": "bearer", "tokens": {"alice": "secret-token"}}
    assert (await status_of(bearer))[0] == 404
    bearer["client"] = {"playground": {"enabled": True, "path": "/play"}}
    code, page = await status_of(bearer, "/play")
    assert code == 200 and '"needsToken": true' in page and "secret-token" not in page

    off = base_config()
    off["client"] = {"playground": {"enabled": False}}
    assert (await status_of(off))[0] == 404


def test_a_misspelt_client_option_is_a_located_error(tmp_path: Path) -> None:
    config = base_config()
    config["client"] = {"composer": {"placeholdr": "Ask"}}
    from chatkit_host.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        load_config(write_project(tmp_path, config), environ={})
    assert "client.composer.placeholdr" in error.value.render()


async def _answer(browser: Browser, text: str) -> None:
    await browser.eval(f"(() => {{ const card = document.querySelector('.call');"
                       f" card.querySelector('textarea').value = {json.dumps(text)};"
                       f" card.querySelector('button').click(); return 0; }})()")


def _text(text: str) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [],
            "inference_options": {}}


def _stream(url: str, type: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with httpx.stream("POST", url, json={"type": type, "params": params}, timeout=60) as response:
        assert response.status_code == 200, response.read()
        return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]


def _call(url: str, type: str, params: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(url, json={"type": type, "params": params}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()
