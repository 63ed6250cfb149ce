"""Checks of `client.composer`: what its tool menu routes to, and ids that say one thing each."""

from __future__ import annotations

from chatkit_host.config.checking import ProblemAt, suggest
from chatkit_host.config.models import ChatKitConfig
from chatkit_host.errors import ConfigProblem


def check_composer(config: ChatKitConfig, problem: ProblemAt) -> list[ConfigProblem]:
    """Composer tools name declared agents and tools an agent can be made to call; ids are unique."""
    composer = config.client.composer
    problems: list[ConfigProblem] = []
    for kind, ids in (("tools", [e.id for e in composer.tools]), ("models", [e.id for e in composer.models])):
        seen: set[str] = set()
        for index, entry_id in enumerate(ids):
            if entry_id in seen:
                problems.append(problem(("client", "composer", kind, index, "id"), f"'{entry_id}' is listed twice"))
            seen.add(entry_id)
    for index, entry in enumerate(composer.tools):
        where = ("client", "composer", "tools", index)
        if entry.agent is not None and entry.agent not in config.agents:
            problems.append(problem((*where, "agent"), f"unknown agent '{entry.agent}'",
                                    suggest(entry.agent, config.agents, "known agents")))
            continue
        if entry.tool is None:
            continue
        tool = config.tools.get(entry.tool)
        if tool is None:
            problems.append(problem((*where, "tool"), f"unknown tool '{entry.tool}'",
                                    suggest(entry.tool, config.tools, "declared tools", "no tools are declared")))
        elif tool.kind == "mcp":
            problems.append(problem((*where, "tool"), f"'{entry.tool}' is an MCP server, not one tool: it cannot "
                                                      "be forced", "name an agent instead"))
        elif entry.agent is not None and entry.tool not in config.agents[entry.agent].tools:
            problems.append(problem((*where, "tool"), f"agent '{entry.agent}' does not have the tool '{entry.tool}'",
                                    f"add it to agents.{entry.agent}.tools"))
        elif entry.agent is None and not any(entry.tool in agent.tools for agent in config.agents.values()):
            problems.append(problem((*where, "tool"), f"no agent has the tool '{entry.tool}'",
                                    "add it to an agent's tools"))
    return problems
