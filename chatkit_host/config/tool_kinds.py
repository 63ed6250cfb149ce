"""Every kind of tool chatkit.yaml can declare, one line each: the registry the loader, the checks and
the runtime all read (#14).

A kind is a key of `ToolConfig` (`python: ...`, `http: {...}`, ...). Its entry says which function
builds it (an import string, so the configuration layer names runtime code without importing it,
and a kind's dependencies load with its first tool), and what the rest of the host must know about
it: whether the run stops at it, whether action routes may `call` it, and whether its call and
output are kept in the thread for the next turn's model.

Adding a kind: a field on `ToolConfig`, a module that builds it, and one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EndsRun = Literal["no", "pauses", "client"]
"""`pauses`: the run stops once the tool ran (a form waits for answers); `client`: the run stops once
the call was handed to the browser (an invalid call is retried instead)."""


@dataclass(frozen=True)
class ToolKind:
    """What the host knows about one kind of tool.

    Attributes:
        build: `module:function` taking a `runtime.tool_kinds.ToolSpec` and returning the tool (or
            None when a problem was reported elsewhere). Empty for kinds wired once every agent
            exists (`wire`).
        wire: `module:function` adding the kind to one agent, for kinds that need the other agents
            (agents as tools, MCP servers).
        ends_run: Whether the agent's run stops at the tool.
        actions_may_call: Whether an action route's `call` step may run it.
        keeps_history: Whether its call and output stay in the thread (hidden) for later turns.
        after: `module:function` wrapping the built tool once its history is kept (a form is asked
            after its call is in the thread).
    """

    build: str = ""
    wire: str = ""
    ends_run: EndsRun = "no"
    actions_may_call: bool = False
    keeps_history: bool = False
    after: str = ""


_RUNTIME = "chatkit_host.runtime"

TOOL_KINDS: dict[str, ToolKind] = {
    "python": ToolKind(f"{_RUNTIME}.tools:build_python_tool", actions_may_call=True, keeps_history=True),
    "http": ToolKind(f"{_RUNTIME}.http_tools:build_http_tool", actions_may_call=True, keeps_history=True),
    "client": ToolKind(f"{_RUNTIME}.client_tools:build_client_tool", ends_run="client"),
    "hosted": ToolKind(f"{_RUNTIME}.hosted_tools:build_hosted_tool"),
    "mcp": ToolKind(wire=f"{_RUNTIME}.mcp_tools:wire_mcp_server"),
    "agent": ToolKind(wire=f"{_RUNTIME}.tool_kinds:wire_agent_tool"),
    "widget": ToolKind(f"{_RUNTIME}.ui_tools:build_widget_tool", keeps_history=True),
    "form": ToolKind(f"{_RUNTIME}.forms:build_form_tool", ends_run="pauses", keeps_history=True,
                     after=f"{_RUNTIME}.forms:ask_after"),
    # Bound to its graph once the workflows exist, which need every agent (runtime/workflows/tools.py).
    "workflow": ToolKind(wire=f"{_RUNTIME}.workflows.tools:wire_workflow_tool"),
}
"""Tool kinds by their `ToolConfig` key, in the order error messages list them."""


def action_callable_kinds() -> list[str]:
    """The kinds an action's `call` step may run, for its error message."""
    return [name for name, kind in TOOL_KINDS.items() if kind.actions_may_call]
