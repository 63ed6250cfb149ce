"""Validated config → an immutable `Runtime`: every object a turn needs, built once.

A Runtime is built off the request path (at start and on reload) and never mutated afterwards, so a
stream that began on one keeps it to the end while new requests pick up its successor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from agents import Agent, FunctionTool, RunConfig, Tool, TResponseInputItem
from agents.models.interface import ModelProvider
from chatkit.types import ThreadMetadata, WidgetItem

from chatkit_host.auth import auth_problems
from chatkit_host.config.loader import LoadedConfig
from chatkit_host.config.models import ChatKitConfig
from chatkit_host.config.widgets import widget_files, widget_folder
from chatkit_host.errors import ConfigError, ConfigProblem
from chatkit_host.refs import referenced_files
from chatkit_host.runtime.actions import ActionRoutes
from chatkit_host.runtime.app_checks import app_problems
from chatkit_host.runtime.coalesce import coalescing
from chatkit_host.runtime.composer import ComposerRoutes, build_composer
from chatkit_host.runtime.code_agents import (
    CodeAgentError, HostModelProvider, clone_agent, code_model, load_agent, wire_handoffs,
)
from chatkit_host.runtime.converter import HostConverter
from chatkit_host.runtime.entities import EntitySearch, build_entities
from chatkit_host.runtime.forms import FormBook
from chatkit_host.runtime.instructions import TemplateError, compile_instructions, compile_template, render_with_turn
from chatkit_host.runtime.models import build_providers, model_settings, resolve_model
from chatkit_host.runtime.scripted_calls import scripted_call_problems
from chatkit_host.runtime.tools import ToolBuildError
from chatkit_host.runtime.guardrails import attach_guardrails
from chatkit_host.runtime.hosted_tools import image_storage_problems
from chatkit_host.runtime.usage import count_tool_calls, counted_tools
from chatkit_host.observability.tracing import Tracing, build_tracing
from chatkit_host.runtime.tool_kinds import ToolSpec, build_tool, wire_tool_kinds
from chatkit_host.runtime.widgets import WidgetLibrary, load_widgets
from chatkit_host.runtime.state import ThreadState
from chatkit_host.runtime.turn_context import TurnContext
from chatkit_host.storage.store import SQLStore
from chatkit_host.context import RequestContext
from chatkit_host.runtime.tool_approvals import require_approvals
from chatkit_host.runtime.workflows import Workflow, bind_workflow_tools, build_workflows


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
    model_provider: ModelProvider | None = None
    """Resolves model names found on agents at run time (agents from code) via the host's providers."""
    widgets: WidgetLibrary = field(default_factory=WidgetLibrary)
    """The widget folder's widgets, by name."""
    forms: FormBook = field(default_factory=FormBook)
    """The `forms` section, as structured-input items."""
    actions: ActionRoutes = field(default_factory=ActionRoutes)
    """The `actions` section: widget action type → steps."""
    tracing: Tracing = field(default_factory=Tracing)
    """`observability.tracing`: whether turns are traced, and where traces go."""
    entities: EntitySearch = field(default_factory=EntitySearch)
    """The `entities` section: the composer's @-mention search and entity previews."""
    composer: ComposerRoutes = field(default_factory=ComposerRoutes)
    """`client.composer`: where its tool menu and model picker send a message."""
    state_context: Any = None
    """`state.context`, compiled: the line about the state the model reads every turn."""
    warnings: tuple[ConfigProblem, ...] = ()
    """What is likely a mistake but does not stop the host (`validate` and `serve` print them)."""
    workflows: Mapping[str, Workflow] = field(default_factory=dict)
    """The `workflows` section, ready to run (runtime/workflows/)."""

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

    async def turn_context(self, store: SQLStore, thread: ThreadMetadata, context: RequestContext,
                           sender: WidgetItem | None = None) -> TurnContext:
        """The agent context of a turn or action on `thread`, with its state read once."""
        state = None
        if self.config.state is not None:
            state = await ThreadState.load(self.config.state, store, thread.id, context)
        return TurnContext(thread=thread, store=store, request_context=context, state=state, sender=sender)

    def state_input(self, agent_context: TurnContext) -> list[TResponseInputItem]:
        """`state.context` as a developer message for this turn's model input (none if not set)."""
        if self.state_context is None:
            return []
        text = render_with_turn(self.state_context, agent_context, self.config.vars)
        return [{"role": "developer", "content": text}]

    def run_config(self, thread_id: str, tracing: bool = True) -> RunConfig:
        """Per-turn run settings; the thread id groups a conversation's traces. ``tracing=False``
        turns tracing off for this run even when `observability.tracing` is on."""
        provider: dict[str, Any] = {"model_provider": self.model_provider} if self.model_provider else {}
        # A call to a tool the agent lacks is the model's mistake: it is told so (as the call's
        # output) and the turn goes on, rather than ending in an error for the user (#18).
        return RunConfig(
            group_id=thread_id, **self.tracing.run_config_fields(thread_id, tracing), **provider,
            tool_not_found_behavior="return_error_to_model",
        )


def build_runtime(loaded: LoadedConfig) -> Runtime:
    """Build every agent, tool and model; raise one `ConfigError` listing every problem.

    Makes no network or model call: `chatkit-host validate` runs exactly this.
    """
    problems: list[ConfigProblem] = []
    providers = _providers(loaded, problems)
    widgets = _widgets(loaded, problems)
    forms = FormBook(loaded.config.forms)
    tools = _tools(loaded, problems, widgets, forms)
    agents = _agents(loaded, providers, tools, problems)
    window = loaded.config.stream.coalesce_ms
    for agent in agents.values():  # every agent is the host's own copy: wrapping touches no user object
        agent.model = coalescing(agent.model, window)
    wire_tool_kinds(agents, loaded.config, loaded.base_dir)
    problems += image_storage_problems(loaded, agents)
    model_provider = HostModelProvider(providers, loaded.config.models.default, window)
    workflows: dict[str, Workflow] = {}  # filled once every agent is final; workflow tools read it when called
    tracing = build_tracing(loaded)
    bind_workflow_tools(agents, workflows, lambda thread_id: RunConfig(
        model_provider=model_provider, group_id=thread_id, **tracing.run_config_fields(thread_id)))
    problems += auth_problems(loaded)
    attach_guardrails(loaded, agents, problems)
    count_tool_calls(agents, loaded.config.agents)
    require_approvals(agents, loaded.config.tools)
    entities = build_entities(loaded, widgets, problems)
    state_context = _state_context(loaded, problems)
    problems += app_problems(loaded)
    if problems:
        raise ConfigError(problems)
    workflows.update(build_workflows(loaded.config.workflows, agents))
    return Runtime(
        loaded=loaded, agents=agents, converter=HostConverter(loaded.config.converters), version=_digest(loaded),
        model_provider=model_provider,
        widgets=widgets, forms=forms,
        actions=ActionRoutes(loaded.config.actions, counted_tools(_callable(tools)), widgets, forms,
                             loaded.config.state, loaded.config.effects),
        tracing=tracing, entities=entities, state_context=state_context,
        composer=build_composer(loaded.config, providers, window),
        warnings=tuple(scripted_call_problems(agents)),
        workflows=workflows,
    )


def _state_context(loaded: LoadedConfig, problems: list[ConfigProblem]) -> Any:
    state = loaded.config.state
    if state is None or state.context is None:
        return None
    try:
        return compile_template(state.context, loaded.config.vars, state.first_state)
    except TemplateError as error:
        problems.append(loaded.problem(("state", "context"), f"template cannot render: {error}"))
        return None


def _providers(loaded: LoadedConfig, problems: list[ConfigProblem]) -> dict[str, ModelProvider]:
    try:
        return build_providers(loaded.config.models.providers)
    except ConfigError as error:
        problems.extend(error.problems)
        # Keep going with what does build, so one bad script does not hide other problems.
        ok = {k: v for k, v in loaded.config.models.providers.items() if not v.scripted}
        return build_providers(ok)


def _widgets(loaded: LoadedConfig, problems: list[ConfigProblem]) -> WidgetLibrary:
    config = loaded.config.widgets
    widgets, broken = load_widgets(widget_folder(config, loaded.base_dir), widget_files(config, loaded.base_dir))
    problems.extend(broken)
    return widgets


def _tools(loaded: LoadedConfig, problems: list[ConfigProblem], widgets: WidgetLibrary,
           forms: FormBook) -> dict[str, Tool]:
    tools: dict[str, Tool] = {}
    for name, config in loaded.config.tools.items():
        try:
            tool = build_tool(ToolSpec(name, config, loaded.base_dir, widgets, forms, loaded.config.tools,
                                      loaded.config.effects, loaded.config.vars))
        except ToolBuildError as error:
            problems.append(loaded.problem(("tools", name, error.key), error.message, error.hint))
            continue
        if tool is not None:
            tools[name] = tool
    return tools


def _callable(tools: Mapping[str, Tool]) -> dict[str, FunctionTool]:
    return {name: tool for name, tool in tools.items() if isinstance(tool, FunctionTool)}


def _agents(
    loaded: LoadedConfig,
    providers: Mapping[str, ModelProvider],
    tools: Mapping[str, Tool],
    problems: list[ConfigProblem],
) -> dict[str, Agent]:
    config = loaded.config
    agents: dict[str, Agent] = {}
    originals: dict[str, Agent] = {}
    for name, spec in config.agents.items():
        variables = {**config.vars, **spec.vars}
        try:
            source = loaded.instructions.get(name)  # None: an agent from code keeps its own
            sample_state = config.state.first_state if config.state else None
            instructions = None if source is None else compile_instructions(source, variables, sample_state)
        except TemplateError as error:
            problems.append(
                loaded.problem(("agents", name, "instructions"), f"template cannot render: {error}")
            )
            continue
        reference = spec.model or config.models.default
        if reference.partition("/")[0] not in providers and "/" in reference:
            continue  # reported by the loader's checks
        if spec.python is not None:
            try:
                originals[name] = load_agent(spec.python, loaded.base_dir)
            except CodeAgentError as error:
                problems.append(loaded.problem(("agents", name, "python"), error.message, error.hint))
                continue
            agents[name] = clone_agent(
                name, originals[name], instructions=instructions,
                model=code_model(spec.model, originals[name], config.models.default, providers),
                settings=model_settings(spec.model_settings) if spec.model_settings else None,
                tools=[tools[t] for t in spec.tools if t in tools],
                handoff_description=spec.handoff_description,
            )
            continue
        agents[name] = Agent(
            name=name,
            instructions=instructions,
            handoff_description=spec.handoff_description,
            model=resolve_model(reference, providers),
            model_settings=model_settings(spec.model_settings),
            tools=[tools[t] for t in spec.tools if t in tools],
        )
    reached = wire_handoffs(agents, originals, {name: spec.handoffs for name, spec in config.agents.items()})
    # Agents reached only through code handoffs are kept by name, so a conversation handed to one
    # stays with it on the next turn.
    return {**agents, **{name: agent for name, agent in reached.items() if name not in agents}}


def _digest(loaded: LoadedConfig) -> str:
    digest = hashlib.sha256()
    # The code files of `./file.py:attr` references count too: editing one is a new version.
    for path in sorted(loaded.files | referenced_files(loaded.config, loaded.base_dir)):
        digest.update(str(path).encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            pass
    return digest.hexdigest()[:12]
