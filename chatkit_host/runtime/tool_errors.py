"""What the model and the log are told when a python tool raises.

The model reads the exception's message as the tool's output (`error: …`), so it can correct
itself or tell the user (#15). The log gets one warning line with the tool and the exception, the
traceback only at debug: a tool that raises is the tool's news, not the server's error (#18 items
14, 15). The SDK's own default told the model "An error occurred while running the tool" and
logged nothing unless tool data logging was on.
"""

from __future__ import annotations

import logging
from typing import Any

from agents.tool import ToolErrorFunction

from chatkit_host.observability.log_format import FIELDS

logger = logging.getLogger("chatkit_host.tools")

FAILED = "_chatkit_host_tool_failed"
"""Set on the tool context when the tool raised; `usage` counts the call as an error (the SDK
marks the context only for its own default failure function)."""


def report_failure(name: str) -> ToolErrorFunction:
    """The `failure_error_function` of the python tool ``name``."""

    def reported(ctx: Any, error: Exception) -> str:
        setattr(ctx, FAILED, True)
        message = str(error) or type(error).__name__
        agent_context = getattr(ctx, "context", None)
        # An action's `call` step fails on it.
        if agent_context is not None and hasattr(agent_context, "failed_tool"):
            agent_context.failed_tool = message
        thread = getattr(getattr(agent_context, "thread", None), "id", None)
        fields = {"tool": name, "error": f"{type(error).__name__}: {error}", "thread": thread}
        logger.warning("tool failed", exc_info=error if logger.isEnabledFor(logging.DEBUG) else None,
                       extra={FIELDS: {k: v for k, v in fields.items() if v}})
        return f"error: {message}"

    return reported
