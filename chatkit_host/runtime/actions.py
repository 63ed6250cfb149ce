"""Action routes: a widget's action type → a validated payload and ordered steps.

The steps that only change the thread (`call`, `update_widget`, `show_widget`, `hidden_context`,
`ask`) are held back until a `respond` step or the end, so an action that fails midway (a tool
error, widget data that breaks the widget's schema) leaves the thread as it was. A changed widget is
sent as `thread.item.replaced`, which the store persists (an `updated` event after `done` would be
lost on reload); a sync action's updated widget is saved here, since the SDK does not.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

import jinja2
from agents import FunctionTool
from agents.tool import default_tool_error_function
from agents.tool_context import ToolContext
from chatkit.actions import Action
from chatkit.agents import _QueueCompleteSentinel
from chatkit.errors import CustomStreamError
from chatkit.server import stream_widget
from chatkit.store import Store
from chatkit.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageItem,
    ClientEffectEvent,
    HiddenContextItem,
    ThreadItemDoneEvent,
    ThreadItemReplacedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    WidgetItem,
)
from jsonschema import Draft202012Validator

from chatkit_host.config.widgets import (
    STREAMING_ONLY_STEPS,
    ActionRoute,
    ActionStep,
    AskStep,
    CallStep,
    EffectSpec,
    EffectStep,
    HiddenContextStep,
    RespondStep,
    SayStep,
    SetStateStep,
    SetTitleStep,
    ShowWidgetStep,
    UpdateWidgetStep,
    WidgetData,
)
from chatkit_host.config.state import EffectConfig, StateConfig, state_errors
from chatkit_host.context import RequestContext
from chatkit_host.errors import Refusal
from chatkit_host.runtime.forms import FormBook
from chatkit_host.runtime.instructions import request_view
from chatkit_host.runtime.state import StateRefused, ThreadState
from chatkit_host.runtime.turn_context import TurnContext
from chatkit_host.runtime.widget_streaming import stream_states
from chatkit_host.runtime.widgets import TEMPLATES, WidgetError, WidgetLibrary

logger = logging.getLogger("chatkit_host.actions")

Respond = Callable[[str | None], AsyncIterator[ThreadStreamEvent]]
"""Runs an agent (a name, or None for the thread's current one) and streams its answer."""

_ONE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expression>(?:(?!\}\}|\{\{).)*)\}\}\s*$", re.DOTALL)


class ActionFailed(Refusal):
    """A step failed (answered 500 `action_failed` to a sync action, or 400 `state_refused` when the
    change it asked for breaks the state's schema); ``message`` is safe to show the client, the log
    has the details."""

    def __init__(self, message: str, status: int = 500, code: str = "action_failed"):
        super().__init__(status, code, message)


@dataclass(frozen=True)
class ActionRoutes:
    """The action routes of one configuration, with what their steps use."""

    routes: Mapping[str, ActionRoute] = field(default_factory=dict)
    tools: Mapping[str, FunctionTool] = field(default_factory=dict)
    widgets: WidgetLibrary = field(default_factory=WidgetLibrary)
    forms: FormBook = field(default_factory=FormBook)
    state: StateConfig | None = None
    effects: Mapping[str, EffectConfig] = field(default_factory=dict)

    def refusal(self, action: Action[str, Any], sender: object | None, sync: bool) -> Refusal | None:
        """Why this action must not run (unknown type, payload that breaks its schema, …), or None.

        Checked before any response is sent, so a refused action changes nothing. Logged with the
        reason; payload values are not logged (they come from the browser).
        """
        refusal = self._refusal(action, sender, sync)
        if refusal is not None:
            logger.warning("refused action %r: %s", action.type, refusal.message)
        return refusal

    def _refusal(self, action: Action[str, Any], sender: object | None, sync: bool) -> Refusal | None:
        route = self.routes.get(action.type)
        if route is None:
            known = ", ".join(self.routes) or "none are declared"
            return Refusal(400, "unknown_action", f"unknown action type '{action.type}' (known: {known})")
        if sender is not None and not isinstance(sender, WidgetItem):
            return Refusal(400, "invalid_request", "an action's item_id must name a widget")
        payload = {} if action.payload is None else action.payload
        errors = sorted(Draft202012Validator(route.payload_schema).iter_errors(payload),
                        key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            described = "; ".join(f"{_where(e.absolute_path)}: {e.message}" for e in errors[:5])
            return Refusal(400, "invalid_payload", f"action '{action.type}': invalid payload: {described}")
        if sender is None and any(isinstance(step, UpdateWidgetStep) for step in route.do):
            return Refusal(400, "invalid_request", f"action '{action.type}' updates the widget that sends it: "
                                                   "send it from a widget (item_id)")
        if sync and any(isinstance(step, STREAMING_ONLY_STEPS) for step in route.do):
            return Refusal(400, "streaming_required", f"action '{action.type}' streams its answer: send it "
                                                      "with streaming: true (threads.custom_action)")
        return None

    async def stream(self, store: Store[RequestContext], thread: ThreadMetadata, action: Action[str, Any],
                     sender: WidgetItem | None, context: RequestContext,
                     respond: Respond) -> AsyncIterator[ThreadStreamEvent]:
        """Run the route for `action`, streaming what it does (`threads.custom_action`)."""
        run = await _Run.open(self, store, thread, action, sender, context)
        held: list[ThreadStreamEvent] = []
        try:
            for step in self.routes[action.type].do:
                if isinstance(step, RespondStep) and run.applies(step):
                    await run.commit()
                    for event in held:
                        yield event
                    held = []
                    async for event in respond(None if step.respond is True else step.respond):
                        yield event
                elif not isinstance(step, RespondStep):
                    held += await run.step(step)
            await run.commit()
        except ActionFailed as failed:
            raise CustomStreamError(failed.message, allow_retry=False) from None
        for event in held:
            yield event

    async def run_sync(self, store: Store[RequestContext], thread: ThreadMetadata, action: Action[str, Any],
                       sender: WidgetItem | None, context: RequestContext) -> WidgetItem | None:
        """Run the route for `action` without streaming (`threads.sync_custom_action`); returns the
        updated widget item, saved, or None when the route changes no widget. Raises `ActionFailed`."""
        run = await _Run.open(self, store, thread, action, sender, context)
        held: list[ThreadStreamEvent] = []
        for step in self.routes[action.type].do:
            held += await run.step(step)
        if await run.commit():
            await store.save_thread(thread, context)
        updated: WidgetItem | None = None
        for event in held:  # written only once every step has succeeded
            if isinstance(event, ThreadItemReplacedEvent) and isinstance(event.item, WidgetItem):
                await store.save_item(thread.id, event.item, context)
                updated = event.item
            elif isinstance(event, ThreadItemDoneEvent):
                await store.add_thread_item(thread.id, event.item, context)
        return updated


class _Run:
    """One action being run: the template variables and the sender as the steps change them."""

    def __init__(self, routes: ActionRoutes, store: Store[RequestContext], thread: ThreadMetadata,
                 action: Action[str, Any], sender: WidgetItem | None, agent_context: TurnContext):
        self.routes, self.store, self.thread, self.sender = routes, store, thread, sender
        self.type = action.type
        self.agent_context = agent_context
        self.title: str | None = None
        context = agent_context.request_context
        self.variables: dict[str, Any] = {
            "payload": action.payload if action.payload is not None else {},
            "result": None, "results": {}, "user": context.user_id,
            "thread": {"id": thread.id, "title": thread.title},
            "state": agent_context.state_view(),
            "sender": {"id": None if sender is None else sender.id},
            "request": request_view(context),
        }

    @classmethod
    async def open(cls, routes: ActionRoutes, store: Store[RequestContext], thread: ThreadMetadata,
                   action: Action[str, Any], sender: WidgetItem | None, context: RequestContext) -> _Run:
        state = None
        if routes.state is not None:
            # The host's store is an SQLStore; the SDK's signature says only Store.
            state = await ThreadState.load(routes.state, store, thread.id, context)  # type: ignore[arg-type]
        agent_context = TurnContext(thread=thread, store=store, request_context=context, state=state, sender=sender)
        return cls(routes, store, thread, action, sender, agent_context)

    def applies(self, step: ActionStep) -> bool:
        """Whether the step's `if` condition (if any) holds now."""
        if step.if_ is None:
            return True
        try:
            return bool(TEMPLATES.compile_expression(step.if_)(**self.variables))
        except jinja2.TemplateError as error:
            self._fail(step, "a condition failed", str(error))

    async def commit(self) -> bool:
        """Save what the steps so far changed beside the thread's items (its state, its title);
        True when the title changed (the caller saves the thread)."""
        if self.agent_context.state is not None:
            await self.agent_context.state.save()
        if self.title is not None and self.title != self.thread.title:
            self.thread.title = self.title
            return True
        return False

    def new_id(self) -> str:
        return self.store.generate_item_id("message", self.thread, self.agent_context.request_context)

    async def step(self, step: ActionStep) -> list[ThreadStreamEvent]:
        if not self.applies(step):
            return []
        try:
            return await self._step(step)
        except WidgetError as error:
            return self._fail(step, f"widget '{error.widget}': {error.reason}", "; ".join(error.errors))
        except jinja2.TemplateError as error:
            return self._fail(step, "a template failed", str(error))
        except StateRefused as refused:
            # The values come from the payload or the state the caller built up: a refusal, not a fault.
            return self._fail(step, refused.message, "the state is unchanged", 400, "state_refused")

    def _fail(self, step: ActionStep, what: str, details: str, status: int = 500,
              code: str = "action_failed") -> NoReturn:
        name = next(key for key in type(step).model_fields if key != "if_")  # its key: call, say, …
        logger.warning("action %r failed at its %s step: %s: %s", self.type, name, what, details)
        raise ActionFailed(f"action '{self.type}' failed: {what}", status, code)

    async def _step(self, step: ActionStep) -> list[ThreadStreamEvent]:
        if isinstance(step, CallStep):
            return await self._call(step)
        if isinstance(step, UpdateWidgetStep):
            assert self.sender is not None  # refused before the stream otherwise
            widget, copy_text = self._render(step.update_widget)
            update = {"widget": widget} | ({"copy_text": copy_text} if copy_text is not None else {})
            self.sender = self.sender.model_copy(update=update)
            return [ThreadItemReplacedEvent(item=self.sender)]
        if isinstance(step, ShowWidgetStep):
            widget, copy_text = self._render(step.show_widget)
            return [event async for event in stream_widget(
                self.thread, stream_states(widget), copy_text, lambda _: self.new_id())]
        if isinstance(step, HiddenContextStep):
            text = TEMPLATES.from_string(step.hidden_context).render(**self.variables)
            item = HiddenContextItem(id=self.new_id(), thread_id=self.thread.id, created_at=datetime.now(),
                                     content=text)
            return [ThreadItemDoneEvent(item=item)]
        if isinstance(step, AskStep):
            return [ThreadItemDoneEvent(item=self.routes.forms.item(step.ask, self.new_id(), self.thread.id))]
        return self._app_step(step)

    def _app_step(self, step: ActionStep) -> list[ThreadStreamEvent]:
        if isinstance(step, SayStep):
            text = TEMPLATES.from_string(step.say).render(**self.variables)
            # Sources a `call` step's tool cited go on the message that says its result.
            annotations = [Annotation(source=source) for source in self.agent_context.take_sources()]
            return [ThreadItemDoneEvent(item=AssistantMessageItem(
                id=self.new_id(), thread_id=self.thread.id, created_at=datetime.now(),
                content=[AssistantMessageContent(text=text, annotations=annotations)]))]
        if isinstance(step, EffectStep):
            return [self._effect(step, step.effect)]
        if isinstance(step, SetStateStep):
            changes = render_value(step.set_state, self.variables)
            if not isinstance(changes, dict):
                self._fail(step, "set_state needs a mapping", f"got {type(changes).__name__}")
            assert self.agent_context.state is not None  # a config problem otherwise
            self.agent_context.state.change(changes)
            self.variables["state"] = self.agent_context.state_view()
            return []
        assert isinstance(step, SetTitleStep)
        self.title = TEMPLATES.from_string(step.set_title).render(**self.variables).strip() or None
        return []

    def _effect(self, step: ActionStep, spec: EffectSpec) -> ClientEffectEvent:
        data = render_value(spec.data, self.variables)
        errors = state_errors(self.routes.effects[spec.name].data_schema, data, "data")
        if errors:
            self._fail(step, f"effect '{spec.name}': its data does not fit the declared data", "; ".join(errors))
        return ClientEffectEvent(name=spec.name, data=data)

    def _render(self, spec: WidgetData) -> tuple[Any, str | None]:
        data = render_value(spec.data, self.variables)
        if not isinstance(data, dict):
            raise WidgetError(spec.widget, "the data is not a mapping", [f"got {type(data).__name__}"])
        copy_text = None if spec.copy_text is None else render_value(spec.copy_text, self.variables)
        return self.routes.widgets[spec.widget].render(data), copy_text

    async def _call(self, step: CallStep) -> list[ThreadStreamEvent]:
        tool = self.routes.tools[step.call]
        arguments = self.variables["payload"] if step.arguments is None else render_value(step.arguments, self.variables)
        text = json.dumps(arguments, default=str)
        call = ToolContext(context=self.agent_context, tool_name=step.call,
                           tool_call_id=f"call_{uuid.uuid4().hex[:24]}", tool_arguments=text)
        self.agent_context.failed_tool = None
        output = await tool.on_invoke_tool(call, text)
        # A tool that raised answers the model with error text; here it is a failure. (A tool
        # decorated in the user's code answers with the SDK's fixed text instead.)
        if self.agent_context.failed_tool is not None or output == default_tool_error_function(call, Exception()):
            self._fail(step, f"tool '{step.call}' failed", self.agent_context.failed_tool or "see the log above")
        result = _parsed(output)
        self.variables["result"] = result
        self.variables["results"][step.call] = result
        return self._drain()

    def _drain(self) -> list[ThreadStreamEvent]:
        """Events the tool streamed (progress, its call kept for the model), in order."""
        queue = self.agent_context._events
        drained = [queue.get_nowait() for _ in range(queue.qsize())]
        return [event for event in drained if not isinstance(event, _QueueCompleteSentinel)]


def render_value(value: Any, variables: Mapping[str, Any]) -> Any:
    """`value` with its templates rendered. A string that is one `{{ expression }}` becomes the
    expression's value (a mapping stays a mapping); other strings render to text."""
    if isinstance(value, str):
        match = _ONE_EXPRESSION.match(value)
        if match is None:
            return TEMPLATES.from_string(value).render(**variables)
        result = TEMPLATES.compile_expression(match["expression"], undefined_to_none=False)(**variables)
        if isinstance(result, jinja2.Undefined):
            result._fail_with_undefined_error()
        return result
    if isinstance(value, dict):
        return {key: render_value(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, variables) for item in value]
    return value


def _parsed(output: Any) -> Any:
    if isinstance(output, str):
        try:
            return json.loads(output)
        except ValueError:
            return output
    return output


def _where(path: Any) -> str:
    where = ""
    for part in path:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where or "payload"
