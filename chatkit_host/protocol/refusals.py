"""The one way a request is refused before its response starts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RequestRefused(Exception):
    """A request answered with ``status`` and a JSON error body; nothing was changed."""

    status: int
    code: str
    message: str

    def body(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message}}
