"""The `stream` section of chatkit.yaml: how streamed replies reach the client."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StreamConfig(BaseModel):
    """How assistant text is streamed to the client."""

    # The settings of `models.Strict`, repeated: models.py imports this module.
    model_config = ConfigDict(extra="forbid", frozen=True)

    coalesce_ms: float = Field(40, ge=0, le=1000)
    """Text deltas that arrive within this many milliseconds of the first are sent as one event:
    the same text in fewer, larger pieces (less CPU per reply). A message's first delta is always
    sent at once, so its first words are never held; after them no text waits longer than the
    window (at 40 ms, at most 25 pieces a second). `0` sends every model delta as its own event."""
    allow_cancel: bool = True
    """Whether ChatKit.js offers the user a stop button while a reply streams (the SDK's
    `stream_options`). `false` for replies that must not be cut short, e.g. while a tool books
    something; an agent's `allow_cancel` overrides it for the threads it has."""
