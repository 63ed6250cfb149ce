"""`chatkit-host graph`: the agents, their tools and handoffs as a Mermaid flowchart.

Drawn from the validated configuration alone (nothing is imported or built), so it works on a
project whose tools cannot run here. Agents from code (`python:`) show only what chatkit.yaml adds.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from chatkit_host.config.loader import load_config
from chatkit_host.config.models import ChatKitConfig
from chatkit_host.errors import ConfigError


@click.command("graph")
@click.option(
    "--config", "-c", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    default=lambda: os.environ.get("CHATKIT_HOST_CONFIG", "chatkit.yaml"),
    show_default="chatkit.yaml", help="The configuration file.",
)
@click.option("--markdown", is_flag=True, help="Wrap the diagram in a ```mermaid fence.")
def graph_command(config_path: Path, markdown: bool) -> None:
    """Print the agents, tools and handoffs as a Mermaid diagram."""
    if not config_path.is_file():
        click.echo(f"Error: {config_path} not found", err=True)
        sys.exit(1)
    try:
        config = load_config(config_path).config
    except ConfigError as error:
        for problem in error.problems:
            click.echo(f"Error: {problem.render(Path.cwd())}", err=True)
        sys.exit(1)
    diagram = mermaid(config)
    click.echo(f"```mermaid\n{diagram}```" if markdown else diagram, nl=False)


def mermaid(config: ChatKitConfig) -> str:
    """The flowchart text: agents (the entry one marked), tools by kind, handoffs dotted."""
    return "\n".join(_lines(config)) + "\n"


def _lines(config: ChatKitConfig) -> Iterator[str]:
    yield "flowchart LR"
    entry = config.entry_agent
    for name, agent in config.agents.items():
        notes = [note for note, on in (("entry", name == entry), ("code", agent.python)) if on]
        label = f"{name} ({', '.join(notes)})" if notes else name
        yield f'  {_agent_id(name)}(["{_label(label)}"])'
    used = {tool for agent in config.agents.values() for tool in agent.tools}
    for name, tool in config.tools.items():
        if name in used:
            yield f'  {_tool_id(name)}["{_label(name)}<br/><small>{tool.kind}</small>"]'
    for name, agent in config.agents.items():
        for tool in agent.tools:
            yield f"  {_agent_id(name)} --> {_tool_id(tool)}"
        for target in agent.handoffs:
            yield f"  {_agent_id(name)} -. handoff .-> {_agent_id(target)}"
    for name, tool in config.tools.items():
        if name in used and tool.agent is not None:
            yield f"  {_tool_id(name)} -- runs --> {_agent_id(tool.agent)}"
    yield "  classDef entry stroke-width:3px"
    yield f"  class {_agent_id(entry)} entry"


def _agent_id(name: str) -> str:
    return "agent_" + _safe(name)


def _tool_id(name: str) -> str:
    return "tool_" + _safe(name)


def _safe(name: str) -> str:
    # Mermaid ids are bare words; keep names readable and distinct ("a.b" and "a_b" stay apart).
    return re.sub(r"[^A-Za-z0-9_]", lambda m: f"_{ord(m.group()):x}_", name)


def _label(text: str) -> str:
    return text.replace('"', "#quot;")
