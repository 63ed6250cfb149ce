"""Checks of the `agents` section: what agents name (agents, tools, code) and their instructions."""

from __future__ import annotations

from pathlib import Path

from jinja2.sandbox import SandboxedEnvironment

from chatkit_host.config.checking import ProblemAt, import_reference_hint, resolve_path, suggest, template_problems
from chatkit_host.config.models import INSTRUCTIONS_FILE, ChatKitConfig, TitleAgentConfig
from chatkit_host.errors import ConfigProblem
from chatkit_host.refs import is_file_reference


def check_agent_references(config: ChatKitConfig, problem: ProblemAt) -> list[ConfigProblem]:
    """`entry`, handoffs, agent tools and `titles.agent` name declared agents and tools."""
    agents, tools = list(config.agents), list(config.tools)
    problems: list[ConfigProblem] = []
    if config.entry is not None and config.entry not in config.agents and config.entry not in config.workflows:
        problems.append(problem(("entry",), f"unknown agent '{config.entry}'",
                                suggest(config.entry, [*agents, *config.workflows],
                                        "known agents and workflows" if config.workflows else "known agents")))
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


def check_agent_code(config: ChatKitConfig, problem: ProblemAt) -> list[ConfigProblem]:
    """`agents.X.python` looks like `module.path:agent` or `path/file.py:agent` (nothing is imported)."""
    problems: list[ConfigProblem] = []
    for name, agent in config.agents.items():
        if agent.python is None:
            continue
        hint = import_reference_hint(agent.python, "agent")
        if hint is not None:
            problems.append(problem(("agents", name, "python"), "is not an import path of an agent", hint))
    return problems


def agent_code_files(config: ChatKitConfig, base_dir: Path) -> set[Path]:
    """The `.py` files agents are imported from by path (watched for reload, like prompts)."""
    return {resolve_path(base_dir, agent.python.partition(":")[0]) for agent in config.agents.values()
            if agent.python is not None and is_file_reference(agent.python)}


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
            problems += template_problems(environment, agent.instructions, path, problem, None)
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
        problems += template_problems(environment, source, path, problem, file)
    return sources, files, problems
