"""Tools that put UI in the conversation: `widget` tools show a widget, `form` tools ask a form."""

from __future__ import annotations

import json
import logging
from typing import Any

from agents import FunctionTool, StopAtTools

from chatkit_host.config.models import ChatKitConfig, ToolConfig
from chatkit_host.runtime.forms import FormBook, form_tool, then_ask
from chatkit_host.runtime.tools import with_history, with_progress
from chatkit_host.runtime.widgets import (
    HostWidget,
    NotStrict,
    WidgetError,
    WidgetLibrary,
    drop_nulls,
    stream_states,
    strict_parameters,
)

logger = logging.getLogger("chatkit_host.widgets")


def is_ui_tool(config: ToolConfig) -> bool:
    return config.widget is not None or config.form is not None


def build_ui_tool(name: str, config: ToolConfig, widgets: WidgetLibrary, forms: FormBook) -> FunctionTool | None:
    """The widget or form tool `name`; None when its widget did not load (reported already)."""
    if config.form is not None:
        tool = with_history(form_tool(name, config.form, forms.forms[config.form], config.description))
        return then_ask(tool, forms, config.form)
    assert config.widget is not None
    if config.widget not in widgets:
        return None
    tool = with_history(widget_tool(name, widgets[config.widget], config.description))
    return with_progress(tool, config.progress) if config.progress else tool


def widget_tool(name: str, widget: HostWidget, description: str | None) -> FunctionTool:
    """A tool whose arguments are the widget's data; calling it streams the rendered widget.

    Data that breaks the widget's schema is not shown: the model gets the errors as the tool's
    output and can call again.
    """
    try:
        parameters, strict = strict_parameters(widget.data_schema), True
    except NotStrict:
        parameters = {k: v for k, v in widget.data_schema.items() if k != "$schema"}
        strict = False

    async def show(ctx: Any, arguments: str) -> str:
        try:
            data = drop_nulls(json.loads(arguments or "{}"), widget.data_schema)
            root = widget.render(data if isinstance(data, dict) else {"": data})
        except (json.JSONDecodeError, WidgetError) as error:
            errors = error.errors if isinstance(error, WidgetError) else [str(error)]
            logger.warning("widget tool %s: %s", name, error)
            return (f"The widget was not shown: the arguments do not fit it ({'; '.join(errors)}). "
                    f"Fix them and call {name} again.")
        await ctx.context.stream_widget(stream_states(root))
        return f"The widget '{widget.name}' is shown to the user."

    return FunctionTool(
        name=name,
        description=description or f"Show the user the widget '{widget.title}'; the arguments are its data.",
        params_json_schema=parameters,
        on_invoke_tool=show,
        strict_json_schema=strict,
    )


def pausing_tools(config: ChatKitConfig, agent_tools: list[str]) -> list[str]:
    """The tools of an agent its run stops at: form tools (the answers come in a later request)."""
    return [name for name in agent_tools if (tool := config.tools.get(name)) is not None and tool.form]


def stop_also_at(behavior: Any, names: list[str]) -> Any:
    """`behavior` (an agent's `tool_use_behavior`) made to stop at `names` too, keeping any tools it
    already stops at (client tools do the same)."""
    if isinstance(behavior, dict) and "stop_at_tool_names" in behavior:
        names = [*behavior["stop_at_tool_names"], *(n for n in names if n not in behavior["stop_at_tool_names"])]
    return StopAtTools(stop_at_tool_names=names)
