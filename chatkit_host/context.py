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
    """

    user_id: str
    claims: dict[str, Any] = field(default_factory=dict)
