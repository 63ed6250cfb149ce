"""A turn answered by a workflow (`entry` names one): the thread's history in, the workflow's
events out, through the same id rewriting and turn watch as an agent's turn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from agents import Agent
from chatkit.errors import CustomStreamError
from chatkit.types import (
    ThreadMetadata, ThreadStreamEvent, UserMessageItem, UserMessageTextContent, WorkflowItem,
)

from chatkit_host.context import RequestContext
from chatkit_host.protocol.stream_ids import FreshItemIds
from chatkit_host.protocol.turn_watch import watch_turn
from chatkit_host.runtime.build import Runtime
from chatkit_host.runtime.hosted_tools import image_converter
from chatkit_host.runtime.turn_context import TurnContext
from chatkit_host.runtime.workflows import WorkflowFailed, WorkflowTurn, run_workflow
from chatkit_host.runtime.workflows.approval import take_resumption

if TYPE_CHECKING:
    from chatkit_host.protocol.server import HostServer

FAILED = "Sorry, this conversation could not go on. Please try again."
"""What the user sees when a workflow cannot continue; the log says why."""


async def workflow_turn(
    server: HostServer, runtime: Runtime, thread: ThreadMetadata, message: UserMessageItem | None,
    context: RequestContext,
) -> AsyncIterator[ThreadStreamEvent]:
    """Run the entry workflow on the thread. `runtime` is held to the end: a reload during the turn
    does not change the graph under it."""
    workflow = runtime.workflows[runtime.config.entry_workflow or ""]
    converter = runtime.converter.for_request(server._attachment_input, context)
    items = await server._history(thread, runtime, context)
    resume = take_resumption(thread, items, workflow)  # an answered approval: go on where it stopped
    # Progress items show the user the steps; the next turn's agents read what the export's
    # bookkeeping would give them — messages and tool calls, not a narration of the steps.
    items = [item for item in items if not (isinstance(item, WorkflowItem) and item.workflow.type == "custom")]
    # One read of the thread's state for the whole turn; each agent run gets a context sharing it.
    shared = await runtime.turn_context(server.store, thread, context)
    history = [*runtime.state_input(shared), *await converter.to_agent_input(items)]
    turn = WorkflowTurn(
        thread=thread, store=server.store, request_context=context, history=history,
        # A retry or an action's `respond` brings no message: the latest one the user wrote counts.
        user_text=_text(message or next((i for i in reversed(items) if isinstance(i, UserMessageItem)), None)),
        run_config=runtime.run_config(thread.id),
        converter=lambda agent: image_converter(server.attachments, runtime, agent, context),
        # A new context per run, not a copy: a copy would share the event queue the SDK closes.
        new_context=lambda: TurnContext(thread=thread, store=server.store, request_context=context,
                                        state=shared.state),
    )
    ids = FreshItemIds(lambda: server.store.generate_item_id("message", thread, context))
    events = watch_turn(ids.rewrite(run_workflow(workflow, turn, resume)), runtime, Agent(name=workflow.name),
                        thread, message)
    try:
        async for event in events:
            yield event
    except WorkflowFailed:
        raise CustomStreamError(FAILED) from None
    if thread.title is None and message is not None:
        thread.title = await server._title(runtime, message, shared)


def _text(message: UserMessageItem | None) -> str:
    if message is None:
        return ""
    return " ".join(part.text for part in message.content if isinstance(part, UserMessageTextContent)).strip()
