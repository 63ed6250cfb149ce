"""`mcp` tools: an MCP server (streamable HTTP or stdio) whose tools an agent gets.

The Agents SDK's MCP servers hold one live session that must be connected before a run and
cleaned up after it, and one session cannot serve concurrent turns. A runtime is shared by every
turn and built without I/O, so `PerCallMCPServer` opens a short session for each request the
runner makes (listing tools, calling one) and closes it right away: nothing to connect at start,
nothing to leak on reload, any number of turns at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agents import Agent
from agents.mcp import (
    MCPServer,
    MCPServerStdio,
    MCPServerStreamableHttp,
    create_static_tool_filter,
)

from chatkit_host.config.models import ToolConfig
from chatkit_host.config.tools import McpToolConfig

_INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR", "VIRTUAL_ENV")


def wire_mcp_server(agent: Agent, name: str, config: ToolConfig, agents: Mapping[str, Agent], base_dir: Path) -> None:
    """`mcp: {...}`: the server's tools join the agent's."""
    assert config.mcp is not None
    agent.mcp_servers.append(build_mcp_server(name, config.mcp, base_dir))


def build_mcp_server(name: str, config: McpToolConfig, base_dir: Path) -> MCPServer:
    """An MCP server for agents; makes no connection until the runner asks it something."""
    tool_filter = create_static_tool_filter(allowed_tool_names=config.tools) if config.tools else None
    if config.url is not None:
        url = config.url

        def open_http() -> MCPServer:
            return MCPServerStreamableHttp(
                {"url": url, "headers": dict(config.headers), "timeout": config.timeout},
                name=name, client_session_timeout_seconds=config.timeout, tool_filter=tool_filter,
            )
        return PerCallMCPServer(name, open_http)
    assert config.command is not None
    command = config.command
    env = {key: os.environ[key] for key in _INHERITED_ENV if key in os.environ}
    env.update(config.env)
    cwd = str(base_dir / config.cwd) if config.cwd else str(base_dir)

    def open_stdio() -> MCPServer:
        return MCPServerStdio(
            {"command": command, "args": list(config.args), "env": env, "cwd": cwd},
            name=name, client_session_timeout_seconds=config.timeout, tool_filter=tool_filter,
        )
    return PerCallMCPServer(name, open_stdio)


class PerCallMCPServer(MCPServer):
    """An MCP server reached through a fresh session for every request."""

    def __init__(self, name: str, open_server: Callable[[], MCPServer]):
        super().__init__()
        self._name = name
        self._open = open_server

    @property
    def name(self) -> str:
        return self._name

    async def connect(self) -> None:
        """Nothing to do: each request connects on its own."""

    async def cleanup(self) -> None:
        """Nothing to do: each request cleans up after itself."""

    async def _with_session(self, call: Callable[[MCPServer], Any]) -> Any:
        server = self._open()
        await server.connect()
        try:
            return await call(server)
        finally:
            await server.cleanup()

    async def list_tools(self, run_context: Any = None, agent: Any = None) -> Any:
        return await self._with_session(lambda server: server.list_tools(run_context, agent))

    async def call_tool(self, tool_name: str, arguments: dict[str, Any] | None,
                        meta: dict[str, Any] | None = None) -> Any:
        return await self._with_session(lambda server: server.call_tool(tool_name, arguments, meta))

    async def list_prompts(self) -> Any:
        return await self._with_session(lambda server: server.list_prompts())

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        return await self._with_session(lambda server: server.get_prompt(name, arguments))
