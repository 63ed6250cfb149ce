"""The composer's choices (`inference_options`) honoured: the tool menu routes a message to an
agent or forces a tool, the model picker picks the model — only among what `client.composer`
declares, which is also exactly what the playground offers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents import Agent, ModelSettings, RunConfig
from agents.models.interface import Model, ModelProvider
from chatkit.types import InferenceOptions

from chatkit_host.config.models import ChatKitConfig
from chatkit_host.errors import Refusal
from chatkit_host.runtime.coalesce import coalescing
from chatkit_host.runtime.models import resolve_model


@dataclass(frozen=True)
class ToolRoute:
    """Where a composer tool sends a message: an agent, a tool to call first, or both."""

    agent: str | None = None
    forced: str | None = None
    """The model's `tool_choice`: the tool's name, or a hosted tool's type."""
    tool: str | None = None


@dataclass(frozen=True)
class ComposerRoutes:
    """`client.composer`'s tools and models, ready for a turn."""

    tools: Mapping[str, ToolRoute] = field(default_factory=dict)
    models: Mapping[str, Model | None] = field(default_factory=dict)
    """Model id → the model (None for a disabled entry, which is refused)."""

    def refusal(self, options: InferenceOptions | None) -> Refusal | None:
        """Why the composer's choices cannot be honoured (an id the composer does not offer), or None."""
        if options is None:
            return None
        choice = options.tool_choice.id if options.tool_choice is not None else None
        if choice is not None and choice not in self.tools:
            return Refusal(400, "unknown_tool_choice", f"unknown tool_choice '{choice}' ({_offered(self.tools)})")
        if options.model is not None:
            if options.model not in self.models:
                return Refusal(400, "unknown_model", f"unknown model '{options.model}' ({_offered(self.models)})")
            if self.models[options.model] is None:
                return Refusal(400, "unknown_model", f"the model '{options.model}' is disabled")
        return None

    def agent(self, options: InferenceOptions | None, current: Agent, agents: Mapping[str, Agent]) -> Agent | None:
        """The agent the composer's tool choice sends the message to; None to leave the thread's."""
        route = self._route(options)
        if route is None:
            return None
        if route.agent is not None:
            return agents.get(route.agent)
        if route.tool is None or _has_tool(current, route.forced, route.tool):
            return None
        return next((agent for agent in agents.values() if _has_tool(agent, route.forced, route.tool)), None)

    def run_config(self, options: InferenceOptions | None, run_config: RunConfig) -> RunConfig:
        """`run_config` with the chosen model and the forced tool, if any."""
        changes: dict[str, Any] = {}
        route = self._route(options)
        if route is not None and route.forced is not None:
            changes["model_settings"] = ModelSettings(tool_choice=route.forced)
        model = self.model(options)
        if model is not None:
            changes["model"] = model
        return dataclasses.replace(run_config, **changes) if changes else run_config

    def model(self, options: InferenceOptions | None) -> Model | None:
        """The model chosen in the picker, or None for the agents' own."""
        if options is None or options.model is None:
            return None
        return self.models.get(options.model)

    def _route(self, options: InferenceOptions | None) -> ToolRoute | None:
        if options is None or options.tool_choice is None:
            return None
        return self.tools.get(options.tool_choice.id)


def build_composer(config: ChatKitConfig, providers: Mapping[str, ModelProvider], window_ms: float) -> ComposerRoutes:
    """The routes of `client.composer` (checked already: agents and tools exist)."""
    composer = config.client.composer
    tools = {}
    for entry in composer.tools:
        forced = None
        if entry.tool is not None:
            tool = config.tools[entry.tool]
            hosted = tool.hosted
            forced = entry.tool if hosted is None else hosted if isinstance(hosted, str) else hosted.type
        tools[entry.id] = ToolRoute(entry.agent, forced, entry.tool)
    models = {entry.id: None if entry.disabled else coalescing(resolve_model(entry.reference, providers), window_ms)
              for entry in composer.models}
    return ComposerRoutes(tools, models)


def _has_tool(agent: Agent, forced: str | None, name: str) -> bool:
    return any(getattr(tool, "name", None) in (name, forced) for tool in agent.tools)


def _offered(choices: Mapping[str, object]) -> str:
    return "the composer offers: " + ", ".join(choices) if choices else "the composer offers none"
