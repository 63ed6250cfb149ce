"""A workflow called by an agent as a tool (`tools.NAME.workflow`).

The workflow runs inside the calling agent's turn on the text the agent passes, as if a user had
written it: its agents see only that text, its progress and replies stay out of the thread, and what
it would have shown the user (replies of shown agents, end messages) is the tool's output.

Wired in two steps: the tool-kind registry adds the tool to the agents that list it
(`wire_workflow_tool`, while agents are wired); `bind_workflow_tools` then hands each tool the
runtime's workflows mapping, which is filled once every agent is final (workflows copy agents), and
the tool looks its graph up there when called.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agents import Agent, FunctionTool, RunConfig
from chatkit.agents import ResponseStreamConverter
from chatkit.types import AssistantMessageItem, ThreadItemDoneEvent

from chatkit_host.config.models import ToolConfig
from chatkit_host.runtime.workflows.graph import Workflow
from chatkit_host.runtime.workflows.run import WorkflowFailed, WorkflowTurn, run_workflow

_PARAMETERS = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "What the workflow should work on."}},
    "required": ["input"],
    "additionalProperties": False,
}


class _WorkflowCall:
    """The tool's invocation: runs the workflow it is bound to."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.workflows: Mapping[str, Workflow] = {}
        self.run_config: Callable[[str], RunConfig] = lambda _thread_id: RunConfig()

    async def __call__(self, ctx: Any, arguments: str) -> str:
        workflow = self.workflows[self.name]  # bound when the runtime was built
        text = str(json.loads(arguments or "{}").get("input", ""))
        caller = ctx.context  # the calling agent's AgentContext: its thread, store and user
        turn = WorkflowTurn(
            thread=caller.thread, store=caller.store, request_context=caller.request_context,
            history=[{"role": "user", "content": text}], user_text=text, run_config=self.run_config(caller.thread.id),
            converter=lambda _agent: ResponseStreamConverter(), record=False,
        )
        shown: list[str] = []
        try:
            async for event in run_workflow(workflow, turn):
                if isinstance(event, ThreadItemDoneEvent) and isinstance(event.item, AssistantMessageItem):
                    shown.append("".join(part.text for part in event.item.content))
        except WorkflowFailed as error:
            return f"The {self.name} workflow could not finish: {error}"
        return "\n".join(shown)


def wire_workflow_tool(agent: Agent, name: str, config: ToolConfig, _agents: Mapping[str, Agent], _: Path) -> None:
    """`workflow: NAME`: the agent gets a tool that runs the workflow (bound later)."""
    agent.tools.append(FunctionTool(
        name=name, description=config.description or f"Run the {config.workflow} workflow.",
        params_json_schema=_PARAMETERS, on_invoke_tool=_WorkflowCall(config.workflow or ""),
    ))


def bind_workflow_tools(agents: Mapping[str, Agent], workflows: Mapping[str, Workflow],
                        run_config: Callable[[str], RunConfig]) -> None:
    """Give every workflow tool the runtime's workflows (looked up when the tool is called) and the
    run settings of a thread (its models and tracing, as the runtime's turns have them)."""
    for agent in agents.values():
        for tool in agent.tools:
            call = getattr(tool, "on_invoke_tool", None)
            if isinstance(call, _WorkflowCall):
                call.workflows, call.run_config = workflows, run_config
