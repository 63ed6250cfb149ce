"""What turns use, counted in metrics: tokens per model and tool calls by outcome.

Tokens come from the runner's `on_llm_end` hook (every model reports usage, the scripted one
included). Tool outcomes need a wrapper around each function tool: the SDK turns a tool's exception
into a message for the model before any hook sees it, and only marks the tool context (python tools
mark it themselves: `tool_errors`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agents import Agent, FunctionTool, RunHooks
from agents.items import ModelResponse

from chatkit_host.observability import metrics
from chatkit_host.runtime import tool_errors

# The SDK sets this on the tool context when its default failure handler turned an exception into
# the tool's output, and clears it right after the tool returns (openai-agents 0.24, tool.py).
# tests/test_metrics.py fails if a release stops setting it.
_HANDLED_FAILURE = "_function_tool_default_failure_handled"
_COUNTED = "_chatkit_host_counted"


class UsageHooks(RunHooks[Any]):
    """Run hooks counting each model call (as it starts) and its tokens under the model's name."""

    async def on_llm_start(self, context: Any, agent: Agent, system_prompt: Any, input_items: Any) -> None:
        metrics.model_called(model_name(agent))

    async def on_llm_end(self, context: Any, agent: Agent, response: ModelResponse) -> None:
        usage = response.usage
        metrics.tokens_used(model_name(agent), usage.input_tokens, usage.output_tokens)


USAGE_HOOKS = UsageHooks()


def model_name(agent: Agent) -> str:
    model = agent.model
    if isinstance(model, str):
        return model
    for attribute in ("model", "model_name"):
        name = getattr(model, attribute, None)
        if isinstance(name, str):
            return name
    return type(model).__name__ if model is not None else "default"


def count_tool_calls(agents: Mapping[str, Agent], declared: Iterable[str]) -> None:
    """Wrap the function tools of the ``declared`` agents so each call is counted by tool and
    outcome. Agents only reached through code handoffs are the user's own objects: left alone."""
    for name in declared:
        if name in agents:
            agent = agents[name]
            agent.tools = [_counted(t) if isinstance(t, FunctionTool) else t for t in agent.tools]


def counted_tools(tools: Mapping[str, Any]) -> dict[str, Any]:
    """``tools`` with each function tool counted, for callers other than agents (action routes)."""
    return {name: _counted(t) if isinstance(t, FunctionTool) else t for name, t in tools.items()}


def _counted(tool: FunctionTool) -> FunctionTool:
    invoke: Callable[..., Any] = tool.on_invoke_tool
    if getattr(invoke, _COUNTED, False):
        return tool
    name = tool.name

    async def invoke_and_count(ctx: Any, arguments: str) -> Any:
        # Python tools mark the tool context when they raised (`tool_errors.FAILED`), the SDK's
        # default handler marks it its own way: either one means the tool raised. An action's
        # `call` step reads the turn's `failed_tool`, which starts each call empty.
        turn = getattr(ctx, "context", None)
        if turn is not None and hasattr(turn, "failed_tool"):
            turn.failed_tool = None
        try:
            output = await invoke(ctx, arguments)
        except Exception:
            metrics.tool_called(name, ok=False)
            raise
        failed = getattr(ctx, _HANDLED_FAILURE, False) or getattr(ctx, tool_errors.FAILED, False)
        metrics.tool_called(name, ok=not failed)
        return output

    setattr(invoke_and_count, _COUNTED, True)
    return dataclasses.replace(tool, on_invoke_tool=invoke_and_count)
