"""`widget` tools: the model passes the widget's data as arguments and the widget is shown."""

from __future__ import annotations

import json
import logging

import jinja2
from typing import TYPE_CHECKING, Any

from agents import FunctionTool

from chatkit_host.runtime.tool_results import parsed
from chatkit_host.runtime.strict_schemas import NotStrict, drop_nulls, strict_parameters
from chatkit_host.runtime.widget_streaming import stream_states
from chatkit_host.runtime.widgets import NOT_SHOWN, TEMPLATES, HostWidget, WidgetError

if TYPE_CHECKING:
    from chatkit_host.runtime.tool_kinds import ToolSpec

logger = logging.getLogger("chatkit_host.widgets")


def build_widget_tool(spec: ToolSpec) -> FunctionTool | None:
    """`widget: NAME`: the tool that shows it; None when the widget did not load (reported already)."""
    widget = spec.config.widget
    assert widget is not None
    if widget not in spec.widgets:
        return None
    copy_text = TEMPLATES.from_string(spec.config.copy_text) if spec.config.copy_text else None
    if spec.config.data_from is None:
        return widget_tool(spec.name, spec.widgets[widget], spec.config.description, copy_text)
    return _widget_from_tool(spec, spec.widgets[widget], copy_text)


def _widget_from_tool(spec: ToolSpec, widget: HostWidget, copy_text: Any) -> FunctionTool | None:
    """`data_from: TOOL`: the model calls with TOOL's arguments; TOOL's output is the widget's data."""
    from chatkit_host.runtime.tool_kinds import ToolSpec, build_tool  # tool_kinds builds this module's tools

    name = spec.config.data_from
    assert name is not None
    source_config = spec.tools.get(name)
    if source_config is None or source_config.kind not in ("python", "http"):
        return None  # reported by the app checks
    source = build_tool(ToolSpec(name, source_config, spec.base_dir, spec.widgets, spec.forms))
    if not isinstance(source, FunctionTool):
        return None
    shown = widget_tool(spec.name, widget, None, copy_text)

    async def show_from_source(ctx: Any, arguments: str) -> str:
        output = await source.on_invoke_tool(ctx, arguments)
        data = parsed(output) if isinstance(output, str) else output
        if not isinstance(data, dict):
            return f"{NOT_SHOWN}: {name} gave no data for it ({str(output)[:200]})."
        return await shown.on_invoke_tool(ctx, json.dumps(data, default=str))

    return FunctionTool(
        name=spec.name,
        description=spec.config.description or source.description,
        params_json_schema=source.params_json_schema,
        on_invoke_tool=show_from_source,
        strict_json_schema=source.strict_json_schema,
    )


def widget_tool(name: str, widget: HostWidget, description: str | None, copy_text: Any = None) -> FunctionTool:
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
            copied = copy_text.render(**data) if copy_text is not None and isinstance(data, dict) else None
        except (json.JSONDecodeError, WidgetError, jinja2.TemplateError) as error:
            errors = error.errors if isinstance(error, WidgetError) else [str(error)]
            logger.warning("widget tool %s: %s", name, error)
            return (f"{NOT_SHOWN}: the arguments do not fit it ({'; '.join(errors)}). "
                    f"Fix them and call {name} again.")
        await ctx.context.stream_widget(stream_states(root), copied)
        return f"The widget '{widget.name}' is shown to the user."

    return FunctionTool(
        name=name,
        description=description or f"Show the user the widget '{widget.title}'; the arguments are its data.",
        params_json_schema=parameters,
        on_invoke_tool=show,
        strict_json_schema=strict,
    )
