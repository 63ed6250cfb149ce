"""Workflows at run time: the `workflows` section built into graphs (`graph`), run turn by turn
(`run`), with their progress shown as ChatKit workflow items (`progress`), or called by an agent
as a tool (`tools`)."""

from chatkit_host.runtime.workflows.graph import Workflow, build_workflows
from chatkit_host.runtime.workflows.run import WorkflowFailed, WorkflowTurn, run_workflow
from chatkit_host.runtime.workflows.tools import bind_workflow_tools

__all__ = ["Workflow", "WorkflowFailed", "WorkflowTurn", "bind_workflow_tools", "build_workflows", "run_workflow"]
