"""A tool's `sources`: citations shown on the assistant message that follows the tool's result.

Pure models. Each value is a template over `arguments`, `result`, `state` and `request` (and `item`,
the element of `each`); the kinds are ChatKit's sources: a URL, an entity or a file.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator

_KINDS = ("url", "entity", "file")


class SourceSpec(BaseModel):
    """Where the assistant's answer comes from, as ChatKit shows it (an annotation on the message)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    each: str | None = None
    """One `{{ expression }}` giving a list (e.g. `{{ result.articles }}`): one source per element,
    seen by the other templates as `item`. Omit for one source per call."""
    title: str
    """The source's title, e.g. `{{ item.headline }}`."""
    url: str | None = None
    """A web page: its URL. Give exactly one of `url`, `entity` and `file`."""
    entity: str | None = None
    """An entity (as @-mentions and `entities` know them): its id."""
    file: str | None = None
    """A file: its name."""
    description: str | None = None
    """A line under the title."""

    @model_validator(mode="after")
    def _one_kind(self) -> SourceSpec:
        given = [kind for kind in _KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError(f"a source has exactly one of url, entity, file (got {', '.join(given) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in _KINDS if getattr(self, kind) is not None)
