"""Configuration problems and how they are shown to a person.

Every problem names where it is (file, line, column, key), what is wrong and, when we know it, how to
fix it. Problems are collected and raised together so a user fixes a whole config in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the configuration.

    Attributes:
        message: What is wrong, as a sentence fragment ("required", "unknown agent 'bilin'").
        file: The file the problem is in, when there is one.
        line: 1-based line in ``file``.
        column: 1-based column in ``file``.
        key: Dotted path of the offending key (``agents.triage.model``).
        hint: How to fix it ("did you mean 'billing'?").
    """

    message: str
    file: Path | None = None
    line: int | None = None
    column: int | None = None
    key: str | None = None
    hint: str | None = None

    def render(self, relative_to: Path | None = None) -> str:
        """One line: ``chatkit.yaml:4:5: agents.triage.model: required (hint: …)``."""
        where = ""
        if self.file is not None:
            where = _display_path(self.file, relative_to)
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        key = f"{self.key}: " if self.key else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}{key}{self.message}{hint}"


class ConfigError(Exception):
    """One or more configuration problems; the host never starts with any."""

    def __init__(self, problems: Iterable[ConfigProblem] | ConfigProblem):
        if isinstance(problems, ConfigProblem):
            problems = [problems]
        self.problems: list[ConfigProblem] = list(problems)
        super().__init__(self.render())

    def render(self, relative_to: Path | None = None) -> str:
        return "\n".join(problem.render(relative_to) for problem in self.problems)


def _display_path(path: Path, relative_to: Path | None) -> str:
    if relative_to is not None:
        try:
            return str(path.resolve().relative_to(relative_to.resolve()))
        except ValueError:
            pass
    return str(path)


class Refusal(Exception):
    """A request answered with ``status`` and ``{"error": {"code", "message"}}``; nothing was changed.

    Raised from any layer (preflight, turn locks, uploads, action routes); the web app answers it
    in one place, so every refusal has the same shape on the wire.

    Attributes:
        status: The HTTP status (4xx, or 5xx for a failure the client may show).
        code: A stable, machine-readable reason (``not_found``, ``thread_busy``).
        message: A sentence safe to show the caller: never a secret, a path or a traceback.
        headers: Extra response headers (``WWW-Authenticate``, ``Retry-After``).
    """

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
