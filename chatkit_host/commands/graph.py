"""`chatkit-host graph`: the agents, their tools and handoffs, and each workflow's nodes, branches
and loops, as a Mermaid flowchart.

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
from chatkit_host.config.workflows import WorkflowConfig
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
    entry = config.entry_agent if config.entry_workflow is None else None
    for name, agent in config.agents.items():
        notes = [note for note, on in (("entry", name == entry), ("code", agent.python)) if on]
        label = f"{name} ({', '.join(notes)})" if notes else name
        yield f'  {_agent_id(name)}(["{_label(label)}"])'
    used = {tool for agent in config.agents.values() for tool in agent.tools}
    for name, tool in config.tools.items():
        if name in used:
            yield f'  {_tool_id(name)}["{_label(name)}<br/><small>{tool.kind}</small>"]'
    for name, agent in config.agents.items():
        for tool_name in agent.tools:
            yield f"  {_agent_id(name)} --> {_tool_id(tool_name)}"
        for target in agent.handoffs:
            yield f"  {_agent_id(name)} -. handoff .-> {_agent_id(target)}"
    for name, tool in config.tools.items():
        if name in used and tool.agent is not None:
            yield f"  {_tool_id(name)} -- runs --> {_agent_id(tool.agent)}"
    for name, workflow in config.workflows.items():
        yield from _workflow_lines(name, workflow, name == config.entry_workflow)
    yield "  classDef entry stroke-width:3px"
    yield f"  class {_agent_id(entry) if entry else _workflow_id(config.entry_workflow or '')} entry"


_SHAPES = {"agent": '[["{}"]]', "if": '{{"{}"}}', "while": '{{{{"{}"}}}}', "set_state": '["{}"]',
           "transform": '[/"{}"/]', "approval": '[("{}")]', "end": '(["{}"])'}
"""Mermaid node shape per node kind: agents as subroutines, branches as diamonds, loops as hexagons."""


def _workflow_lines(name: str, workflow: WorkflowConfig, entry: bool) -> Iterator[str]:
    """A subgraph of the workflow's nodes, its edges labelled with conditions, and a dotted edge
    from each agent node to the agent it runs."""
    title = f"workflow {name}" + (" (entry)" if entry else "")
    yield f'  subgraph {_workflow_id(name)}["{_label(title)}"]'
    yield "    direction TB"
    for node_name, node in workflow.nodes.items():
        kind = node.kind
        detail = {"agent": f"agent {node.agent}", "while": f"while {node.while_}, max {node.max}",
                  "set_state": "set " + ", ".join(node.set_state or {}),
                  "transform": "transform", "if": "if", "approval": "approval", "end": "end"}[kind]
        start = " (start)" if node_name == workflow.first else ""
        text = _label(f"{node_name}{start}<br/><small>{detail}</small>")
        yield f"    {_node_id(name, node_name)}{_SHAPES[kind].format(text)}"
    yield "  end"
    for node_name, node in workflow.nodes.items():
        here = _node_id(name, node_name)
        for branch in node.if_ or []:
            yield f'  {here} -->|"{_label(branch.when)}"| {_node_id(name, branch.then)}'
        if node.else_ is not None:
            yield f'  {here} -->|"else"| {_node_id(name, node.else_)}'
        if node.approval is not None:
            yield f'  {here} -->|"approve"| {_node_id(name, node.approval.approve)}'
            yield f'  {here} -->|"reject"| {_node_id(name, node.approval.reject)}'
        if node.do is not None:
            yield f'  {here} -->|"do"| {_node_id(name, node.do)}'
        if node.next is not None:
            label = '|"done or max"|' if node.kind == "while" else ""
            yield f"  {here} -->{label} {_node_id(name, node.next)}"
        if node.agent is not None:
            yield f"  {here} -. runs .-> {_agent_id(node.agent)}"


def _workflow_id(name: str) -> str:
    return "workflow_" + _safe(name)


def _node_id(workflow: str, node: str) -> str:
    return f"node_{_safe(workflow)}__{_safe(node)}"


def _agent_id(name: str) -> str:
    return "agent_" + _safe(name)


def _tool_id(name: str) -> str:
    return "tool_" + _safe(name)


def _safe(name: str) -> str:
    # Mermaid ids are bare words; keep names readable and distinct ("a.b" and "a_b" stay apart).
    return re.sub(r"[^A-Za-z0-9_]", lambda m: f"_{ord(m.group()):x}_", name)


def _label(text: str) -> str:
    return text.replace('"', "#quot;")
