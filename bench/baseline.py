"""The baseline: a ChatKit server written by hand the way the SDK's docs show.

A `ChatKitServer` subclass whose `respond` runs one agent with the SDK's `stream_agent_response`, a
plain SQLite store (the stdlib `sqlite3`, one connection, JSON rows, as the SDK's examples write
it), a Starlette app (what the docs' FastAPI example is made of) and uvicorn with the host's
settings. Its model is the host's offline scripted model playing the same script, so both servers
answer identically and only the server code differs.

Run: python -m bench.baseline --port 8001 --db /tmp/baseline.db --script bench-script.yaml
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from agents import Agent, Runner, set_tracing_disabled
from chatkit.agents import AgentContext, ThreadItemConverter, stream_agent_response
from chatkit.server import ChatKitServer, StreamingResult
from chatkit.store import NotFoundError, Store
from chatkit.types import (
    Attachment,
    Page,
    ThreadItem,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)
from pydantic import TypeAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from chatkit_host.runtime.scripted import ScriptedProvider, load_script

USER = "local"
_ITEM: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)

SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS threads_user_created ON threads (user_id, created_at);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, user_id TEXT NOT NULL,
    created_at TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS items_thread_created ON items (thread_id, created_at);
CREATE TABLE IF NOT EXISTS attachments (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, data TEXT NOT NULL);
"""


class SQLiteStore(Store[dict[str, Any]]):
    """Threads and items as JSON rows in one SQLite file."""

    def __init__(self, path: str):
        self.conn = sqlite3.connect(path, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.executescript(SCHEMA)

    async def load_thread(self, thread_id: str, context: dict[str, Any]) -> ThreadMetadata:
        row = self.conn.execute(
            "SELECT data FROM threads WHERE id = ? AND user_id = ?", (thread_id, context["user_id"])
        ).fetchone()
        if row is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        return ThreadMetadata.model_validate_json(row[0])

    async def save_thread(self, thread: ThreadMetadata, context: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO threads (id, user_id, created_at, data) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET data = excluded.data",
            (thread.id, context["user_id"], thread.created_at.isoformat(), thread.model_dump_json()),
        )
        self.conn.commit()

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: dict[str, Any]
    ) -> Page[ThreadMetadata]:
        rows = self._page("threads", "user_id", context["user_id"], limit, after, order)
        return _page([ThreadMetadata.model_validate_json(data) for _, data in rows], rows, limit)

    async def delete_thread(self, thread_id: str, context: dict[str, Any]) -> None:
        self.conn.execute("DELETE FROM items WHERE thread_id = ?", (thread_id,))
        self.conn.execute(
            "DELETE FROM threads WHERE id = ? AND user_id = ?", (thread_id, context["user_id"])
        )
        self.conn.commit()

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: dict[str, Any]
    ) -> Page[ThreadItem]:
        rows = self._page("items", "thread_id", thread_id, limit, after, order)
        return _page([_ITEM.validate_json(data) for _, data in rows], rows, limit)

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: dict[str, Any]
    ) -> None:
        await self.save_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO items (id, thread_id, user_id, created_at, data) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET data = excluded.data",
            (item.id, thread_id, context["user_id"], item.created_at.isoformat(),
             item.model_dump_json()),
        )
        self.conn.commit()

    async def load_item(self, thread_id: str, item_id: str, context: dict[str, Any]) -> ThreadItem:
        row = self.conn.execute(
            "SELECT data FROM items WHERE id = ? AND thread_id = ?", (item_id, thread_id)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"Item {item_id} not found")
        return _ITEM.validate_json(row[0])

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: dict[str, Any]
    ) -> None:
        self.conn.execute("DELETE FROM items WHERE id = ? AND thread_id = ?", (item_id, thread_id))
        self.conn.commit()

    async def save_attachment(self, attachment: Attachment, context: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO attachments (id, user_id, data) VALUES (?, ?, ?)",
            (attachment.id, context["user_id"], attachment.model_dump_json()),
        )
        self.conn.commit()

    async def load_attachment(self, attachment_id: str, context: dict[str, Any]) -> Attachment:
        row = self.conn.execute(
            "SELECT data FROM attachments WHERE id = ?", (attachment_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return TypeAdapter(Attachment).validate_json(row[0])

    async def delete_attachment(self, attachment_id: str, context: dict[str, Any]) -> None:
        self.conn.execute("DELETE FROM attachments WHERE id = ?", (attachment_id,))
        self.conn.commit()

    def _page(self, table: str, key: str, value: str, limit: int, after: str | None,
              order: str) -> list[tuple[str, str]]:
        direction, compare = ("DESC", "<") if order == "desc" else ("ASC", ">")
        query = f"SELECT id, data FROM {table} WHERE {key} = ?"
        params: list[Any] = [value]
        if after:
            query += f" AND created_at {compare} (SELECT created_at FROM {table} WHERE id = ?)"
            params.append(after)
        query += f" ORDER BY created_at {direction} LIMIT ?"
        params.append(limit + 1)
        return self.conn.execute(query, params).fetchall()


def _page(data: list[Any], rows: list[tuple[str, str]], limit: int) -> Page[Any]:
    has_more = len(rows) > limit
    return Page(data=data[:limit], has_more=has_more, after=rows[limit - 1][0] if has_more else None)


class BaselineServer(ChatKitServer[dict[str, Any]]):
    def __init__(self, store: SQLiteStore, agent: Agent[AgentContext]):
        super().__init__(store)
        self.agent = agent
        self.converter = ThreadItemConverter()

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None,
        context: dict[str, Any],
    ) -> AsyncIterator[ThreadStreamEvent]:
        items = await self.store.load_thread_items(thread.id, None, 100, "desc", context)
        agent_input = await self.converter.to_agent_input(list(reversed(items.data)))
        agent_context = AgentContext(thread=thread, store=self.store, request_context=context)
        result = Runner.run_streamed(self.agent, agent_input, context=agent_context)
        async for event in stream_agent_response(agent_context, result):
            yield event


def create_app(db: str, script: Path) -> Starlette:
    set_tracing_disabled(True)  # offline: no trace export
    model = ScriptedProvider(load_script(script)).get_model("offline")
    agent = Agent[AgentContext](name="assistant", instructions="You are helpful.", model=model)
    server = BaselineServer(SQLiteStore(db), agent)

    async def chatkit_endpoint(request: Request) -> Response:
        result = await server.process(await request.body(), {"user_id": USER})
        if isinstance(result, StreamingResult):
            return StreamingResponse(result, media_type="text/event-stream")
        return Response(content=result.json, media_type="application/json")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[
        Route("/chatkit", chatkit_endpoint, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--script", type=Path, required=True)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    # The host's uvicorn settings (chatkit_host.cli.serve).
    uvicorn.run(create_app(args.db, args.script), host="127.0.0.1", port=args.port,
                log_level=args.log_level, timeout_graceful_shutdown=5, ws="none")


if __name__ == "__main__":
    main()
