"""`chatkit-host chat`: a terminal client of the ChatKit protocol, for trying a host without a frontend.

It streams assistant text as it arrives, shows widgets as text (buttons numbered for `/click`),
progress and workflow updates, asks forms as prompts and client tool calls for their JSON result —
the same requests ChatKit.js sends, so what works here works in the browser.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from chatkit_host.testing import ChatKitClient, ChatKitHTTPError

HELP = ("Commands: /threads (list and open one), /new, /retry, /click N (a widget button), "
        "/help, /quit")


@click.command("chat")
@click.option("--url", help="The ChatKit endpoint (default: from chatkit.yaml's server section).")
@click.option("--token", envvar="CHATKIT_TOKEN", help="Bearer token (or CHATKIT_TOKEN).")
@click.option(
    "--config", "-c", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    default=lambda: os.environ.get("CHATKIT_HOST_CONFIG", "chatkit.yaml"),
    show_default="chatkit.yaml", help="Where to read the default URL from.",
)
def chat_command(url: str | None, token: str | None, config_path: Path) -> None:
    """Chat with a running host in the terminal."""
    url = url or _url_from_config(config_path)
    click.echo(f"chatkit-host chat: {url}\n{HELP}")
    try:
        asyncio.run(Chat(ChatKitClient(url, token=token)).run())
    except (KeyboardInterrupt, EOFError):
        click.echo()


@dataclass
class Chat:
    client: ChatKitClient
    thread_id: str | None = None
    last_user_item: str | None = None
    buttons: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    """(label, action, widget item id) of the widgets shown, numbered for `/click`."""

    async def run(self) -> None:
        try:
            while True:
                line = (await _ask("you> ")).strip()
                if not line:
                    continue
                if line in ("/quit", "/exit"):
                    return
                try:
                    await self.command(line) if line.startswith("/") else await self.say(line)
                except ChatKitHTTPError as error:
                    _out(f"! the host refused it: {_refusal(error)}")
        finally:
            await self.client.aclose()

    async def command(self, line: str) -> None:
        name, _, argument = line.partition(" ")
        if name == "/new":
            self.thread_id, self.last_user_item, self.buttons = None, None, []
            _out("(a new thread starts with your next message)")
        elif name == "/threads":
            await self.threads()
        elif name == "/retry":
            if self.thread_id is None or self.last_user_item is None:
                _out("! nothing to retry yet")
                return
            await self.follow(self.client.events("threads.retry_after_item", {
                "thread_id": self.thread_id, "item_id": self.last_user_item}))
        elif name == "/click":
            await self.click(argument.strip())
        else:
            _out(HELP)

    async def say(self, text: str) -> None:
        input = {"content": [{"type": "input_text", "text": text}], "attachments": [],
                 "inference_options": {}}
        if self.thread_id is None:
            await self.follow(self.client.events("threads.create", {"input": input}))
        else:
            await self.follow(self.client.events(
                "threads.add_user_message", {"thread_id": self.thread_id, "input": input}))

    async def threads(self) -> None:
        threads = (await self.client.list_threads(limit=20))["data"]
        if not threads:
            _out("(no threads yet)")
            return
        for number, thread in enumerate(threads, 1):
            mark = "*" if thread["id"] == self.thread_id else " "
            _out(f"{mark}{number}. {thread.get('title') or '(untitled)'}  [{thread['id']}]")
        choice = (await _ask("open which? (number, Enter to stay) ")).strip()
        if choice.isdigit() and 1 <= int(choice) <= len(threads):
            await self.open(threads[int(choice) - 1]["id"])

    async def open(self, thread_id: str) -> None:
        self.thread_id, self.last_user_item, self.buttons = thread_id, None, []
        items = (await self.client.list_items(thread_id, limit=100))["data"]
        for item in items:
            self.show_item(item, live=False)
        _out(f"(thread {thread_id}: {len(items)} item(s))")

    async def click(self, argument: str) -> None:
        if not argument.isdigit() or not 1 <= int(argument) <= len(self.buttons):
            _out(f"! /click takes a button number (1-{len(self.buttons)})" if self.buttons
                 else "! no widget buttons to click")
            return
        label, action, item_id = self.buttons[int(argument) - 1]
        _out(f"(clicked [{label}])")
        await self.follow(self.client.events("threads.custom_action", {
            "thread_id": self.thread_id, "item_id": item_id, "action": action}))

    async def follow(self, events: AsyncIterator[dict[str, Any]]) -> None:
        """Show a stream; then answer what it left pending (a client tool call, a form)."""
        pending: dict[str, Any] | None = None
        streaming = False
        async for event in events:
            kind = event["type"]
            if kind == "thread.created":
                self.thread_id = event["thread"]["id"]
            elif kind == "thread.item.updated":
                update = event["update"]
                if update["type"] == "assistant_message.content_part.text_delta":
                    if not streaming:
                        _out("bot> ", end="")
                    streaming = True
                    _out(update["delta"], end="")
                elif update["type"] in ("workflow.task.added", "workflow.task.updated"):
                    _out(f"  ⚙ {_task_text(update['task'])}")
            elif kind in ("thread.item.done", "thread.item.replaced"):
                item = event["item"]
                if streaming and item["type"] == "assistant_message":
                    _out("")
                    streaming = False
                else:
                    self.show_item(item, live=True, replaced=kind == "thread.item.replaced")
                if item.get("status") == "pending" and item["type"] in ("client_tool_call",
                                                                         "structured_input"):
                    pending = item
            elif kind == "progress_update":
                _out(f"  … {event['text']}")
            elif kind == "notice":
                _out(f"  ({event.get('level')}) {event.get('message')}")
            elif kind == "error":
                _out(f"! error: {event.get('message') or event.get('code')}")
        if streaming:
            _out("")
        if pending is not None:
            await self.answer(pending)

    def show_item(self, item: dict[str, Any], live: bool, replaced: bool = False) -> None:
        """Print a finished item; a live user message is what was just typed, so it is not echoed."""
        kind = item["type"]
        if kind == "user_message":
            self.last_user_item = item["id"]
            if not live:
                _out("you> " + " ".join(p.get("text", "") for p in item["content"]))
        elif kind == "assistant_message":
            _out("bot> " + "".join(part.get("text", "") for part in item["content"]))
        elif kind == "widget":
            _out("  ┌─ widget (updated)" if replaced else "  ┌─ widget")
            for line in self.widget_lines(item["widget"], item["id"]):
                _out(f"  │ {line}")
            _out("  └─")
        elif kind == "workflow":
            for task in item["workflow"].get("tasks", []):
                _out(f"  ⚙ {_task_text(task)}")
        elif kind == "client_tool_call" and item.get("status") == "completed":
            _out(f"  ↳ {item['name']} → {json.dumps(item.get('output'))}")

    def widget_lines(self, node: dict[str, Any], item_id: str) -> list[str]:
        """A widget tree as lines of text; buttons become `[N label]` for `/click N`.

        A replaced widget keeps its buttons' numbers, so `/click 1` means the same button again.
        """
        numbers = iter([n for n, (_, _, owner) in enumerate(self.buttons) if owner == item_id])
        return self._lines(node, item_id, numbers)

    def _lines(self, node: dict[str, Any], item_id: str, numbers: Iterator[int]) -> list[str]:
        kind = node.get("type")
        if kind == "Button":
            label, action = node.get("label", "?"), node.get("onClickAction")
            if not action:
                return [f"[{label}]"]
            index = next(numbers, None)
            if index is None:
                self.buttons.append((label, action, item_id))
                index = len(self.buttons) - 1
            else:
                self.buttons[index] = (label, action, item_id)
            return [f"[{index + 1} {label}]"]
        if kind == "Badge":
            return [f"({node.get('label', '')})"]
        lines = [str(node[key]) for key in ("title", "value", "label") if isinstance(node.get(key), str)]
        children = [line for child in node.get("children", []) or [] if isinstance(child, dict)
                    for line in self._lines(child, item_id, numbers)]
        if kind in ("Row", "ListViewItem") and children:
            return lines + ["  ".join(children)]
        return lines + children

    async def answer(self, item: dict[str, Any]) -> None:
        if item["type"] == "client_tool_call":
            result = await _ask_json(f"client tool {item['name']}({json.dumps(item['arguments'])})"
                                     " — type its JSON result> ")
            await self.follow(self.client.events("threads.add_client_tool_output", {
                "thread_id": self.thread_id, "result": result}))
            return
        answers = {}
        for question in item["inputs"]:
            answers[question["id"]] = await _ask_question(question)
        await self.follow(self.client.events("threads.add_structured_input", {
            "thread_id": self.thread_id, "item_id": item["id"],
            "input": {"status": "answered", "answers": answers}}))


async def _ask_question(question: dict[str, Any]) -> dict[str, Any]:
    _out(f"  ? {question['question']}")
    options = [option["value"] for option in question.get("options", [])]
    for number, option in enumerate(options, 1):
        _out(f"    {number}. {option}")
    multiple = question.get("multiple", False)
    hint = ("numbers, comma-separated" if multiple else "a number") if options else "your answer"
    text = (await _ask(f"  ({hint}; Enter to skip)> ")).strip()
    if not text:
        return {"values": [], "skipped": True}
    values = []
    for part in (text.split(",") if options and multiple else [text]):
        part = part.strip()
        values.append(options[int(part) - 1] if part.isdigit() and 0 < int(part) <= len(options)
                      else part)
    return {"values": values}


async def _ask_json(prompt: str) -> Any:
    while True:
        text = await _ask(prompt)
        try:
            return json.loads(text)
        except ValueError as error:
            _out(f"! not JSON ({error}); try again, e.g. {{\"ok\": true}}")


def _task_text(task: dict[str, Any]) -> str:
    title = task.get("title") or task.get("type", "task")
    content = task.get("content")
    return f"{title}: {content}" if content else str(title)


def _refusal(error: ChatKitHTTPError) -> str:
    body = error.body.get("error", {}) if isinstance(error.body, dict) else {}
    return f"HTTP {error.status} {body.get('message') or error.body}"


def _url_from_config(path: Path) -> str:
    host, port, route = "127.0.0.1", 8000, "/chatkit"
    if path.is_file():
        try:
            from chatkit_host.config.loader import load_config

            server = load_config(path).config.server
            host, port, route = server.host, server.port, server.path
        except Exception:  # a broken config still leaves the defaults to try
            pass
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}{route}"


async def _ask(prompt: str) -> str:
    return await asyncio.to_thread(input, prompt)


def _out(text: str, end: str = "\n") -> None:
    sys.stdout.write(text + end)
    sys.stdout.flush()
