"""Checks of the `tools` section (and `converters`, whose templates the host fills like a tool's)."""

from __future__ import annotations

from jinja2.sandbox import SandboxedEnvironment

from chatkit_host.config.checking import ProblemAt, import_reference_hint, suggest, template_problems
from chatkit_host.config.models import ChatKitConfig
from chatkit_host.config.positions import KeyPath
from chatkit_host.errors import ConfigProblem


def check_tools(config: ChatKitConfig, problem: ProblemAt) -> list[ConfigProblem]:
    """`tools.X.python` looks like `module.path:attr` or `path/file.py:attr` (nothing is imported)."""
    problems: list[ConfigProblem] = []
    for name, tool in config.tools.items():
        if tool.python is None:
            continue
        hint = import_reference_hint(tool.python)
        if hint is not None:
            problems.append(problem(("tools", name, "python"), "is not an import path of a function", hint))
    return problems


def check_tool_kinds(config: ChatKitConfig, problem: ProblemAt) -> list[ConfigProblem]:
    """Agents-as-tools name other agents (never their caller); hosted file search has its
    vector stores. (Each kind's own shape is the models' business.)"""
    problems: list[ConfigProblem] = []
    for name, tool in config.tools.items():
        if tool.agent is not None and tool.agent not in config.agents:
            problems.append(problem(("tools", name, "agent"), f"unknown agent '{tool.agent}'",
                                    suggest(tool.agent, config.agents, "known agents")))
        if tool.sources is not None and tool.kind not in ("python", "http"):
            problems.append(problem(("tools", name, "sources"), f"a {tool.kind} tool has no result to cite",
                                    "sources go on python and http tools"))
        elif tool.sources is not None:
            environment = SandboxedEnvironment()
            for key in ("each", "title", "url", "entity", "file", "description"):
                text = getattr(tool.sources, key)
                if text is not None:
                    problems += template_problems(environment, text, ("tools", name, "sources", key), problem, None)
        if tool.hosted == "file_search":
            problems.append(problem(("tools", name, "hosted"), "file_search needs vector stores",
                                    "write {type: file_search, vector_store_ids: [vs_...]}"))
    for agent_name, agent in config.agents.items():
        for index, tool_name in enumerate(agent.tools):
            called = config.tools.get(tool_name)
            if called is not None and called.agent == agent_name:
                problems.append(problem(("agents", agent_name, "tools", index),
                                        "an agent cannot call itself as a tool"))
    return problems


def check_converters(config: ChatKitConfig, problem: ProblemAt) -> list[ConfigProblem]:
    """The `converters` templates parse."""
    problems: list[ConfigProblem] = []
    environment = SandboxedEnvironment()
    templates: list[tuple[KeyPath, str]] = [
        (("converters", "tags", kind), text) for kind, text in config.converters.tags.items()]
    if config.converters.hidden_context is not None:
        templates.append((("converters", "hidden_context"), config.converters.hidden_context))
    for path, text in templates:
        problems += template_problems(environment, text, path, problem, None)
    return problems
