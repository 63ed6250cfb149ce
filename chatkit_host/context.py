"""The per-request context every store, tool and template sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RequestContext:
    """Who is asking. Every store and file operation is scoped to ``user_id``.

    Attributes:
        user_id: The authenticated user; never empty.
        claims: Extra facts from authentication, passed to templates and tools.
        base_url: The URL the client reached this host at (`https://host[:port]`), for links the
            host hands out (upload and preview URLs); None outside a request.
        headers: The request headers chatkit.yaml declares (`request.headers`), by lower-case
            name; client data, seen by templates and tools as values only.
        tool_choice: The composer tool the message was sent with (`inference_options`), if any.
        model: The composer model the message was sent with, if any.
    """

    user_id: str
    claims: dict[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    tool_choice: str | None = None
    model: str | None = None
