"""`python` tools, and keeping any function tool's call and output in the thread."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agents import FunctionTool, function_tool
from chatkit.types import ThreadItemDoneEvent

from chatkit_host.config.models import ToolConfig
from chatkit_host.refs import UnresolvedReference, resolve
from chatkit_host.runtime.converter import tool_history_item
from chatkit_host.runtime.tool_errors import report_failure
from chatkit_host.runtime.tool_output import tool_output_text
from chatkit_host.runtime.tool_run import takes_tool_run, with_tool_run

if TYPE_CHECKING:
    from chatkit_host.runtime.tool_kinds import ToolSpec


class ToolBuildError(Exception):
    """A tool that cannot be built; ``key`` is the config key to blame."""

    def __init__(self, key: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.key, self.message, self.hint = key, message, hint


def build_python_tool(spec: ToolSpec) -> FunctionTool:
    """`python: REF`: the function at `REF` as a tool; raises `ToolBuildError` naming the key at fault."""
    assert spec.config.python is not None
    try:
        target = resolve(spec.config.python, spec.base_dir)
    except UnresolvedReference as error:
        raise ToolBuildError("python", error.message, error.hint) from None
    if callable(target) and not isinstance(target, FunctionTool) and takes_tool_run(target):
        target = with_tool_run(target, spec.widgets, spec.effects)
    return _function_tool(spec.name, target, spec.config)


def _function_tool(name: str, target: Any, config: ToolConfig) -> FunctionTool:
    if isinstance(target, FunctionTool):
        # Already decorated in the user's code: keep its schema, use the YAML name.
        return dataclasses.replace(
            target, name=name, description=config.description or target.description
        )
    if not callable(target) or inspect.isclass(target):
        raise ToolBuildError("python", f"'{config.python}' is not a function")
    try:
        return function_tool(target, name_override=name, description_override=config.description,
                             failure_error_function=report_failure(name))
    except Exception as error:  # the SDK rejects signatures it cannot describe
        raise ToolBuildError(
            "python", f"cannot make a tool of '{config.python}': {error}",
            hint="parameters need type hints the Agents SDK can turn into JSON Schema",
        ) from None


def with_history(tool: FunctionTool) -> FunctionTool:
    """Keep the call and its output in the thread, where the next turn's model input finds them.

    ChatKit has no thread item for a server-side tool call; without this, a follow-up question about a
    tool's result reaches a model that never saw it. The hidden item is streamed through the agent
    context, so it lands in the thread right where the call happened.
    """
    invoke: Callable[..., Any] = tool.on_invoke_tool

    async def invoke_and_remember(ctx: Any, arguments: str) -> Any:
        # The same text now and in later turns (runtime/tool_output.py).
        output = tool_output_text(await invoke(ctx, arguments))
        agent_context = ctx.context
        if hasattr(agent_context, "stream") and hasattr(agent_context, "generate_id"):
            call_id = ctx.tool_call_id
            item = tool_history_item(
                agent_context.generate_id("sdk_hidden_context"),
                agent_context.thread.id,
                [
                    {"type": "function_call", "call_id": call_id, "name": ctx.tool_name,
                     "arguments": arguments},
                    {"type": "function_call_output", "call_id": call_id, "output": output},
                ],
            )
            await agent_context.stream(ThreadItemDoneEvent(item=item))
        return output

    return dataclasses.replace(tool, on_invoke_tool=invoke_and_remember)
