"""A workflow called by an agent as a tool (`tools.NAME.workflow`).

The workflow runs inside the calling agent's turn on the text the agent passes, as if a user had
written it: its agents see only that text, its progress and replies stay out of the thread, and what
it would have shown the user (replies of shown agents, end messages) is the tool's output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agents import Agent, FunctionTool, RunConfig
from chatkit.agents import ResponseStreamConverter
from chatkit.types import AssistantMessageItem, ThreadItemDoneEvent

from chatkit_host.config.models import ChatKitConfig
from chatkit_host.runtime.workflows.graph import Workflow
from chatkit_host.runtime.workflows.run import WorkflowFailed, WorkflowTurn, run_workflow

_PARAMETERS = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "What the workflow should work on."}},
    "required": ["input"],
    "additionalProperties": False,
}


def wire_workflow_tools(agents: Mapping[str, Agent], config: ChatKitConfig, workflows: Mapping[str, Workflow],
                        run_config: RunConfig) -> None:
    """Give each agent the workflow tools it lists."""
    for agent_name, spec in config.agents.items():
        for tool_name in spec.tools:
            tool = config.tools.get(tool_name)
            if tool is not None and tool.workflow in workflows and agent_name in agents:
                workflow = workflows[tool.workflow]
                description = tool.description or workflow.config.description or f"Run the {workflow.name} workflow."
                agents[agent_name].tools.append(workflow_tool(tool_name, workflow, description, run_config))


def workflow_tool(name: str, workflow: Workflow, description: str, run_config: RunConfig) -> FunctionTool:
    async def invoke(ctx: Any, arguments: str) -> str:
        text = str(json.loads(arguments or "{}").get("input", ""))
        caller = ctx.context  # the calling agent's AgentContext: its thread, store and user
        turn = WorkflowTurn(
            thread=caller.thread, store=caller.store, request_context=caller.request_context,
            history=[{"role": "user", "content": text}], user_text=text, run_config=run_config,
            converter=lambda _agent: ResponseStreamConverter(), record=False,
        )
        shown: list[str] = []
        try:
            async for event in run_workflow(workflow, turn):
                if isinstance(event, ThreadItemDoneEvent) and isinstance(event.item, AssistantMessageItem):
                    shown.append("".join(part.text for part in event.item.content))
        except WorkflowFailed as error:
            return f"The {workflow.name} workflow could not finish: {error}"
        return "\n".join(shown)

    return FunctionTool(name=name, description=description, params_json_schema=_PARAMETERS,
                        on_invoke_tool=invoke)
