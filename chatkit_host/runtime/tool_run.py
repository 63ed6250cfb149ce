"""`ToolRun`: what a python tool receives, as a small stable API over the SDK's agent context.

A python tool asks for it by annotating its first parameter (`async def feed(run: ToolRun, amount:
int)`); the model never sees that parameter. Public as `chatkit_host.tools.ToolRun`, documented in
docs/python-tools.md. The SDK's own objects stay reachable (`run.sdk_context`) for what this does not
cover, but nothing here requires them.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from agents import RunContextWrapper
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ClientEffectEvent,
    ProgressUpdateEvent,
    ThreadItemDoneEvent,
)

from chatkit_host.config.state import EffectConfig, state_errors
from chatkit_host.runtime.sources import make_source
from chatkit_host.runtime.state import StateRefused
from chatkit_host.runtime.widget_streaming import stream_states
from chatkit_host.runtime.widgets import WidgetLibrary


class ToolRun:
    """One call of a python tool: who is asking, in which thread, and what the tool may do there.

    Every method that shows the user something is a coroutine: call them from an `async def` tool.
    """

    def __init__(self, wrapper: RunContextWrapper[Any], widgets: WidgetLibrary,
                 effects: Mapping[str, EffectConfig]):
        self._wrapper, self._widgets, self._effects = wrapper, widgets, effects
        self._context = wrapper.context
        self._sources: list[Any] = []

    @property
    def thread_id(self) -> str:
        """The thread the tool runs in."""
        return str(self._context.thread.id)

    @property
    def title(self) -> str | None:
        """The thread's title (None until it has one)."""
        return self._context.thread.title

    @property
    def user(self) -> str:
        """The authenticated user's id."""
        return str(self._context.request_context.user_id)

    @property
    def claims(self) -> Mapping[str, Any]:
        """What authentication knows about the user (JWT claims; empty for bearer tokens)."""
        return dict(self._context.request_context.claims)

    @property
    def headers(self) -> Mapping[str, str]:
        """The request headers chatkit.yaml declares (`request.headers`) that the client sent, by
        lower-case name. Client data: check them before you trust them."""
        return dict(getattr(self._context.request_context, "headers", None) or {})

    @property
    def state(self) -> dict[str, Any]:
        """A copy of the thread's state (`{}` when chatkit.yaml declares none); change it with
        `set_state`."""
        state = getattr(self._context, "state", None)
        return state.value if state is not None else {}

    async def set_state(self, **changes: Any) -> dict[str, Any]:
        """Set top-level state properties and save; returns the new state.

        Raises `StateRefused` (and changes nothing) when the result breaks the state's schema, or
        when chatkit.yaml declares no `state`.
        """
        state = getattr(self._context, "state", None)
        if state is None:
            raise StateRefused("this thread has no state: declare `state:` in chatkit.yaml")
        state.change(changes)
        await state.save()
        return state.value

    async def say(self, text: str) -> None:
        """Add an assistant message to the thread now (before the model's own reply)."""
        item = AssistantMessageItem(id=self._context.generate_id("message"), thread_id=self.thread_id,
                                    created_at=datetime.now(), content=[AssistantMessageContent(text=text)])
        await self._context.stream(ThreadItemDoneEvent(item=item))

    async def effect(self, name: str, data: Mapping[str, Any] | None = None) -> None:
        """Send the page the client effect `name` (declared in `effects`); raises `ValueError` when it
        is not declared or its data does not fit."""
        if name not in self._effects:
            raise ValueError(f"unknown effect '{name}' (declared: {', '.join(self._effects) or 'none'})")
        payload = dict(data or {})
        errors = state_errors(self._effects[name].data_schema, payload, "data")
        if errors:
            raise ValueError(f"effect '{name}': " + "; ".join(errors))
        await self._context.stream(ClientEffectEvent(name=name, data=payload))

    async def show_widget(self, name: str, data: Mapping[str, Any] | None = None,
                          copy_text: str | None = None) -> None:
        """Show the widget `name` (from the widget folder) rendered with `data`; raises
        `chatkit_host.tools.WidgetError` when the data does not fit its schema."""
        if name not in self._widgets:
            raise ValueError(f"unknown widget '{name}'")
        root = self._widgets[name].render(data)
        await self._context.stream_widget(stream_states(root), copy_text)

    async def progress(self, text: str) -> None:
        """Show a progress line while the tool works."""
        await self._context.stream(ProgressUpdateEvent(text=text))

    def add_source(self, title: str, *, url: str | None = None, entity: str | None = None,
                   file: str | None = None, description: str | None = None) -> None:
        """Cite a source — a web page (`url`), an entity (`entity`: its id) or a file (`file`: its
        name) — shown as an annotation on the assistant message that follows. Raises `ValueError`
        unless exactly one of `url`, `entity` and `file` is given."""
        self._sources.append(make_source(title, url=url, entity=entity, file=file, description=description))

    def _returned(self) -> None:
        """The tool returned: what it cited goes to the next message (a tool that raised cites nothing)."""
        sources = getattr(self._context, "sources", None)
        if sources is not None:
            sources.extend(self._sources)
        self._sources = []

    async def set_title(self, title: str) -> None:
        """Set the thread's title (saved when the turn's next event is)."""
        self._context.thread.title = title

    @property
    def sdk_context(self) -> Any:
        """The ChatKit SDK's `AgentContext`, for what this API does not cover."""
        return self._context


def takes_tool_run(function: Callable[..., Any]) -> bool:
    """Whether `function`'s first parameter is annotated `ToolRun`."""
    try:
        hints = typing.get_type_hints(function)
        first = next(iter(inspect.signature(function).parameters), None)
    except (NameError, TypeError, ValueError):
        return False
    return first is not None and hints.get(first) is ToolRun


def with_tool_run(function: Callable[..., Any], widgets: WidgetLibrary,
                  effects: Mapping[str, EffectConfig]) -> Callable[..., Any]:
    """`function` as the Agents SDK expects a context-taking tool: its `ToolRun` parameter becomes
    a `RunContextWrapper` (so the model never sees it), turned into a `ToolRun` on each call."""
    signature = inspect.signature(function)
    first, *rest = signature.parameters.values()
    hints = typing.get_type_hints(function, include_extras=True)
    hints[first.name] = RunContextWrapper[Any]

    if inspect.iscoroutinefunction(function):
        @functools.wraps(function)
        async def call(wrapper: RunContextWrapper[Any], *args: Any, **kwargs: Any) -> Any:
            run = ToolRun(wrapper, widgets, effects)
            result = await function(run, *args, **kwargs)
            run._returned()
            return result
    else:
        @functools.wraps(function)
        def call(wrapper: RunContextWrapper[Any], *args: Any, **kwargs: Any) -> Any:
            run = ToolRun(wrapper, widgets, effects)
            result = function(run, *args, **kwargs)
            run._returned()
            return result

    # The SDK reads the tool's parameters from `__signature__`; mypy allows no attributes on functions.
    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[first.replace(annotation=RunContextWrapper[Any]), *rest])
    call.__annotations__ = hints
    del call.__wrapped__  # the SDK must read this signature, not the original's
    return call
