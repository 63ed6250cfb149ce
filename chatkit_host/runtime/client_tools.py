"""`client` tools: the browser runs them, so the run stops at the call.

The tool marks the call on the agent context (`client_tool_call`); the SDK's stream then ends the
turn with a pending `ClientToolCallItem`, which the client answers with
`threads.add_client_tool_output`. The next turn's model input has the call and that output, so the
model continues from it. Agents stop once such a call is pending, instead of calling the model
again with a placeholder output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents import FunctionTool, FunctionToolResult, RunContextWrapper, ToolsToFinalOutputResult
from chatkit.agents import ClientToolCall

from chatkit_host.config.tools import parameters_schema
from chatkit_host.runtime.arguments import parse_arguments

if TYPE_CHECKING:
    from chatkit_host.runtime.tool_kinds import ToolSpec

SENT_TO_CLIENT = "sent to the client; waiting for its output"


def build_client_tool(spec: ToolSpec) -> FunctionTool:
    name, config = spec.name, spec.config
    assert config.client is not None
    schema = parameters_schema(config.client.parameters)

    async def hand_to_client(ctx: Any, arguments: str) -> str:
        parsed = parse_arguments(arguments, schema)
        if isinstance(parsed, str):  # invalid: the model is told and may retry
            return parsed
        ctx.context.client_tool_call = ClientToolCall(name=name, arguments=parsed)
        return SENT_TO_CLIENT

    return FunctionTool(
        name=name,
        description=config.description or f"Runs {name} in the user's browser.",
        params_json_schema=schema,
        on_invoke_tool=hand_to_client,
        strict_json_schema=False,
    )


def stop_at_client_calls(behavior: Any) -> Any:
    """A `tool_use_behavior` that stops when a client call is pending, or where `behavior` stopped.

    Not plain `StopAtTools`: a client tool whose arguments were invalid is not handed to the
    client, and the model must see that error and try again.
    """
    # Keep the tools it stops at already (forms pause the run too).
    before = set(behavior["stop_at_tool_names"]) if isinstance(behavior, dict) else set()

    def decide(context: RunContextWrapper[Any], results: list[FunctionToolResult]) -> ToolsToFinalOutputResult:
        if getattr(context.context, "client_tool_call", None) is not None:
            return ToolsToFinalOutputResult(is_final_output=True, final_output=SENT_TO_CLIENT)
        for result in results:
            if result.tool.name in before:
                return ToolsToFinalOutputResult(is_final_output=True, final_output=result.output)
        return ToolsToFinalOutputResult(is_final_output=False)

    return decide
