"""Tool kinds besides `python`: which module builds each, and the wiring that needs every agent.

`http`, `client` and `hosted` tools are built like `python` ones, by name. `agent` tools (another
agent called as a tool) and `mcp` servers are wired after the agents exist, as is `StopAtTools`
for agents with client tools.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agents import Agent, Tool

from chatkit_host.config.models import ChatKitConfig, ToolConfig
from chatkit_host.runtime.client_tools import build_client_tool, stop_at_client_tools
from chatkit_host.runtime.hosted_tools import build_hosted_tool


def _http_tool(name: str, config: ToolConfig) -> Tool:
    # httpx is loaded with the first http tool, not by every project.
    from chatkit_host.runtime.http_tools import build_http_tool

    return build_http_tool(name, config)


_BUILDERS: dict[str, Callable[[str, ToolConfig], Tool]] = {
    "http": _http_tool,
    "client": build_client_tool,
    "hosted": lambda name, config: build_hosted_tool(config),
}
BUILT_HERE = frozenset(_BUILDERS)
"""Kinds `build_kind` builds on their own."""
WIRED_LATER = frozenset({"agent", "mcp"})
"""Kinds `wire_tool_kinds` adds once every agent exists."""


def build_kind(name: str, config: ToolConfig) -> Tool:
    return _BUILDERS[config.kind](name, config)


def wire_tool_kinds(agents: Mapping[str, Agent], config: ChatKitConfig, base_dir: Any) -> None:
    """Add agents-as-tools and MCP servers to the agents that list them; stop at client tools."""
    for agent_name, spec in config.agents.items():
        agent = agents.get(agent_name)
        if agent is None:
            continue
        for tool_name in spec.tools:
            tool = config.tools.get(tool_name)
            if tool is None:
                continue
            if tool.agent is not None and tool.agent in agents:
                agent.tools.append(agents[tool.agent].as_tool(
                    tool_name=tool_name,
                    tool_description=tool.description or agents[tool.agent].handoff_description
                    or f"Ask the {tool.agent} agent.",
                ))
            elif tool.mcp is not None:
                from chatkit_host.runtime.mcp_tools import build_mcp_server

                agent.mcp_servers.append(build_mcp_server(tool_name, tool.mcp, base_dir))
    stop_at_client_tools(agents, config.tools, {name: spec.tools for name, spec in config.agents.items()})
