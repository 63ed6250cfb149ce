"""Validated config → an immutable `Runtime`: every object a turn needs, built once.

A Runtime is built off the request path (at start and on reload) and never mutated afterwards, so a
stream that began on one keeps it to the end while new requests pick up its successor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from agents import Agent, FunctionTool, RunConfig
from agents.models.interface import ModelProvider

from chatkit_host.config.loader import LoadedConfig
from chatkit_host.config.models import ChatKitConfig
from chatkit_host.errors import ConfigError, ConfigProblem
from chatkit_host.runtime.converter import HostConverter
from chatkit_host.runtime.instructions import TemplateError, compile_instructions
from chatkit_host.runtime.models import build_providers, model_settings, resolve_model
from chatkit_host.runtime.tools import ToolBuildError, build_tool


@dataclass(frozen=True)
class Runtime:
    """Everything a turn needs, built from one configuration snapshot.

    Attributes:
        loaded: The configuration it was built from.
        agents: Agents by name, with tools and handoffs wired.
        converter: Thread items → model input.
        version: A digest of every file the configuration uses; changes when any of them does.
        built_at: When this runtime was built.
    """

    loaded: LoadedConfig
    agents: Mapping[str, Agent]
    converter: HostConverter
    version: str
    built_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def config(self) -> ChatKitConfig:
        return self.loaded.config

    @property
    def entry(self) -> Agent:
        return self.agents[self.config.entry_agent]

    @property
    def title_agent(self) -> Agent | None:
        titles = self.config.titles
        return None if isinstance(titles, str) else self.agents[titles.agent]

    def run_config(self, thread_id: str, tracing: bool = False) -> RunConfig:
        """Per-turn run settings; the thread id groups a conversation's traces."""
        return RunConfig(
            workflow_name="chatkit-host", group_id=thread_id, tracing_disabled=not tracing
        )


def build_runtime(loaded: LoadedConfig) -> Runtime:
    """Build every agent, tool and model; raise one `ConfigError` listing every problem.

    Makes no network or model call: `chatkit-host validate` runs exactly this.
    """
    problems: list[ConfigProblem] = []
    providers = _providers(loaded, problems)
    tools = _tools(loaded, problems)
    agents = _agents(loaded, providers, tools, problems)
    if problems:
        raise ConfigError(problems)
    return Runtime(
        loaded=loaded, agents=agents, converter=HostConverter(), version=_digest(loaded)
    )


def _providers(loaded: LoadedConfig, problems: list[ConfigProblem]) -> dict[str, ModelProvider]:
    try:
        return build_providers(loaded.config.models.providers)
    except ConfigError as error:
        problems.extend(error.problems)
        # Keep going with what does build, so one bad script does not hide other problems.
        ok = {k: v for k, v in loaded.config.models.providers.items() if not v.scripted}
        return build_providers(ok)


def _tools(loaded: LoadedConfig, problems: list[ConfigProblem]) -> dict[str, FunctionTool]:
    tools: dict[str, FunctionTool] = {}
    for name, config in loaded.config.tools.items():
        try:
            tools[name] = build_tool(name, config, loaded.base_dir)
        except ToolBuildError as error:
            problems.append(loaded.problem(("tools", name, error.key), error.message, error.hint))
    return tools


def _agents(
    loaded: LoadedConfig,
    providers: Mapping[str, ModelProvider],
    tools: Mapping[str, FunctionTool],
    problems: list[ConfigProblem],
) -> dict[str, Agent]:
    config = loaded.config
    agents: dict[str, Agent] = {}
    for name, spec in config.agents.items():
        variables = {**config.vars, **spec.vars}
        try:
            instructions = compile_instructions(loaded.instructions[name], variables)
        except TemplateError as error:
            problems.append(
                loaded.problem(("agents", name, "instructions"), f"template cannot render: {error}")
            )
            continue
        reference = spec.model or config.models.default
        if reference.partition("/")[0] not in providers and "/" in reference:
            continue  # reported by the loader's checks
        agents[name] = Agent(
            name=name,
            instructions=instructions,
            handoff_description=spec.handoff_description,
            model=resolve_model(reference, providers),
            model_settings=model_settings(spec.model_settings),
            tools=[tools[t] for t in spec.tools if t in tools],
        )
    for name, spec in config.agents.items():
        if name in agents:
            agents[name].handoffs = [agents[h] for h in spec.handoffs if h in agents]
    return agents


def _digest(loaded: LoadedConfig) -> str:
    digest = hashlib.sha256()
    for path in sorted(loaded.files):
        digest.update(str(path).encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            pass
    return digest.hexdigest()[:12]
