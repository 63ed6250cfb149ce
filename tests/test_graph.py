"""`chatkit-host graph`: agents, tools and handoffs as a Mermaid diagram."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from chatkit_host.cli import main
from projects import base_config, write_project


def test_the_diagram_of_a_small_config(tmp_path: Path) -> None:
    config = base_config()
    config["agents"]["billing"]["tools"] = ["lookup_order", "ask_triage"]
    config["agents"]["billing"]["handoffs"] = ["triage"]
    config["agents"]["unused.helper"] = {"instructions": "Say \"hi\"."}
    config["tools"]["ask_triage"] = {"agent": "unused.helper"}
    config["tools"]["never_used"] = {"python": "./tools.py:lookup_order"}
    path = write_project(tmp_path, config)
    result = CliRunner().invoke(main, ["graph", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "flowchart LR\n"
        '  agent_triage(["triage (entry)"])\n'
        '  agent_billing(["billing"])\n'
        '  agent_unused_2e_helper(["unused.helper"])\n'
        '  tool_lookup_order["lookup_order<br/><small>python</small>"]\n'
        '  tool_ask_triage["ask_triage<br/><small>agent</small>"]\n'
        "  agent_triage --> tool_lookup_order\n"
        "  agent_triage -. handoff .-> agent_billing\n"
        "  agent_billing --> tool_lookup_order\n"
        "  agent_billing --> tool_ask_triage\n"
        "  agent_billing -. handoff .-> agent_triage\n"
        "  tool_ask_triage -- runs --> agent_unused_2e_helper\n"
        "  classDef entry stroke-width:3px\n"
        "  class agent_triage entry\n"
    )


def test_markdown_fence_and_config_errors(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    fenced = CliRunner().invoke(main, ["graph", "-c", str(path), "--markdown"])
    assert fenced.output.startswith("```mermaid\nflowchart LR\n")
    assert fenced.output.endswith("class agent_triage entry\n```")

    config = base_config()
    config["agents"]["triage"]["handoffs"] = ["biling"]
    broken = CliRunner().invoke(main, ["graph", "-c", str(write_project(tmp_path / "b", config))])
    assert broken.exit_code == 1
    assert "agents.triage.handoffs" in broken.output and "did you mean 'billing'?" in broken.output


def test_a_workflow_is_drawn_with_its_nodes_branches_and_loop(tmp_path: Path) -> None:
    from workflow_projects import REVIEW_SCRIPTS, review_loop_config, write_workflow_project

    path = write_workflow_project(tmp_path, review_loop_config(), REVIEW_SCRIPTS)
    result = CliRunner().invoke(main, ["graph", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "flowchart LR\n"
        '  agent_writer(["writer"])\n'
        '  agent_reviewer(["reviewer"])\n'
        '  subgraph workflow_draft["workflow draft (entry)"]\n'
        "    direction TB\n"
        '    node_draft__loop{{"loop (start)<br/><small>while true, max 3</small>"}}\n'
        '    node_draft__write[["write<br/><small>agent writer</small>"]]\n'
        '    node_draft__review[["review<br/><small>agent reviewer</small>"]]\n'
        '    node_draft__count["count<br/><small>set rounds</small>"]\n'
        '    node_draft__decide{"decide<br/><small>if</small>"}\n'
        '    node_draft__publish[/"publish<br/><small>transform</small>"/]\n'
        '    node_draft__done(["done<br/><small>end</small>"])\n'
        '    node_draft__gave_up(["gave_up<br/><small>end</small>"])\n'
        "  end\n"
        '  node_draft__loop -->|"do"| node_draft__write\n'
        '  node_draft__loop -->|"done or max"| node_draft__gave_up\n'
        "  node_draft__write --> node_draft__review\n"
        "  node_draft__write -. runs .-> agent_writer\n"
        "  node_draft__review --> node_draft__count\n"
        "  node_draft__review -. runs .-> agent_reviewer\n"
        "  node_draft__count --> node_draft__decide\n"
        '  node_draft__decide -->|"outputs.review.verdict == #quot;approve#quot;"| node_draft__publish\n'
        '  node_draft__decide -->|"else"| node_draft__loop\n'
        "  node_draft__publish --> node_draft__done\n"
        "  classDef entry stroke-width:3px\n"
        "  class workflow_draft entry\n"
    )
