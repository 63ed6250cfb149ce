"""`widget` tools: the model passes the widget's data as arguments and the widget is shown."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from agents import FunctionTool

from chatkit_host.runtime.widgets import (
    HostWidget,
    NotStrict,
    WidgetError,
    drop_nulls,
    stream_states,
    strict_parameters,
)

if TYPE_CHECKING:
    from chatkit_host.runtime.tool_kinds import ToolSpec

logger = logging.getLogger("chatkit_host.widgets")


def build_widget_tool(spec: ToolSpec) -> FunctionTool | None:
    """`widget: NAME`: the tool that shows it; None when the widget did not load (reported already)."""
    widget = spec.config.widget
    assert widget is not None
    if widget not in spec.widgets:
        return None
    return widget_tool(spec.name, spec.widgets[widget], spec.config.description)


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
