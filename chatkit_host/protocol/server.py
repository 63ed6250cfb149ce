"""The ChatKitServer: the SDK's protocol, filled in from the current Runtime.

No YAML and no HTTP here. Each hook asks for the runtime once and keeps it for the whole stream, so
a reload never changes the configuration under a turn in flight.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from collections.abc import AsyncIterator, Callable
from typing import Any

from agents import Agent, Runner, RunResultStreaming
from chatkit.agents import stream_agent_response
from chatkit.actions import Action
from chatkit.server import ChatKitServer
from chatkit.store import NotFoundError
from chatkit.types import (
    ChatKitReq,
    AssistantMessageItem,
    AudioInput,
    FeedbackKind,
    InferenceOptions,
    SyncCustomActionResponse,
    ThreadItem,
    ThreadMetadata,
    StreamOptions,
    ThreadStreamEvent,
    TranscriptionResult,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
)

from chatkit_host.protocol.cleanup import finish
from chatkit_host.context import RequestContext
from chatkit_host.errors import Refusal
from chatkit_host.protocol.parsing import ParsedOnce
from chatkit_host.runtime.build import Runtime
from chatkit_host.runtime.turn_context import TurnContext
from chatkit_host.runtime.models import chains_responses
from chatkit_host.runtime.attachments import AttachmentSource
from chatkit_host.runtime.hosted_tools import image_converter
from chatkit_host.runtime.instructions import turn_values
from chatkit_host.runtime.sources import with_annotations
from chatkit_host.runtime.transcription import transcribe
from chatkit_host.storage.attachments import HostAttachments, process_with_files
from chatkit_host.storage.store import SQLStore
from chatkit_host.protocol.stream_ids import FreshItemIds
from chatkit_host.protocol.turn_watch import watch_turn
from chatkit_host.protocol.tool_approval_turns import approved_or_new_run
from chatkit_host.protocol.workflow_turn import workflow_turn
from chatkit_host.runtime.tool_approvals import ask as ask_approvals
from chatkit_host.runtime.usage import USAGE_HOOKS

logger = logging.getLogger("chatkit_host.protocol.server")

CURRENT_AGENT = "agent"
"""Thread metadata key: the agent that answered last, so a handoff lasts beyond one turn."""
RESPONSE_CURSOR = "response_cursor"
"""Thread metadata key: the last response id of a chaining model and the thread item it ended on."""
CHAIN_PAGE = 50
"""More new items than this since the last response: send the full (bounded) history instead."""


@dataclass(frozen=True)
class ResponseChain:
    response_id: str
    items: list[ThreadItem]


class HostServer(ParsedOnce, ChatKitServer[RequestContext]):
    """ChatKit's server with every hook delegated to the runtime in force."""

    def __init__(
        self, store: SQLStore, runtime: Callable[[], Runtime], attachments: HostAttachments | None = None
    ):
        super().__init__(store, attachments)
        self.store: SQLStore = store
        self._runtime = runtime
        self.attachments = attachments
        self._attachment_input = AttachmentSource(attachments)

    async def process_parsed(self, request: ChatKitReq, context: RequestContext) -> Any:
        # `process` (bytes) ends here too, so attachments wrap every request whichever way it came.
        process = super().process_parsed
        if self.attachments is None:
            return await process(request, context)
        return await process_with_files(
            self.attachments, self.store, request, context, lambda: process(request, context)
        )

    async def transcribe(self, audio_input: AudioInput, context: RequestContext) -> TranscriptionResult:
        config = self._runtime().config
        if config.transcription is None:
            raise Refusal(501, "not_supported", "dictation is off: add a `transcription` section to chatkit.yaml")
        return await transcribe(config.transcription, config.models, audio_input)

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        runtime = self._runtime()
        if runtime.config.entry_workflow is not None:  # the entry is a workflow (#16)
            async for event in workflow_turn(self, runtime, thread, input_user_message, context):
                yield event
            return
        options = input_user_message.inference_options if input_user_message is not None else None
        current = self._agent_for(thread, runtime)
        # A composer tool may send this one message to another agent; the thread keeps its own.
        routed = runtime.composer.agent(options, current, runtime.agents)
        agent = routed or current
        if options is not None:  # templates see the choices as `request.tool_choice`, `request.model`
            context = dataclasses.replace(context, model=options.model,
                                          tool_choice=options.tool_choice.id if options.tool_choice else None)
        agent_context = await runtime.turn_context(self.store, thread, context)
        agent, result = await approved_or_new_run(self, runtime, agent, agent_context, context, options)
        try:
            ids = FreshItemIds(lambda: self.store.generate_item_id("message", thread, context))
            events = stream_agent_response(
                agent_context, result, converter=image_converter(self.attachments, runtime, agent, context)
            )
            # Text deltas were coalesced as they left the model (runtime/coalesce.py).
            events = with_annotations(ids.rewrite(events), agent_context)
            events = watch_turn(events, runtime, agent, thread, input_user_message)
            async for event in events:
                yield event
        except BaseException:
            # Stop means stop: without this the model keeps streaming (and billing) after the client
            # has gone or cancelled.
            result.cancel()
            raise
        for event in ask_approvals(result, agent, thread, lambda: self.store.generate_item_id("message", thread, context)):
            yield event  # the run stopped before tool calls that need the user's approval
        if result.last_agent is not None and result.last_agent is not routed:
            thread.metadata[CURRENT_AGENT] = result.last_agent.name
        await self._remember_chain(thread, result, context)
        if thread.title is None and input_user_message is not None:
            thread.title = await self._title(runtime, input_user_message, agent_context)

    async def _start_run(
        self, agent: Agent, runtime: Runtime, agent_context: TurnContext, context: RequestContext,
        options: InferenceOptions | None = None,
    ) -> RunResultStreaming:
        """The agent's run on the thread's history (or what a chaining model has not seen yet).

        A method of its own so the history it reads is freed when the run has started: a stream may
        idle for minutes, and its frame should not keep the items its input was built from.
        """
        thread = agent_context.thread
        # A model from the picker did not see the agent's chained responses: send it the history.
        picked = runtime.composer.model(options)
        chain = None if picked is not None else await self._chain(thread, agent, context)
        items = chain.items if chain else await self._history(thread, runtime, context)
        converter = runtime.converter.for_request(self._attachment_input, context,
                                                  turn_values(agent_context, runtime.config.vars))
        return Runner.run_streamed(
            agent,
            [*await converter.to_agent_input(items), *runtime.state_input(agent_context)],
            context=agent_context,
            run_config=runtime.composer.run_config(options, runtime.run_config(thread.id)),
            hooks=USAGE_HOOKS,
            previous_response_id=chain.response_id if chain else None,
        )

    def action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        # The route was checked before the stream began (preflight): its type exists, its payload fits.
        return self._runtime().actions.stream(
            self.store, thread, action, sender, context, self._responder(thread, context)
        )

    async def sync_action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None,
        context: RequestContext,
    ) -> SyncCustomActionResponse:
        updated = await self._runtime().actions.run_sync(self.store, thread, action, sender, context)
        return SyncCustomActionResponse(updated_item=updated)

    def _responder(self, thread: ThreadMetadata, context: RequestContext):  # noqa: ANN202
        """An action's `respond` step: the named agent (or the current one) answers the thread."""

        def respond(agent: str | None) -> AsyncIterator[ThreadStreamEvent]:
            if agent is not None:
                thread.metadata[CURRENT_AGENT] = agent
            return self.respond(thread, None, context)

        return respond

    def get_stream_options(self, thread: ThreadMetadata, context: RequestContext) -> StreamOptions:
        # Sent as a stream starts, before the turn's agent is known for sure: the thread's agent decides.
        runtime = self._runtime()
        name = thread.metadata.get(CURRENT_AGENT)
        agent = runtime.config.agents.get(name if isinstance(name, str) else runtime.config.entry_agent)
        allowed = agent.allow_cancel if agent is not None and agent.allow_cancel is not None else None
        return StreamOptions(allow_cancel=runtime.config.stream.allow_cancel if allowed is None else allowed)

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: RequestContext
    ) -> None:
        await self.store.save_feedback(thread_id, item_ids, feedback, context)

    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: RequestContext
    ) -> None:
        # The ASGI server's cancel scope cancels every await in a cancelled task again, which would
        # cut the SDK's own clean-up writes short and lose what the user already saw. Shield them.
        await finish(super().handle_stream_cancelled(thread, pending_items, context))

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

    async def _chain(
        self, thread: ThreadMetadata, agent: Agent, context: RequestContext
    ) -> ResponseChain | None:
        """Continue from the model's last response when it keeps the conversation server-side.

        Only the items since that response are sent. Anything that breaks the chain (the cursor item
        was deleted by a retry, or the agent's model cannot chain) falls back to the full history.
        """
        cursor = thread.metadata.get(RESPONSE_CURSOR)
        if not isinstance(cursor, dict) or not chains_responses(agent.model):
            return None
        try:
            page = await self.store.load_thread_items(
                thread.id, cursor["after"], CHAIN_PAGE, "asc", context
            )
        except (NotFoundError, KeyError):
            return None
        if page.has_more:
            return None
        return ResponseChain(cursor["response_id"], list(page.data))

    async def _remember_chain(
        self, thread: ThreadMetadata, result: RunResultStreaming, context: RequestContext
    ) -> None:
        agent = result.last_agent
        chains = agent is not None and chains_responses(agent.model) and result.last_response_id
        # Only a chaining model needs the item the turn ended on: spare the others the query.
        last = await self.store.load_thread_items(thread.id, None, 1, "desc", context) if chains else None
        if last is not None and last.data and isinstance(last.data[0], AssistantMessageItem):
            thread.metadata[RESPONSE_CURSOR] = {
                "response_id": result.last_response_id, "after": last.data[0].id,
            }
        else:
            # A turn that ended on a client tool call or a form is continued from the full history.
            thread.metadata.pop(RESPONSE_CURSOR, None)

    async def _title(
        self, runtime: Runtime, message: UserMessageItem, agent_context: TurnContext
    ) -> str | None:
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
            # The title agent is an agent like any other: its instructions render with the user
            # and the thread, so it needs the turn's context.
            result = await Runner.run(runtime.title_agent, text, context=agent_context,
                                      run_config=runtime.run_config(message.thread_id))
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
