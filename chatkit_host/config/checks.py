"""Semantic checks: what a schema cannot say about a configuration.

Names must refer to declared things (agents, tools, providers), files must exist, templates must
parse, tool import paths and the auth token string must be well formed. Every check collects all
of its problems; none stops at the first.

Messages may name agents, tools, providers and files (they are identifiers a person typed), but
never echo values such as tokens or keys, which may come from the environment.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from chatkit_host.config.models import INSTRUCTIONS_FILE, ChatKitConfig, TitleAgentConfig
from chatkit_host.config.tool_kinds import TOOL_KINDS, action_callable_kinds
from chatkit_host.config.positions import KeyPath, dotted
from chatkit_host.config.widgets import (
    ACTION_TEMPLATE_VARIABLES,
    ActionRoute,
    AskStep,
    CallStep,
    RespondStep,
    ShowWidgetStep,
    UpdateWidgetStep,
    widget_names,
)
from chatkit_host.errors import ConfigProblem
from chatkit_host.refs import is_file_reference

_IDENT = r"[A-Za-z_]\w*"
_DOTTED = rf"{_IDENT}(?:\.{_IDENT})*"
_MODULE_REF = re.compile(rf"{_DOTTED}:{_DOTTED}")
_FILE_REF = re.compile(rf"[^:]+\.py:{_DOTTED}")
_TOKEN_SEPARATORS = re.compile(r"[,\s]+")


class ProblemAt(Protocol):
    """Makes a problem located at a key path of the YAML file."""

    def __call__(self, path: KeyPath, message: str, hint: str | None = None) -> ConfigProblem: ...


@dataclass(frozen=True)
class Checked:
    """What the checks found, and what they read on the way (so nothing is read twice)."""

    problems: list[ConfigProblem]
    instructions: dict[str, str]
    """Agent name → template source."""
    instruction_files: dict[str, Path]
    """Agent name → absolute path, for agents whose instructions are a file."""
    auth_tokens: dict[str, str]
    """Token → user id."""


def check_config(config: ChatKitConfig, base_dir: Path, problem: ProblemAt) -> Checked:
    """Run every semantic check on a schema-valid `config` whose paths are relative to `base_dir`."""
    instructions, files, instruction_problems = read_instructions(config, base_dir, problem)
    tokens, token_problems = parse_tokens(config.auth.tokens, problem)
    if config.auth.mode == "bearer" and not tokens and not token_problems:  # e.g. only separators
        token_problems.append(problem(("auth", "tokens"), "has no user=token entries"))
    problems = [
        *check_references(config, problem),
        *check_model_references(config, problem),
        *check_tools(config, problem),
        *check_tool_kinds(config, problem),
        *check_widgets_forms_actions(config, base_dir, problem),
        *check_agent_code(config, problem),
        *check_scripted_files(config, base_dir, problem),
        *check_entities(config, base_dir, problem),
        *check_static(config, base_dir, problem),
        *instruction_problems,
        *token_problems,
    ]
    return Checked(problems, instructions, files, tokens)


def suggest(name: str, known: Iterable[str], what: str, empty: str | None = None) -> str:
    """A hint for an unknown `name`: the closest of `known`, else `what: a, b`, else `empty`."""
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    if not known:
        return empty or f"there are no {what}"
    return f"{what}: " + ", ".join(known)


def resolve_path(base_dir: Path, value: str) -> Path:
    """`value` (relative to `base_dir`, or absolute) as a normalised absolute path."""
    return Path(os.path.normpath(base_dir / value))


def check_references(config: ChatKitConfig, problem: ProblemAt) -> list[ConfigProblem]:
    """`entry`, handoffs, agent tools and `titles.agent` name declared agents and tools."""
    agents, tools = list(config.agents), list(config.tools)
    problems: list[ConfigProblem] = []
    if config.entry is not None and config.entry not in config.agents:
        problems.append(problem(("entry",), f"unknown agent '{config.entry}'",
                                suggest(config.entry, agents, "known agents")))
    for name, agent in config.agents.items():
        others = [other for other in agents if other != name]
        for index, target in enumerate(agent.handoffs):
            path = ("agents", name, "handoffs", index)
            if target == name:
                problems.append(problem(path, "an agent cannot hand off to itself"))
            elif target not in config.agents:
                hint = suggest(target, others, "other agents", "no other agents are declared")
                problems.append(problem(path, f"unknown agent '{target}'", hint))
        for index, tool in enumerate(agent.tools):
            if tool not in config.tools:
                problems.append(problem(("agents", name, "tools", index), f"unknown tool '{tool}'",
                                        suggest(tool, tools, "declared tools", "no tools are declared")))
    titles = config.titles
    if isinstance(titles, TitleAgentConfig) and titles.agent not in config.agents:
        problems.append(problem(("titles", "agent"), f"unknown agent '{titles.agent}'",
                                suggest(titles.agent, agents, "known agents")))
    return problems


def check_model_references(config: ChatKitConfig, problem: ProblemAt) -> list[ConfigProblem]:
    """Every model reference is `NAME` or `PROVIDER/NAME` with a declared (or built-in) provider."""
    references: list[tuple[KeyPath, str]] = [(("models", "default"), config.models.default)]
    references += [(("agents", name, "model"), agent.model)
                   for name, agent in config.agents.items() if agent.model is not None]
    providers = ["openai", *(name for name in config.models.providers if name != "openai")]
    problems: list[ConfigProblem] = []
    for path, reference in references:
        provider, slash, model = reference.partition("/")
        if not reference.strip() or (slash and not (provider and model)):
            problems.append(problem(path, "a model reference is NAME or PROVIDER/NAME, with no empty part"))
        elif slash and provider not in providers:
            hint = suggest(provider, providers, "known providers")
            problems.append(problem(path, f"unknown provider '{provider}'", hint))
    return problems


def check_tools(config: ChatKitConfig, problem: ProblemAt) -> list[ConfigProblem]:
    """`tools.X.python` looks like `module.path:attr` or `path/file.py:attr` (nothing is imported).

    What counts as a file reference is the runtime's rule (`refs.is_file_reference`).
    """
    problems: list[ConfigProblem] = []
    for name, tool in config.tools.items():
        if tool.python is None:
            continue
        pattern = _FILE_REF if is_file_reference(tool.python) else _MODULE_REF
        if not pattern.fullmatch(tool.python):
            problems.append(problem(("tools", name, "python"), "is not an import path of a function",
                                    _import_path_hint(tool.python)))
    return problems


def check_tool_kinds(config: ChatKitConfig, problem: ProblemAt) -> list[ConfigProblem]:
    """Agents-as-tools name other agents; templates in `converters` parse; the transcription
    provider exists. (Each kind's own shape is the models' business.)"""
    problems: list[ConfigProblem] = []
    for name, tool in config.tools.items():
        if tool.agent is not None and tool.agent not in config.agents:
            problems.append(problem(("tools", name, "agent"), f"unknown agent '{tool.agent}'",
                                    suggest(tool.agent, config.agents, "known agents")))
        if tool.hosted == "file_search":
            problems.append(problem(("tools", name, "hosted"), "file_search needs vector stores",
                                    "write {type: file_search, vector_store_ids: [vs_...]}"))
    for agent_name, agent in config.agents.items():
        for index, tool_name in enumerate(agent.tools):
            tool = config.tools.get(tool_name)
            if tool is not None and tool.agent == agent_name:
                problems.append(problem(("agents", agent_name, "tools", index),
                                        "an agent cannot call itself as a tool"))
    environment = SandboxedEnvironment()
    templates = [(("converters", "tags", kind), text) for kind, text in config.converters.tags.items()]
    if config.converters.hidden_context is not None:
        templates.append((("converters", "hidden_context"), config.converters.hidden_context))
    for path, text in templates:
        problems += _template_problems(environment, text, path, problem, None)
    if config.transcription is not None:
        provider = config.transcription.provider
        declared = config.models.providers.get(provider)
        if provider != "openai" and declared is None:
            problems.append(problem(("transcription", "provider"), f"unknown provider '{provider}'",
                                    suggest(provider, ["openai", *config.models.providers], "known providers")))
        elif declared is not None and declared.scripted:
            problems.append(problem(("transcription", "provider"), "a scripted provider cannot transcribe"))
    return problems


def check_widgets_forms_actions(config: ChatKitConfig, base_dir: Path, problem: ProblemAt) -> list[ConfigProblem]:
    """Widget and form tools, and action steps, name declared widgets, forms, tools and agents;
    form question ids are unique; action templates parse. (Widget files are checked when built.)"""
    widgets = widget_names(config.widgets, base_dir)
    no_widgets = f"no widget files in {config.widgets.folder}"
    problems: list[ConfigProblem] = []

    def known(path: KeyPath, name: str, names: Iterable[str], what: str, empty: str) -> None:
        if name not in names:
            singular = what.split()[-1].rstrip("s")
            problems.append(problem(path, f"unknown {singular} '{name}'", suggest(name, names, what, empty)))

    for name, tool in config.tools.items():
        if tool.widget is not None:
            known(("tools", name, "widget"), tool.widget, widgets, "widgets", no_widgets)
        if tool.form is not None:
            known(("tools", name, "form"), tool.form, config.forms, "declared forms", "no forms are declared")
    for name, questions in config.forms.items():
        seen: set[str] = set()
        for index, question in enumerate(questions):
            if question.id in seen:
                problems.append(problem(("forms", name, index, "id"), f"question id '{question.id}' is used twice"))
            seen.add(question.id)
    environment = SandboxedEnvironment()
    for action, route in config.actions.items():
        for index, step in enumerate(route.do):
            path = ("actions", action, "do", index)
            if isinstance(step, CallStep):
                tool = config.tools.get(step.call)
                if tool is None:
                    known((*path, "call"), step.call, config.tools, "declared tools", "no tools are declared")
                elif not TOOL_KINDS[tool.kind].actions_may_call:
                    problems.append(problem((*path, "call"), f"tool '{step.call}' is a {tool.kind} tool; "
                                            f"actions call {' and '.join(action_callable_kinds())} tools",
                                            "show widgets with show_widget and ask forms with ask"))
            elif isinstance(step, (UpdateWidgetStep, ShowWidgetStep)):
                key = "update_widget" if isinstance(step, UpdateWidgetStep) else "show_widget"
                target = getattr(step, key)
                known((*path, key, "widget"), target.widget, widgets, "widgets", no_widgets)
            elif isinstance(step, RespondStep) and step.respond is not True:
                known((*path, "respond"), step.respond, config.agents, "known agents", "")
            elif isinstance(step, AskStep):
                known((*path, "ask"), step.ask, config.forms, "declared forms", "no forms are declared")
            for key_path, text in _step_templates(step, path):
                try:
                    template = environment.parse(text)
                except TemplateSyntaxError as error:
                    problems.append(problem(key_path, f"template syntax error: {error.message}"))
                    continue
                problems += [problem(key_path, message, hint)
                             for message, hint in _unknown_names(template, environment, route)]
    return problems


def _unknown_names(template: nodes.Template, environment: SandboxedEnvironment,
                   route: ActionRoute) -> list[tuple[str, str]]:
    """Names an action template uses that it will not have when it runs (the runtime's templates
    fail on anything undefined): unknown variables, and payload fields the payload's schema
    does not declare when it declares them all."""
    known = [*ACTION_TEMPLATE_VARIABLES, *environment.globals]
    found = [(f"unknown template variable '{name}'", suggest(name, ACTION_TEMPLATE_VARIABLES, "templates see"))
             for name in sorted(meta.find_undeclared_variables(template)) if name not in known]
    schema = route.payload_schema
    fields = list(schema.get("properties", {}))
    if schema.get("additionalProperties") is not False:
        return found
    for node in template.find_all((nodes.Getattr, nodes.Getitem)):
        field_name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if (isinstance(node.node, nodes.Name) and node.node.name == "payload"
                and isinstance(field_name, str) and field_name not in fields):
            found.append((f"the payload has no field '{field_name}'",
                          suggest(field_name, fields, "payload fields", "the payload has no fields")))
    return found


def _step_templates(step: object, path: KeyPath) -> list[tuple[KeyPath, str]]:
    """Every template string of an action step, with its key path."""
    found: list[tuple[KeyPath, str]] = []

    def walk(value: object, where: KeyPath) -> None:
        if isinstance(value, str):
            found.append((where, value))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*where, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*where, index))

    walk({key: value for key, value in step.model_dump(exclude_none=True).items()  # type: ignore[attr-defined]
          if key not in ("call", "respond", "ask")}, path)
    return [(where, text) for where, text in found if where[-1] != "widget"]


def check_entities(config: ChatKitConfig, base_dir: Path, problem: ProblemAt) -> list[ConfigProblem]:
    """`entities` sources: previews name widget files, static files exist, `python` is an import
    path. (Entities inside a static file, and preview data, are checked when the runtime is built.)"""
    if config.entities is None:
        return []
    widgets = widget_names(config.widgets, base_dir)
    no_widgets = f"no widget files in {config.widgets.folder}"
    problems: list[ConfigProblem] = []
    for index, source in enumerate(config.entities.sources):
        path: KeyPath = ("entities", "sources", index)
        if isinstance(source.static, str) and not resolve_path(base_dir, source.static).is_file():
            problems.append(problem((*path, "static"), f"entities file {source.static} not found",
                                    "paths are relative to chatkit.yaml"))
        for number, entity in enumerate(source.static if isinstance(source.static, list) else []):
            if entity.preview is not None and entity.preview.widget not in widgets:
                name = entity.preview.widget
                problems.append(problem((*path, "static", number, "preview", "widget"), f"unknown widget '{name}'",
                                        suggest(name, widgets, "widgets", no_widgets)))
        if source.python is not None:
            pattern = _FILE_REF if is_file_reference(source.python) else _MODULE_REF
            if not pattern.fullmatch(source.python):
                problems.append(problem((*path, "python"), "is not an import path of a function",
                                        _import_path_hint(source.python)))
    return problems


def check_static(config: ChatKitConfig, base_dir: Path, problem: ProblemAt) -> list[ConfigProblem]:
    """`server.static`: each folder exists, and no URL path hides one of the host's own routes."""
    own = {config.server.path.rstrip("/"): "the ChatKit endpoint", "/healthz": "the health route",
           "/metrics": "the metrics route"}
    playground = config.client.playground
    if playground.enabled or (playground.enabled is None and config.auth.mode == "none"):
        own[playground.path.rstrip("/") or "/"] = "the playground"
    if config.files is not None:
        own[config.files.route.rstrip("/")] = "the file routes"
    problems: list[ConfigProblem] = []
    for url, folder in config.server.static.items():
        where: KeyPath = ("server", "static", url)
        if not resolve_path(base_dir, folder).is_dir():
            problems.append(problem(where, f"folder {folder} not found", "paths are relative to chatkit.yaml"))
        clash = next((name for path, name in own.items() if url == path or path.startswith(url + "/")), None)
        if clash is not None:
            problems.append(problem(where, f"{url} would hide {clash}", "serve the folder under another path"))
    return problems


def check_agent_code(config: ChatKitConfig, problem: ProblemAt) -> list[ConfigProblem]:
    """`agents.X.python` looks like `module.path:agent` or `path/file.py:agent` (nothing is imported)."""
    problems: list[ConfigProblem] = []
    for name, agent in config.agents.items():
        if agent.python is None:
            continue
        pattern = _FILE_REF if is_file_reference(agent.python) else _MODULE_REF
        if not pattern.fullmatch(agent.python):
            hint = _import_path_hint(agent.python).replace("function", "agent")
            problems.append(problem(("agents", name, "python"), "is not an import path of an agent", hint))
    return problems


def agent_code_files(config: ChatKitConfig, base_dir: Path) -> set[Path]:
    """The `.py` files agents are imported from by path (watched for reload, like prompts)."""
    return {resolve_path(base_dir, agent.python.partition(":")[0]) for agent in config.agents.values()
            if agent.python is not None and is_file_reference(agent.python)}


def entity_files(config: ChatKitConfig, base_dir: Path) -> set[Path]:
    """The files static entity lists are read from (watched for reload, like prompts)."""
    sources = config.entities.sources if config.entities is not None else []
    return {resolve_path(base_dir, source.static) for source in sources if isinstance(source.static, str)}


def _import_path_hint(reference: str) -> str:
    module, _, attribute = reference.partition(":")
    if not attribute:
        return "name the function after a colon: package.module:function or ./file.py:function"
    if "/" in module and not module.endswith(".py"):
        return "a file reference names a .py file: ./file.py:function"
    return "write package.module:function or ./file.py:function"


def check_scripted_files(config: ChatKitConfig, base_dir: Path, problem: ProblemAt) -> list[ConfigProblem]:
    """Each scripted provider's script exists (its content is the runtime's business)."""
    return [
        problem(("models", "providers", name, "scripted"), f"scripted file {provider.scripted} not found")
        for name, provider in config.models.providers.items()
        if provider.scripted is not None and not resolve_path(base_dir, provider.scripted).is_file()
    ]


def read_instructions(
    config: ChatKitConfig, base_dir: Path, problem: ProblemAt
) -> tuple[dict[str, str], dict[str, Path], list[ConfigProblem]]:
    """Each agent's template source, read once; files and templates that fail are problems.

    Returns the sources by agent, the instruction files by agent, and the problems.
    """
    environment = SandboxedEnvironment()
    sources: dict[str, str] = {}
    files: dict[str, Path] = {}
    problems: list[ConfigProblem] = []
    for name, agent in config.agents.items():
        path = ("agents", name, "instructions")
        if agent.instructions is None:  # an agent from code keeps its own
            continue
        if not INSTRUCTIONS_FILE.fullmatch(agent.instructions):
            sources[name] = agent.instructions
            problems += _template_problems(environment, agent.instructions, path, problem, None)
            continue
        file = resolve_path(base_dir, agent.instructions)
        try:
            source = file.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            problems.append(problem(path, f"instructions file {agent.instructions} not found"))
            continue
        except (OSError, UnicodeDecodeError) as error:
            reason = "is not UTF-8 text" if isinstance(error, UnicodeDecodeError) else "cannot be read"
            problems.append(problem(path, f"instructions file {agent.instructions} {reason}"))
            continue
        sources[name], files[name] = source, file
        problems += _template_problems(environment, source, path, problem, file)
    return sources, files, problems


def _template_problems(
    environment: SandboxedEnvironment, source: str, path: KeyPath, problem: ProblemAt, file: Path | None
) -> list[ConfigProblem]:
    """A jinja2 syntax error, at the template file's own line, or at the inline text's key."""
    try:
        environment.parse(source)
    except TemplateSyntaxError as error:
        if file is not None:
            return [ConfigProblem(f"template syntax error: {error.message}", file=file,
                                  line=error.lineno, key=dotted(path))]
        return [problem(path, f"template syntax error on line {error.lineno} of the instructions: "
                              f"{error.message}")]
    return []


def parse_tokens(
    tokens: dict[str, str] | str | None, problem: ProblemAt
) -> tuple[dict[str, str], list[ConfigProblem]]:
    """`auth.tokens` (a user → token map, or `alice=T1,bob=T2`) as token → user.

    The string form is split on commas and whitespace, each entry on its first `=`. An empty user
    or token, or one token for two users, is a problem. Tokens never appear in messages.
    """
    path: KeyPath = ("auth", "tokens")
    if isinstance(tokens, str):
        parts = (entry.partition("=") for entry in _TOKEN_SEPARATORS.split(tokens.strip()) if entry)
        entries = [(path, f"entry {number}", user, token, bool(equals))
                   for number, (user, equals, token) in enumerate(parts, start=1)]
    else:
        entries = [((*path, user), f"user '{user}'", user, token, True)
                   for user, token in (tokens or {}).items()]
    problems: list[ConfigProblem] = []
    by_token: dict[str, str] = {}
    for where, label, user, token, has_equals in entries:
        if not has_equals:
            problems.append(problem(where, f"{label} is not user=token",
                                    "separate entries with commas or spaces: alice=TOKEN1,bob=TOKEN2"))
        elif not user or not token:
            problems.append(problem(where, f"{label} has an empty {'token' if user else 'user'}"))
        elif by_token.setdefault(token, user) != user:
            problems.append(problem(where, f"users '{by_token[token]}' and '{user}' have the same token",
                                    "give every user a token of their own"))
    return by_token, problems
