"""Tools of every kind, built the one way `config.tool_kinds.TOOL_KINDS` describes (#14).

Each kind's builder makes the bare tool; the traits its registry entry declares are applied here,
the same for every kind: history kept, the kind's `after` wrapper, effects and state changes after the result, progress shown, and the run stopped where the kind (or `stop_after`) says.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from agents import Agent, FunctionTool, Tool

from chatkit_host.config.models import ChatKitConfig, ToolConfig
from chatkit_host.config.state import EffectConfig
from chatkit_host.config.tool_kinds import TOOL_KINDS, ToolKind
from chatkit_host.runtime.client_tools import stop_at_client_calls
from chatkit_host.runtime.forms import FormBook
from chatkit_host.runtime.tool_results import failed_output, with_progress, with_results
from chatkit_host.runtime.tools import with_history
from chatkit_host.runtime.widgets import WidgetLibrary


@dataclass(frozen=True)
class ToolSpec:
    """What a kind's builder gets: the tool's name and config, and what it may refer to."""

    name: str
    config: ToolConfig
    base_dir: Path
    widgets: WidgetLibrary
    forms: FormBook
    tools: Mapping[str, ToolConfig] = dataclasses.field(default_factory=dict)
    """Every declared tool (a widget's `data_from` builds its source)."""
    effects: Mapping[str, EffectConfig] = dataclasses.field(default_factory=dict)
    vars: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """The top-level `vars`, for the tool's templates."""


@cache
def _function(reference: str) -> Callable[..., Any]:
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def kind_of(config: ToolConfig) -> ToolKind:
    return TOOL_KINDS[config.kind]


def build_tool(spec: ToolSpec) -> Tool | None:
    """The tool `spec` declares with its kind's traits applied; None for kinds wired later (and
    for a tool whose problem was reported elsewhere). Raises `ToolBuildError`."""
    kind = kind_of(spec.config)
    if not kind.build:
        return None
    tool = _function(kind.build)(spec)
    if not isinstance(tool, FunctionTool):
        return tool  # hosted tools run at the provider: nothing to wrap
    if kind.keeps_history:
        tool = with_history(tool)
    if kind.after:
        tool = _function(kind.after)(tool, spec)
    tool = with_results(tool, spec.config, spec.effects)
    if spec.config.progress:
        tool = with_progress(tool, spec.config.progress)
    return tool


def wire_tool_kinds(agents: Mapping[str, Agent], config: ChatKitConfig, base_dir: Path) -> None:
    """Add the kinds that need every agent (agents as tools, MCP servers) to the agents that list
    them, then make each agent stop where its tools end the run."""
    for agent_name, spec in config.agents.items():
        agent = agents.get(agent_name)
        if agent is None:
            continue
        for tool_name in spec.tools:
            tool = config.tools.get(tool_name)
            if tool is not None and (wire := kind_of(tool).wire):
                _function(wire)(agent, tool_name, tool, agents, base_dir)
        stop_where_tools_end_the_run(agent, [config.tools[t] for t in spec.tools if t in config.tools],
                                     [t for t in spec.tools if t in config.tools])


def wire_agent_tool(agent: Agent, name: str, config: ToolConfig, agents: Mapping[str, Agent], _: Path) -> None:
    """`agent: NAME`: another agent answers as a tool; the conversation stays with this one."""
    other = agents.get(config.agent or "")
    if other is None:
        return  # an unknown agent is reported by the loader's checks
    agent.tools.append(other.as_tool(
        tool_name=name,
        tool_description=config.description or other.handoff_description or f"Ask the {config.agent} agent.",
    ))


def stop_where_tools_end_the_run(agent: Agent, configs: list[ToolConfig], names: list[str]) -> None:
    """The agent's `tool_use_behavior`, made to stop at the tools whose kind ends the run and after
    the tools that say `stop_after`, keeping any tools it already stops at (an agent from code may)."""
    pausing = [name for name, tool in zip(names, configs) if kind_of(tool).ends_run == "pauses"]
    if pausing:
        agent.tool_use_behavior = stop_also_at(agent.tool_use_behavior, pausing)
    if any(kind_of(tool).ends_run == "client" for tool in configs):
        agent.tool_use_behavior = stop_at_client_calls(agent.tool_use_behavior)
    stopping = [name for name, tool in zip(names, configs) if tool.stop_after]
    if stopping:
        agent.tool_use_behavior = stop_after_success(agent.tool_use_behavior, stopping)


def stop_after_success(behavior: Any, names: list[str]) -> Any:
    """`behavior`, also ending the run once one of `names` succeeded (`stop_after`).

    A call that failed (an `error: …` output, a widget that was not shown) does not end the run:
    the model reads why and may call again or tell the user, instead of the turn ending in silence.
    """
    from agents import ToolsToFinalOutputResult

    stop_names = set(names)

    async def decide(context: Any, results: list[Any]) -> Any:
        for result in results:
            if result.tool.name in stop_names and not failed_output(result.output):
                return ToolsToFinalOutputResult(is_final_output=True, final_output=result.output)
        return await _decided_by(behavior, context, results)

    return decide


async def _decided_by(behavior: Any, context: Any, results: list[Any]) -> Any:
    """What the SDK would decide with ``behavior`` (each form of `tool_use_behavior` it accepts)."""
    from agents import ToolsToFinalOutputResult

    if behavior == "stop_on_first_tool" and results:
        return ToolsToFinalOutputResult(is_final_output=True, final_output=results[0].output)
    if isinstance(behavior, dict):
        names = behavior.get("stop_at_tool_names", [])
        for result in results:
            if result.tool.name in names:
                return ToolsToFinalOutputResult(is_final_output=True, final_output=result.output)
    elif callable(behavior):
        decision = behavior(context, results)
        return await decision if inspect.isawaitable(decision) else decision
    return ToolsToFinalOutputResult(is_final_output=False)


def stop_also_at(behavior: Any, names: list[str]) -> Any:
    """`behavior` made to stop at `names` too, keeping the tools it already stops at."""
    from agents import StopAtTools

    if isinstance(behavior, dict) and "stop_at_tool_names" in behavior:
        names = [*behavior["stop_at_tool_names"], *(n for n in names if n not in behavior["stop_at_tool_names"])]
    return StopAtTools(stop_at_tool_names=names)
