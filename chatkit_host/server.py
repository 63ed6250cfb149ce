"""The ChatKitServer: the SDK's protocol, filled in from the current Runtime.

No YAML and no HTTP here. Each hook asks for the runtime once and keeps it for the whole stream, so
a reload never changes the configuration under a turn in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from agents import Agent, Runner
from chatkit.agents import AgentContext, stream_agent_response
from chatkit.server import ChatKitServer
from chatkit.types import (
    FeedbackKind,
    ThreadItem,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTextContent,
)

from chatkit_host.context import RequestContext
from chatkit_host.runtime.build import Runtime
from chatkit_host.storage.store import SQLStore
from chatkit_host.stream_ids import FreshItemIds

logger = logging.getLogger("chatkit_host.server")

CURRENT_AGENT = "agent"
"""Thread metadata key: the agent that answered last, so a handoff lasts beyond one turn."""


class HostServer(ChatKitServer[RequestContext]):
    """ChatKit's server with every hook delegated to the runtime in force."""

    def __init__(self, store: SQLStore, runtime: Callable[[], Runtime]):
        super().__init__(store)
        self.store: SQLStore = store
        self._runtime = runtime

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        runtime = self._runtime()
        agent = self._agent_for(thread, runtime)
        items = await self._history(thread, runtime, context)
        agent_context = AgentContext(thread=thread, store=self.store, request_context=context)
        result = Runner.run_streamed(
            agent,
            await runtime.converter.to_agent_input(items),
            context=agent_context,
            run_config=runtime.run_config(thread.id),
        )
        try:
            ids = FreshItemIds(lambda: self.store.generate_item_id("message", thread, context))
            async for event in ids.rewrite(stream_agent_response(agent_context, result)):
                yield event
        except BaseException:
            # Stop means stop: without this the model keeps streaming (and billing) after the client
            # has gone or cancelled.
            result.cancel()
            raise
        if result.last_agent is not None:
            thread.metadata[CURRENT_AGENT] = result.last_agent.name
        if thread.title is None and input_user_message is not None:
            thread.title = await self._title(runtime, input_user_message)

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: RequestContext
    ) -> None:
        await self.store.save_feedback(thread_id, item_ids, feedback, context)

    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: RequestContext
    ) -> None:
        # The ASGI server's cancel scope cancels every await in a cancelled task again, which would
        # cut the SDK's own clean-up writes short and lose what the user already saw. Shield them.
        cleanup = asyncio.ensure_future(
            super().handle_stream_cancelled(thread, pending_items, context)
        )
        try:
            await asyncio.shield(cleanup)
        except asyncio.CancelledError:
            await _finish_anyway(cleanup)
            raise

    def _agent_for(self, thread: ThreadMetadata, runtime: Runtime) -> Agent:
        name = thread.metadata.get(CURRENT_AGENT)
        return runtime.agents.get(name, runtime.entry) if isinstance(name, str) else runtime.entry

    async def _history(
        self, thread: ThreadMetadata, runtime: Runtime, context: RequestContext
    ) -> list[ThreadItem]:
        """The newest `history.max_items` items, oldest first: model input stays bounded."""
        page = await self.store.load_thread_items(
            thread.id, None, runtime.config.history.max_items, "desc", context
        )
        return list(reversed(page.data))

    async def _title(self, runtime: Runtime, message: UserMessageItem) -> str | None:
        text = " ".join(
            part.text for part in message.content if isinstance(part, UserMessageTextContent)
        ).strip()
        titles = runtime.config.titles
        if titles == "none" or not text:
            return None
        if titles == "first_message":
            return _shorten(text, 60)
        assert runtime.title_agent is not None
        try:
            result = await Runner.run(runtime.title_agent, text, run_config=runtime.run_config(""))
            return _shorten(str(result.final_output).strip().strip('"'), titles.max_length)
        except Exception:
            logger.warning("the title agent failed; using the first message", exc_info=True)
            return _shorten(text, titles.max_length)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return cut + "…"


async def _finish_anyway(task: asyncio.Future[Any]) -> None:
    """Wait for a shielded task even while our own task keeps being cancelled."""
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            continue
