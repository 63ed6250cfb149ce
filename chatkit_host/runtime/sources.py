"""Sources tools cite, shown as annotations on the assistant message that follows (#15).

A tool's `sources:` (or a python tool's `run.add_source`) leaves sources on the turn's context; the
next assistant message to finish takes them: each is streamed as an `annotation_added` update, then
the message is saved with them, so a reload of the thread shows them too.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from chatkit.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageContentPartAnnotationAdded,
    AssistantMessageItem,
    EntitySource,
    FileSource,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    URLSource,
)

from chatkit_host.config.sources import SourceSpec

logger = logging.getLogger("chatkit_host.tools")

Source = URLSource | EntitySource | FileSource


def make_source(title: str, url: str | None = None, entity: str | None = None, file: str | None = None,
                description: str | None = None) -> Source:
    """A ChatKit source of exactly one kind; raises `ValueError` otherwise."""
    given = [value for value in (url, entity, file) if value is not None]
    if len(given) != 1:
        raise ValueError("a source has exactly one of url, entity, file")
    if not str(title).strip():
        raise ValueError("a source needs a title")
    common = {"title": str(title), "description": None if description is None else str(description)}
    if url is not None:
        return URLSource(url=str(url), **common)
    if entity is not None:
        return EntitySource(id=str(entity), **common)
    return FileSource(filename=str(file), **common)


def rendered_sources(spec: SourceSpec, variables: Mapping[str, Any]) -> list[Source]:
    """The sources `spec` gives for one call. Raises `jinja2.TemplateError` or `ValueError`."""
    from chatkit_host.runtime.actions import render_value  # actions import tools: import late

    items: list[Any] = [None]
    if spec.each is not None:
        each = render_value(spec.each, variables)
        if not isinstance(each, list):
            raise ValueError(f"`each` gave {type(each).__name__}, not a list")
        items = each
    sources = []
    for item in items:
        values = {**variables, "item": item}
        fields = {key: render_value(getattr(spec, key), values) for key in ("title", "description", spec.kind)
                  if getattr(spec, key) is not None}
        sources.append(make_source(**fields))
    return sources


async def with_annotations(events: AsyncIterator[ThreadStreamEvent], context: Any) -> AsyncIterator[ThreadStreamEvent]:
    """``events``, the first assistant message to finish after a tool cited sources carrying them."""
    async for event in events:
        if (isinstance(event, ThreadItemDoneEvent) and isinstance(event.item, AssistantMessageItem)
                and getattr(context, "sources", None)):
            item = event.item
            content = list(item.content) or [AssistantMessageContent(text="")]
            last = content[-1]
            added = [Annotation(source=source) for source in context.take_sources()]
            for offset, annotation in enumerate(added):
                yield ThreadItemUpdatedEvent(item_id=item.id, update=AssistantMessageContentPartAnnotationAdded(
                    content_index=len(content) - 1, annotation_index=len(last.annotations) + offset,
                    annotation=annotation))
            content[-1] = last.model_copy(update={"annotations": [*last.annotations, *added]})
            event = ThreadItemDoneEvent(item=item.model_copy(update={"content": content}))
        yield event
    left = getattr(context, "sources", None)
    if left:
        logger.warning("%d cited source(s) not shown: no assistant message followed the tool", len(left))
        context.take_sources()
