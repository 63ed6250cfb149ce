"""The example apps in examples/: valid, their conversation tests green, their python free of SDK
imports, and their side-panel pages showing the thread's state in a real headless Chromium (#15).

ChatKit.js is replaced by a stand-in `<openai-chatkit>` (the CDN request is answered over the
DevTools protocol): like ChatKit.js it posts the page's messages and widget actions to the host
with the page's own options, and fires `chatkit.thread.change`, `chatkit.effect` and
`chatkit.response.end` on the element, which is all the page listens to.
"""

from __future__ import annotations

import ast
import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from chatkit_host.testing import serve_host
from projects import REPO
from test_playground import Browser, chromium_process

pytestmark = pytest.mark.serial

EXAMPLES = REPO / "examples"
CDN = "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js"

STAND_IN = """
window.standIn = { options: null, threadId: null, widgetId: null };
class StandInChatKit extends HTMLElement {
  connectedCallback() {
    this.style.cssText = "box-sizing:border-box;padding:1.5rem;font:15px system-ui;overflow:auto";
    this.innerHTML = "<p style='color:#888'>ChatKit.js stand-in</p>";
  }
  setOptions(options) { window.standIn.options = options; }
  line(who, text) {
    const p = document.createElement("p");
    p.innerHTML = "<b></b> <span></span>";
    p.firstChild.textContent = who + ":";
    p.lastChild.textContent = text;
    this.append(p);
  }
  // What ChatKit.js does when the user sends a message or clicks a widget: one streamed request.
  async send(text) {
    this.line("You", text);
    const input = { content: [{ type: "input_text", text }], attachments: [], inference_options: {} };
    const threadId = window.standIn.threadId;
    await this.post(threadId ? { type: "threads.add_user_message", params: { thread_id: threadId, input } }
                              : { type: "threads.create", params: { input } });
  }
  async act(type, payload) {
    this.line("You", "(clicked " + type + ")");
    await this.post({ type: "threads.custom_action", params: {
      thread_id: window.standIn.threadId, item_id: window.standIn.widgetId, action: { type, payload } } });
  }
  async post(body) {
    const options = window.standIn.options;
    const response = await (options.api.fetch || fetch)(options.api.url, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    for (const line of (await response.text()).split("\\n")) {
      if (!line.startsWith("data: ")) continue;
      const event = JSON.parse(line.slice(6));
      if (event.type === "thread.created") {
        window.standIn.threadId = event.thread.id;
        this.dispatchEvent(new CustomEvent("chatkit.thread.change", { detail: { threadId: event.thread.id } }));
      } else if (event.type === "client_effect") {
        this.dispatchEvent(new CustomEvent("chatkit.effect", { detail: { name: event.name, data: event.data } }));
      } else if (event.type === "thread.item.done" && event.item.type === "widget") {
        window.standIn.widgetId = event.item.id;
        this.line("Widget", event.item.copy_text || event.item.widget.type);
      } else if (event.type === "thread.item.done" && event.item.type === "assistant_message") {
        this.line("Assistant", event.item.content.map((part) => part.text).join(""));
      }
    }
    this.dispatchEvent(new CustomEvent("chatkit.response.end"));
  }
}
customElements.define("openai-chatkit", StandInChatKit);
"""


def python_files() -> list[Path]:
    return sorted(EXAMPLES.rglob("*.py"))


def test_no_example_imports_the_sdks() -> None:
    files = python_files()
    assert {path.parent.parent.name for path in files} == {"airline", "pet"}
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.relative_to(EXAMPLES)}: {name}" for name in names
                      if name.split(".")[0] in ("chatkit", "agents")]
    assert found == []


@pytest.mark.parametrize("example", ["airline", "pet"])
def test_the_example_validates_and_its_conversation_tests_pass(example: str) -> None:
    folder = EXAMPLES / example
    for command in (["validate"], ["test"]):
        result = subprocess.run([sys.executable, "-m", "chatkit_host", *command], cwd=folder,
                                capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr
    assert "✗" not in result.stdout and " passed (" in result.stdout


def copy_example(example: str, to: Path) -> Path:
    return Path(shutil.copytree(EXAMPLES / example, to / example, ignore=shutil.ignore_patterns(".chatkit")))


class Page(Browser):
    """One headless Chromium tab over the DevTools protocol, with ChatKit.js's CDN answered locally."""

    async def answer(self, paused: dict[str, Any]) -> None:
        # The reply to this command is skipped by `send`'s loop: nothing waits on it.
        self._next += 1
        body = base64.b64encode(STAND_IN.encode()).decode()
        await self._socket.send(json.dumps({"id": self._next, "method": "Fetch.fulfillRequest", "params": {
            "requestId": paused["requestId"], "responseCode": 200, "body": body,
            "responseHeaders": [{"name": "Content-Type", "value": "text/javascript"}]}}))

    async def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode((await self.send("Page.captureScreenshot", format="png"))["data"]))
        return path


async def open_page(port: int, url: str) -> tuple[Any, Page]:
    targets = httpx.get(f"http://127.0.0.1:{port}/json/list").json()
    target = next(t for t in targets if t["type"] == "page")
    socket = await websockets.connect(target["webSocketDebuggerUrl"], max_size=None)
    page = Page(socket)
    await page.send("Fetch.enable", patterns=[{"urlPattern": CDN}])
    await page.send("Emulation.setDeviceMetricsOverride", width=1200, height=720, deviceScaleFactor=1, mobile=False)
    await page.send("Page.enable")
    await page.send("Page.navigate", url=url)
    await page.until("window.standIn && window.standIn.options", "the page set the ChatKit options")
    return socket, page


async def _chat(page: Page, text: str) -> None:
    await page.eval(f"document.getElementById('chat').send({json.dumps(text)})")


async def _click(page: Page, type: str, payload: dict[str, Any]) -> None:
    await page.eval(f"document.getElementById('chat').act({json.dumps(type)}, {json.dumps(payload)})")


def _text(selector: str) -> str:
    return f"document.querySelector({json.dumps(selector)})?.textContent"


async def test_the_pet_page_shows_the_stats_and_reacts_to_the_mood(tmp_path: Path) -> None:
    project = copy_example("pet", tmp_path)
    with serve_host(project, timeout=90) as host, chromium_process(tmp_path / "profile") as port:
        socket, page = await open_page(port, f"{host.base}/pet/")
        try:
            assert await page.eval("standIn.options.api.url") == "/chatkit"
            await _chat(page, "Are you hungry? Let me feed you")
            assert await page.until(f"{_text('#hunger-value')} === '35 / 100' && {_text('#hunger-value')}",
                                    "the panel showed the new hunger") == "35 / 100"
            assert await page.eval(_text("#energy-value")) == "55 / 100"
            assert await page.eval("document.getElementById('hunger-bar').style.width") == "35%"
            assert await page.eval("document.body.dataset.mood") == "content"  # from the pet_mood effect
            assert await page.eval(_text("#mood")) == "Feeling content"

            await _chat(page, "Can I give you a name? Something from space")
            await page.until("document.getElementById('chat').innerText.includes('Comet, Nova')", "the name widget")
            await _click(page, "pet.name", {"name": "Nova"})
            assert await page.until(f"{_text('#name')} === 'Nova' && {_text('#name')}", "the name") == "Nova"
            await _chat(page, "let's play ball!")
            await page.until(f"{_text('#happiness-value')} === '70 / 100'", "happiness after playing")
            await page.screenshot(tmp_path / "pet.png")
        finally:
            await socket.close()
    assert (tmp_path / "pet.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_the_airline_page_shows_the_profile_and_highlights_changes(tmp_path: Path) -> None:
    project = copy_example("airline", tmp_path)
    with serve_host(project, timeout=90) as host, chromium_process(tmp_path / "profile") as port:
        socket, page = await open_page(port, f"{host.base}/concierge/")
        try:
            options = await page.eval("JSON.stringify(standIn.options)")
            assert json.loads(options)["api"]["uploadStrategy"] == {"type": "direct", "uploadUrl": "/files"}
            await _chat(page, "Can I get a window seat on my flight out?")
            outbound = "#flights .flight[data-flight='SK 318']"
            assert await page.until(f"{_text(outbound + ' .seat')} === '9A' && {_text(outbound)}",
                                    "the new seat") == "9ASK 318  Lisbon (LIS) → Reykjavík (KEF)2027-03-14 at 09:40"
            assert await page.eval(f"document.querySelector({json.dumps(outbound)}).classList.contains('changed')")
            assert await page.eval(_text("#flights .flight[data-flight='SK 319'] .seat")) == "14C"
            assert await page.eval(_text("#customer")) == "Ines Carvalho"
            assert await page.eval(_text("#tier")) == "Gold"

            await _chat(page, "What can I eat on the way there?")
            await page.until("document.getElementById('chat').innerText.includes('Chickpea')", "the meal widget")
            await _click(page, "meal.choose", {"meal": "veg", "label": "Chickpea and spinach stew"})
            assert await page.until(f"{_text('#meal')} === 'Chickpea and spinach stew' && {_text('#meal')}",
                                    "the meal") == "Chickpea and spinach stew"
            assert await page.eval("document.getElementById('meal').classList.contains('changed')")
            await _chat(page, "And I'll bring two suitcases")
            await page.until(f"{_text('#bags')} === '2'", "the bags")
            await page.screenshot(tmp_path / "airline.png")
        finally:
            await socket.close()
    assert (tmp_path / "airline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_init_from_the_pet_template_gives_a_project_whose_tests_pass(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "chatkit_host", "init", "--template", "pet", "my-pet"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    project = tmp_path / "my-pet"
    written = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    source = sorted(str(p.relative_to(EXAMPLES / "pet")) for p in (EXAMPLES / "pet").rglob("*")
                    if p.is_file() and not {".chatkit", "__pycache__"} & set(p.parts))
    assert written == sorted([*source, ".gitignore", "chatkit.schema.json"])
    assert (project / "chatkit.yaml").read_text().splitlines()[0] == "# yaml-language-server: $schema=./chatkit.schema.json"
    assert (project / "tools" / "care.py").read_bytes() == (EXAMPLES / "pet" / "tools" / "care.py").read_bytes()
    for command in (["validate"], ["test"]):
        result = subprocess.run([sys.executable, "-m", "chatkit_host", *command], cwd=project,
                                capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr
    assert "3 conversation(s) passed" in result.stdout


def test_every_template_is_an_example_and_ships_in_the_wheel() -> None:
    import tomllib

    from chatkit_host.commands.templates import TEMPLATES

    assert sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()) == sorted(TEMPLATES)
    wheel = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["sources"] == {"examples": "chatkit_host/templates"}
    assert set(wheel["only-include"]) == {"chatkit_host", *(f"examples/{name}" for name in TEMPLATES)}


def test_what_running_an_example_leaves_behind_is_not_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatkit_host.commands import templates

    served = copy_example("pet", tmp_path)
    (served / ".chatkit").mkdir()
    (served / ".chatkit" / "pet.db").write_bytes(b"threads")
    (served / "tools" / "__pycache__").mkdir()
    (served / "tools" / "__pycache__" / "care.cpython-311.pyc").write_bytes(b"")
    (served / "serve.log").write_text("log")
    monkeypatch.setattr(templates, "template_folder", lambda name: served)
    files = templates.template_files("pet")
    assert "tools/care.py" in files
    assert [name for name in files if ".chatkit" in name or "pycache" in name or name == "serve.log"] == []
