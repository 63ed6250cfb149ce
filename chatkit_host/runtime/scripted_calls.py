"""`validate`: a scripted model's `call:` steps must name tools of the agents that play the script.

At serve time such a call is answered with an error the model sees (the turn goes on), but a
script is written by hand to test a configuration: a misspelt tool name is a mistake to report
with its file and line, before a conversation test fails for a reason it does not show.

A script is shared by every agent whose model is on its provider, and which agent plays a given
step depends on handoffs at run time, so a call is flagged only when none of them has the tool.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from agents import Agent, Handoff

from chatkit_host.config.yaml_nodes import did_you_mean
from chatkit_host.errors import ConfigProblem
from chatkit_host.runtime.scripted import ScriptedReplyModel
from chatkit_host.runtime.scripted.script import Script


def scripted_call_problems(agents: Mapping[str, Agent]) -> list[ConfigProblem]:
    """One problem per `call:` step that no agent playing its script can make."""
    players: dict[int, tuple[Script, list[Agent]]] = {}
    for agent in agents.values():
        model = getattr(agent.model, "model", agent.model)  # under the coalescing wrapper
        if isinstance(model, ScriptedReplyModel):
            players.setdefault(id(model.script), (model.script, []))[1].append(agent)
    problems: list[ConfigProblem] = []
    for script, playing in players.values():
        if any(agent.mcp_servers for agent in playing):
            continue  # an MCP server's tools are only known once it is reached
        known = sorted({name for agent in playing for name in _callable(agent)})
        who = ", ".join(sorted(agent.name for agent in playing))
        for r, reply in enumerate(script.replies):
            for s, step in enumerate(reply.steps):
                if step.call is None or step.call in known:
                    continue
                problems.append(ConfigProblem(
                    f"no tool '{step.call}' in agent {who}, which plays this script"
                    if len(playing) == 1 else
                    f"no tool '{step.call}' in any agent that plays this script ({who})",
                    file=script.path, line=step.line, key=f"replies[{r}].steps[{s}].call",
                    hint=did_you_mean(step.call, tuple(known), _listed(known)),
                ))
    return problems


def _callable(agent: Agent) -> Iterable[str]:
    for tool in agent.tools:
        name = getattr(tool, "name", None)
        if isinstance(name, str):
            yield name
    for handoff in agent.handoffs:
        yield handoff.tool_name if isinstance(handoff, Handoff) else Handoff.default_tool_name(handoff)


def _listed(known: list[str]) -> str:
    return "its tools: " + ", ".join(known) if known else "the agent has no tools"
