"""A ChatKit protocol client and a host to point it at, for tests (yours and ours), benchmarks and
terminal tools.

`ChatKitClient` speaks to a host over HTTP exactly as ChatKit.js does: one POST endpoint answering
JSON or server-sent events. Plain dicts in and out, so a test asserts on the wire format itself.
`run_host` runs a project's host in-process (no socket); `serve_host` runs `chatkit-host serve` in a
child process on a loopback port, for what only a real socket shows (disconnects, several workers,
reload, other processes).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from chatkit_host.host import Host
    from chatkit_host.runtime.build import Runtime


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


@dataclass
class RunningHost:
    """A host running in-process (see `run_host`)."""

    host: Host
    """The host itself: its store, turn locks and the runtime in force (``host.swap`` reloads)."""
    http: httpx.AsyncClient
    """Requests to the app by path (``await running.http.get("/healthz")``)."""

    def client(self, token: str | None = None) -> ChatKitClient:
        """A protocol client for the ChatKit endpoint, as the user whose bearer ``token`` it is."""
        return ChatKitClient(self.host.runtime.config.server.path, token=token, client=self.http)


@asynccontextmanager
async def run_host(project: str | os.PathLike[str] | Runtime,
                   environ: Mapping[str, str] | None = None) -> AsyncIterator[RunningHost]:
    """Run the app `chatkit-host serve` runs, in-process (ASGI, no socket), until the block ends.

    ``project`` is the path of a chatkit.yaml or a runtime already built from one. ``environ``
    fills its ``${VAR}``s: none unless given, so a test never depends on the shell it runs in.
    The app starts and stops as under a server (the store opens and closes), and requests made
    concurrently run concurrently. Responses arrive whole: a test that must leave in the middle
    of a stream needs `serve_host`.
    """
    # Imported here, not at the top: `chatkit-host chat` uses the client above and should not pay
    # for loading the whole host (seconds) to start.
    from chatkit_host.config.loader import load_config
    from chatkit_host.host import Host
    from chatkit_host.runtime.build import build_runtime
    from chatkit_host.web.app import create_app

    if isinstance(project, (str, os.PathLike)):
        project = build_runtime(load_config(Path(project), environ={} if environ is None else environ))
    host = Host(project)
    app = create_app(host)
    # Litestar types its ASGI arguments with its own TypedDicts, httpx with plain mappings.
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with app.lifespan():
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local",
                                     follow_redirects=True) as http:
            yield RunningHost(host, http)


@dataclass
class ServedHost:
    """A `chatkit-host serve` process (see `serve_host`)."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    """The server's output (stdout and stderr)."""

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The ChatKit endpoint at its default path, ``/chatkit``."""
        return f"{self.base}/chatkit"


@contextmanager
def serve_host(project: str | os.PathLike[str], *args: str, env: Mapping[str, str] | None = None,
               timeout: float = 60.0, log: Path | None = None) -> Iterator[ServedHost]:
    """Run `chatkit-host serve ARGS` in the folder ``project`` on a free loopback port until the block
    ends (then stop it as Ctrl-C does).

    The block begins once ``/healthz`` answers. ``env`` is added to this process's environment; the
    server's output goes to ``log`` (``serve.log`` in ``project`` unless given).

    Raises:
        AssertionError: the server exited or did not answer within ``timeout`` seconds (with its log).
    """
    project = Path(project)
    port = free_port()
    log = project / "serve.log" if log is None else log
    command = [sys.executable, "-m", "chatkit_host", "serve", "--port", str(port), *args]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=project, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})
    served = ServedHost(process, port, log)
    try:
        _wait_healthy(served, timeout)
        yield served
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    """A loopback port nothing listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_healthy(served: ServedHost, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise AssertionError(f"serve exited with {served.process.returncode}:\n{served.log.read_text()}")
        try:
            if httpx.get(f"{served.base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)  # polling /healthz; the deadline above bounds it
    raise AssertionError(f"serve did not become healthy in {timeout}s:\n{served.log.read_text()}")
