"""An agent's turn that a tool approval paused or resumes (`tools.NAME.approval`, #16)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents import Agent, Runner, RunResultStreaming
from chatkit.types import InferenceOptions, ThreadMetadata

from chatkit_host.context import RequestContext
from chatkit_host.runtime.build import Runtime
from chatkit_host.runtime.tool_approvals import PENDING, answered_run
from chatkit_host.runtime.turn_context import TurnContext
from chatkit_host.runtime.usage import USAGE_HOOKS

if TYPE_CHECKING:
    from chatkit_host.protocol.server import HostServer


async def approved_or_new_run(
    server: HostServer, runtime: Runtime, agent: Agent, agent_context: TurnContext, context: RequestContext,
    options: InferenceOptions | None = None,
) -> tuple[Agent, RunResultStreaming]:
    """The run the user's answer to a tool approval resumes (with the agent it started from), or
    the turn's new run of `agent`."""
    thread: ThreadMetadata = agent_context.thread
    if PENDING in thread.metadata:
        page = await server.store.load_thread_items(thread.id, None, 1, "desc", context)
        resumed = await answered_run(thread, page.data[0] if page.data else None, runtime.agents, agent_context)
        if resumed is not None:
            first, state = resumed
            return first, Runner.run_streamed(first, state, run_config=runtime.run_config(thread.id),
                                              hooks=USAGE_HOOKS)
    return agent, await server._start_run(agent, runtime, agent_context, context, options)
