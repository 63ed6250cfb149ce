"""Agent instructions as jinja2 templates, rendered per request.

Templates are trusted (they come from the project's files) but the values they see are not (user ids,
thread titles), so rendering happens in a sandbox all the same: a title can never become template code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from chatkit_host.runtime.state import StateView

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


class Claims(dict[str, Any]):
    """`{{ user.claims.NAME }}`: a claim this user's token does not carry renders empty.

    Claims differ from user to user (and are absent at build-time validation), so a missing one
    must not fail the turn the way an undefined variable does.
    """

    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class UserView:
    """`{{ user }}` in a template: prints the user id; `{{ user.claims.NAME }}` for auth claims."""

    id: str
    claims: Mapping[str, Any] = field(default_factory=Claims)

    def __str__(self) -> str:
        return self.id


class HeaderView(dict[str, str]):
    """`{{ request.headers['x-article-id'] }}` (or `request.headers.x_article_id`): a declared header
    the client did not send renders empty, as a claim does."""

    def __missing__(self, key: str) -> str:
        name = key.lower().replace("_", "-")
        return self[name] if name != key and name in self else ""


@dataclass(frozen=True)
class RequestView:
    """`{{ request }}` in a template: what the client sent beside its message.

    Attributes:
        headers: The declared request headers (`request.headers` in chatkit.yaml).
        tool_choice: The id of the composer tool the message was sent with, or None.
        model: The id of the composer model the message was sent with, or None.
    """

    headers: HeaderView = field(default_factory=HeaderView)
    tool_choice: str | None = None
    model: str | None = None


def request_view(request_context: Any) -> RequestView:
    """`{{ request }}` for a request context (empty for one without headers)."""
    return RequestView(HeaderView(getattr(request_context, "headers", None) or {}),
                       getattr(request_context, "tool_choice", None), getattr(request_context, "model", None))


@dataclass(frozen=True)
class ThreadView:
    """`{{ thread.id }}`, `{{ thread.title }}` in a template."""

    id: str
    title: str | None = None
    created_at: datetime | None = None

    def __str__(self) -> str:
        return self.id


def compile_instructions(source: str, variables: Mapping[str, Any],
                         sample_state: Mapping[str, Any] | None = None) -> Callable[..., str]:
    """Compile a template into the Agents SDK's dynamic-instructions callable.

    Raises `TemplateError` at build time when the template cannot render with sample values (a syntax
    error, an undefined variable), so a bad prompt is a configuration error, not a failed turn.
    """
    template = compile_template(source, variables, sample_state)

    def render(run_context: Any, agent: Any) -> str:
        return render_with_turn(template, run_context.context, variables)

    return render


def compile_template(source: str, variables: Mapping[str, Any],
                     sample_state: Mapping[str, Any] | None = None) -> Any:
    """A template that sees what instructions see; raises `TemplateError` when it cannot render
    with sample values."""
    template = _ENV.from_string(source)
    template.render(_values(UserView("validate"), ThreadView("thr_validate"), variables, sample_state,
                            RequestView()))
    return template


def render_with_turn(template: Any, agent_context: Any, variables: Mapping[str, Any],
                     **extra: Any) -> str:
    """`template` rendered with what instructions see in this turn (user, thread, now, vars, state)."""
    return str(template.render({**turn_values(agent_context, variables), **extra}))


def turn_values(agent_context: Any, variables: Mapping[str, Any]) -> dict[str, Any]:
    """What a template sees in this turn: user, thread, now, vars, state and request."""
    request, thread = agent_context.request_context, agent_context.thread
    return _values(UserView(request.user_id, Claims(request.claims)),
                   ThreadView(thread.id, thread.title, thread.created_at), variables,
                   agent_context.state_view() if hasattr(agent_context, "state_view") else None,
                   request_view(request))


def _values(user: UserView, thread: ThreadView, variables: Mapping[str, Any],
            state: Mapping[str, Any] | None = None, request: RequestView | None = None) -> dict[str, Any]:
    return {"user": user, "thread": thread, "now": datetime.now(timezone.utc), "vars": dict(variables),
            "state": StateView(state or {}), "request": request or RequestView()}


__all__ = ["RequestView", "TemplateError", "ThreadView", "UserView", "request_view", "turn_values", "compile_instructions", "compile_template", "render_with_turn"]
