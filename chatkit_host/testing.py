"""A ChatKit protocol client, for tests (yours and ours), benchmarks and terminal tools.

It speaks to a host over HTTP exactly as ChatKit.js does: one POST endpoint answering JSON or
server-sent events. Plain dicts in and out, so a test asserts on the wire format itself.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx


class ChatKitHTTPError(Exception):
    """The host answered with an error status; ``body`` is its parsed JSON."""

    def __init__(self, status: int, body: Any):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


@dataclass
class Turn:
    """The events of one streamed request, with the views tests need most."""

    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def thread_id(self) -> str | None:
        for event in self.events:
            if event["type"] == "thread.created":
                return event["thread"]["id"]
        done = self.items_done
        return done[0]["thread_id"] if done else None

    @property
    def items_done(self) -> list[dict[str, Any]]:
        return [e["item"] for e in self.events if e["type"] == "thread.item.done"]

    @property
    def assistant_text(self) -> str:
        """All assistant message text completed in this turn, messages joined by newlines."""
        return "\n".join(
            "".join(part.get("text", "") for part in item["content"])
            for item in self.items_done
            if item["type"] == "assistant_message"
        )

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == "error"]

    @property
    def widgets(self) -> list[dict[str, Any]]:
        """Widget items completed or replaced in this turn, in order."""
        return [
            e["item"] for e in self.events
            if e["type"] in ("thread.item.done", "thread.item.replaced")
            and e["item"]["type"] == "widget"
        ]

    @property
    def progress(self) -> list[str]:
        """The texts of this turn's progress updates."""
        return [e["text"] for e in self.events if e["type"] == "progress_update"]


def user_input(text: str, attachments: list[str] | None = None) -> dict[str, Any]:
    """A `UserMessageInput` as ChatKit.js sends it."""
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": attachments or [],
        "inference_options": {},
    }


class ChatKitClient:
    """Requests to one ChatKit endpoint (``url``), optionally as a bearer-token user, sending
    ``headers`` (page context, as `request.headers` declares) with every request."""

    def __init__(self, url: str, token: str | None = None, client: httpx.AsyncClient | None = None,
                 headers: dict[str, str] | None = None):
        self.url = url
        self._headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(60.0))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> ChatKitClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def call(self, type: str, params: dict[str, Any] | None = None) -> Any:
        """A JSON request; returns the parsed body or raises `ChatKitHTTPError`."""
        response = await self._client.post(
            self.url, content=_body(type, params), headers=self._headers
        )
        if response.status_code != 200:
            raise ChatKitHTTPError(response.status_code, _json_or_text(response))
        return response.json()

    async def events(self, type: str, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """A streamed request; yields each server-sent event's JSON as it arrives."""
        async with self._client.stream(
            "POST", self.url, content=_body(type, params), headers=self._headers
        ) as response:
            if response.status_code != 200:
                await response.aread()
                raise ChatKitHTTPError(response.status_code, _json_or_text(response))
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    yield json.loads(line[6:])

    async def stream(self, type: str, params: dict[str, Any]) -> Turn:
        """A streamed request, read to the end."""
        return Turn([event async for event in self.events(type, params)])

    async def create_thread(self, text: str, attachments: list[str] | None = None) -> Turn:
        return await self.stream("threads.create", {"input": user_input(text, attachments)})

    async def add_message(self, thread_id: str, text: str, attachments: list[str] | None = None) -> Turn:
        return await self.stream(
            "threads.add_user_message",
            {"thread_id": thread_id, "input": user_input(text, attachments)},
        )

    async def get_thread(self, thread_id: str) -> dict[str, Any]:
        return await self.call("threads.get_by_id", {"thread_id": thread_id})

    async def get_state(self, thread_id: str) -> dict[str, Any]:
        """The thread's app state, from `GET <endpoint>/state?thread_id=…` (the page's route)."""
        response = await self._client.get(f"{self.url.rstrip('/')}/state", params={"thread_id": thread_id},
                                           headers=self._headers)
        if response.status_code != 200:
            raise ChatKitHTTPError(response.status_code, _json_or_text(response))
        return response.json()["state"]

    async def list_threads(self, limit: int = 20, after: str | None = None, order: str = "desc") -> dict[str, Any]:
        return await self.call("threads.list", _page(limit, after, order))

    async def list_items(self, thread_id: str, limit: int = 20, after: str | None = None,
                         order: str = "asc") -> dict[str, Any]:
        return await self.call("items.list", {"thread_id": thread_id, **_page(limit, after, order)})

    async def rename_thread(self, thread_id: str, title: str) -> dict[str, Any]:
        return await self.call("threads.update", {"thread_id": thread_id, "title": title})

    async def delete_thread(self, thread_id: str) -> dict[str, Any]:
        return await self.call("threads.delete", {"thread_id": thread_id})

    async def custom_action(self, thread_id: str, type: str, payload: Any = None,
                            item_id: str | None = None) -> Turn:
        """A widget action click (`threads.custom_action`), on the widget item ``item_id``."""
        params: dict[str, Any] = {"thread_id": thread_id, "action": {"type": type, "payload": payload}}
        if item_id is not None:
            params["item_id"] = item_id
        return await self.stream("threads.custom_action", params)

    async def add_structured_input(self, thread_id: str, item_id: str,
                                   answers: dict[str, list[str] | None], skipped: bool = False) -> Turn:
        """Answers to a pending form (`threads.add_structured_input`).

        ``answers`` maps each question id to its values; None skips that question. ``skipped``
        skips the whole form.
        """
        submission = {
            "status": "skipped" if skipped else "answered",
            "answers": {
                key: {"values": [], "skipped": True} if values is None else {"values": values}
                for key, values in answers.items()
            },
        }
        return await self.stream(
            "threads.add_structured_input",
            {"thread_id": thread_id, "item_id": item_id, "input": submission},
        )

    async def add_client_tool_output(self, thread_id: str, result: Any) -> Turn:
        """The result of the thread's pending client tool call (`threads.add_client_tool_output`)."""
        return await self.stream(
            "threads.add_client_tool_output", {"thread_id": thread_id, "result": result}
        )

    async def retry_after_item(self, thread_id: str, item_id: str) -> Turn:
        """Answer the user message ``item_id`` again, dropping what followed it."""
        return await self.stream(
            "threads.retry_after_item", {"thread_id": thread_id, "item_id": item_id}
        )


def _page(limit: int, after: str | None, order: str) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit, "order": order}
    if after is not None:
        params["after"] = after
    return params


def _body(type: str, params: dict[str, Any] | None) -> bytes:
    return json.dumps({"type": type, "params": params or {}}).encode()


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
