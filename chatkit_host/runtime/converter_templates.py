"""The templates of `converters` (@-mention tags by entity type, hidden context), compiled once.

Tag data comes from the client, so templates render in a sandboxed jinja2 environment; a template
that fails at render time falls back to the default wording rather than failing the turn.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from chatkit.types import UserMessageTagContent
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from chatkit_host.config.files import ConvertersConfig

logger = logging.getLogger("chatkit_host.converters")


class ConverterTemplates:
    """Renders the tag and hidden-context templates of one configuration."""

    def __init__(self, config: ConvertersConfig):
        environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self._tags = {kind: environment.from_string(text) for kind, text in config.tags.items()}
        self._hidden = (
            environment.from_string(config.hidden_context) if config.hidden_context else None
        )

    def tag(self, tag: UserMessageTagContent, turn: Mapping[str, Any] | None = None) -> str | None:
        """The tag's text for the model, or None when no template applies. ``turn``: what else the
        template sees (`state`, `request`, `user`, `vars`)."""
        kind = tag.data.get("type") if isinstance(tag.data, dict) else None
        template = self._tags.get(str(kind)) if kind is not None else None
        template = template or self._tags.get("default")
        if template is None:
            return None
        values = {"id": tag.id, "text": tag.text, "data": tag.data, "group": tag.group}
        return _render(template, {**(turn or {}), "tag": values}, f"converters.tags.{kind or 'default'}")

    def hidden_context(self, content: Any, turn: Mapping[str, Any] | None = None) -> str | None:
        if self._hidden is None or not isinstance(content, str):
            return None
        return _render(self._hidden, {**(turn or {}), "content": content}, "converters.hidden_context")


def _render(template: Any, values: dict[str, Any], where: str) -> str | None:
    try:
        return str(template.render(values))
    except TemplateError as error:
        logger.warning("%s could not render (%s); using the default wording", where, error)
        return None
