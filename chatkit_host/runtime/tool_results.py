"""What a tool declares to happen after its result: a state change and a client effect.

Both are templates over the tool's `arguments`, its `result` (parsed JSON when it is JSON) and the
thread's `state`. A change that breaks the state's schema, or effect data that breaks the effect's,
is not applied: the model gets the refusal as the tool's output and can try again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from agents import FunctionTool
from chatkit.types import ClientEffectEvent, ProgressUpdateEvent

from chatkit_host.config.models import ToolConfig
from chatkit_host.config.state import EffectConfig, state_errors
from chatkit_host.runtime.instructions import request_view
from chatkit_host.runtime.sources import rendered_sources
from chatkit_host.runtime.state import StateRefused
from chatkit_host.runtime.widgets import NOT_SHOWN, TEMPLATES

logger = logging.getLogger("chatkit_host.tools")


def parsed(text: str) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return text


def failed_output(output: Any) -> bool:
    """A tool's output that says it failed: `error: …` (raised, bad arguments, API down, state
    refused) or a widget that was not shown."""
    return isinstance(output, str) and output.startswith(("error: ", NOT_SHOWN))


def with_results(tool: FunctionTool, config: ToolConfig, effects: Mapping[str, EffectConfig]) -> FunctionTool:
    """`tool`, changing the state and sending the effect `config` declares once it returned."""
    if config.set_state is None and config.effect is None and config.sources is None:
        return tool
    from chatkit_host.runtime.actions import render_value  # actions import tools: import late

    invoke: Callable[..., Any] = tool.on_invoke_tool

    async def invoke_then_apply(ctx: Any, arguments: str) -> Any:
        output = await invoke(ctx, arguments)
        if isinstance(output, str) and output.startswith("error: "):
            return output  # the tool failed: its result changes nothing, and the model reads why
        agent_context = ctx.context
        state = getattr(agent_context, "state", None)
        variables = {"arguments": parsed(arguments), "result": parsed(output) if isinstance(output, str) else output,
                     "state": agent_context.state_view() if state is not None else {},
                     "request": request_view(agent_context.request_context)}
        try:
            if config.set_state is not None and state is not None:
                changes = render_value(config.set_state, variables)
                if not isinstance(changes, dict):
                    return f"error: set_state of {tool.name} did not give a mapping"
                state.change(changes)
                await state.save()
                variables["state"] = agent_context.state_view()
            if config.effect is not None:
                data = render_value(config.effect.data, variables)
                errors = state_errors(effects[config.effect.name].data_schema, data, "data")
                if errors:
                    logger.warning("tool %s: effect %r not sent: %s", tool.name, config.effect.name, "; ".join(errors))
                    return f"error: effect '{config.effect.name}' not sent: " + "; ".join(errors)
                await agent_context.stream(ClientEffectEvent(name=config.effect.name, data=data))
            if config.sources is not None:
                _cite(tool.name, config, variables, agent_context)
        except StateRefused as refused:
            return f"error: {refused.message}"
        except jinja2.TemplateError as error:
            logger.warning("tool %s: a template failed: %s", tool.name, error)
            return f"error: a template of {tool.name} failed: {error}"
        return output

    return dataclasses.replace(tool, on_invoke_tool=invoke_then_apply)


def _cite(name: str, config: ToolConfig, variables: dict[str, Any], agent_context: Any) -> None:
    """Leave the sources `config` declares for the next assistant message. A source that cannot be
    made is left out with a warning: the tool's result still stands."""
    assert config.sources is not None
    try:
        sources = rendered_sources(config.sources, variables)
    except (jinja2.TemplateError, ValueError) as error:
        logger.warning("tool %s: its sources were not cited: %s", name, error)
        return
    if hasattr(agent_context, "sources"):
        agent_context.sources.extend(sources)


def with_progress(tool: FunctionTool, text: str) -> FunctionTool:
    """Show ``text`` (a template over the arguments and `state`) as a progress line while the tool
    runs. A template that cannot render shows as written, and never stops the tool."""
    template = TEMPLATES.from_string(text)

    async def invoke_with_progress(ctx: Any, arguments: str) -> Any:
        agent_context = ctx.context
        stream = getattr(agent_context, "stream", None)
        if stream is not None:
            values = parsed(arguments)
            values = values if isinstance(values, dict) else {}
            state = agent_context.state_view() if hasattr(agent_context, "state_view") else {}
            try:
                line = template.render({"state": state, "request": request_view(getattr(agent_context, "request_context", None)),
                                        **values})
            except jinja2.TemplateError as error:
                logger.warning("tool %s: the progress template failed: %s", tool.name, error)
                line = text
            await stream(ProgressUpdateEvent(text=line))
        return await invoke(ctx, arguments)

    invoke: Callable[..., Any] = tool.on_invoke_tool
    return dataclasses.replace(tool, on_invoke_tool=invoke_with_progress)
