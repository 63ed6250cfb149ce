"""The agent context of a turn or action: the SDK's `AgentContext` plus what the host adds.

Tools get it as their run context (`ctx.context`); the public tool API (`chatkit_host.tools`) wraps
it so python tools never need the SDK's types.
"""

from __future__ import annotations

from typing import Annotated, Any

from chatkit.agents import AgentContext
from chatkit.types import WidgetItem
from pydantic import SkipValidation

from chatkit_host.runtime.state import StateView, ThreadState


class TurnContext(AgentContext[Any]):
    """`AgentContext` with the thread's state and the widget that sent an action.

    Attributes:
        state: The thread's state (None when chatkit.yaml declares no `state`).
        sender: The widget item whose action is running (None in a turn).
    """

    state: Annotated[ThreadState | None, SkipValidation] = None
    sender: Annotated[WidgetItem | None, SkipValidation] = None
    failed_tool: str | None = None
    """The message of the last python tool that raised (an action's `call` step fails on it)."""
    sources: Annotated[list[Any], SkipValidation] = []
    """Sources tools cited (ChatKit `URLSource`/`EntitySource`/`FileSource`), waiting for the next
    assistant message to carry them as annotations."""

    def take_sources(self) -> list[Any]:
        """The sources waiting for a message, now that one takes them."""
        taken, self.sources = self.sources, []
        return taken

    def state_view(self) -> StateView:
        """`{{ state }}` for templates: the current state, or empty."""
        return self.state.view() if self.state is not None else StateView()
