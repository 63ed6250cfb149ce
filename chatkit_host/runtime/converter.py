"""Thread items → model input, with the conversions the SDK leaves to servers.

Server-side tool calls are not thread items in ChatKit, so without help the next turn's model input
forgets them. The server keeps each turn's calls and outputs in one hidden item (`tool_history_item`);
this converter hands them back to the model as the function calls and outputs they were.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from agents import TResponseInputItem
from chatkit.agents import ThreadItemConverter
from chatkit.types import (
    Attachment,
    GeneratedImageItem,
    HiddenContextItem,
    ThreadItem,
    UserMessageTagContent,
)
from openai.types.responses import ResponseInputTextParam

from chatkit_host.config.files import ConvertersConfig
from chatkit_host.context import RequestContext
from chatkit_host.runtime.attachments import AttachmentSource, TurnAttachments
from chatkit_host.runtime.converter_templates import ConverterTemplates

TOOL_HISTORY = "chatkit_host.tool_history"


def tool_history_item(
    item_id: str, thread_id: str, input_items: Sequence[TResponseInputItem]
) -> HiddenContextItem:
    """A hidden item holding one turn's server-side function calls and their outputs."""
    return HiddenContextItem(
        id=item_id,
        thread_id=thread_id,
        created_at=datetime.now(),
        content={"kind": TOOL_HISTORY, "items": [dict(item) for item in input_items]},
    )


class HostConverter(ThreadItemConverter):
    """The converter every turn uses; `converters` in chatkit.yaml fills its templates.

    Built once per runtime; `for_request` binds it to the host's attachment files and the user.
    """

    def __init__(
        self, config: ConvertersConfig | None = None, source: AttachmentSource | None = None,
        context: RequestContext | None = None,
    ):
        self.config = config or ConvertersConfig()
        self.templates = ConverterTemplates(self.config)
        self.source, self.context = source, context
        self.parts: TurnAttachments | None = None
        self.turn: dict[str, Any] = {}
        """What the `converters` templates see beside their own values (`state`, `request`, …)."""

    def for_request(self, source: AttachmentSource, context: RequestContext,
                    turn: Mapping[str, Any] | None = None) -> HostConverter:
        """This converter, reading attachments from `source` as the user of `context`; its
        templates see ``turn`` (the thread's state as it is now, the request, the user, vars)."""
        bound = copy.copy(self)
        bound.source, bound.context, bound.turn = source, context, dict(turn or {})
        return bound

    async def to_agent_input(
        self, thread_items: Sequence[ThreadItem] | ThreadItem
    ) -> list[TResponseInputItem]:
        items = list(thread_items) if isinstance(thread_items, Sequence) else [thread_items]
        if self.source is None or self.context is None:
            return await super().to_agent_input(items)
        # One conversion, one budget: a copy holds this call's attachment parts.
        bound = copy.copy(self)
        bound.parts = await TurnAttachments.plan(items, self.source, self.config.attachments, self.context)
        return await super(HostConverter, bound).to_agent_input(items)

    async def attachment_to_message_content(self, attachment: Attachment) -> Any:
        if self.parts is not None:
            return self.parts.part(attachment)
        if self.source is None or self.context is None:
            return await super().attachment_to_message_content(attachment)
        return await self.source.content(attachment, self.config.attachments, self.context)

    async def generated_image_to_input(self, item: GeneratedImageItem) -> Any:
        # Our image URLs are signed and may be private: the model gets the bytes instead.
        if item.image is not None and self.source is not None and self.context is not None:
            data_url = await self.source.image_data_url(item.image.url, self.context)
            if data_url is not None:
                item = item.model_copy(update={"image": item.image.model_copy(update={"url": data_url})})
        return await super().generated_image_to_input(item)

    async def hidden_context_to_input(self, item: HiddenContextItem) -> Any:
        content = item.content
        if isinstance(content, dict) and content.get("kind") == TOOL_HISTORY:
            return list(content.get("items", []))
        text = self.templates.hidden_context(content, self.turn)
        if text is not None:
            return {"type": "message", "role": "user",
                    "content": [ResponseInputTextParam(type="input_text", text=text)]}
        return await super().hidden_context_to_input(item)

    async def tag_to_message_content(self, tag: UserMessageTagContent) -> Any:
        text = self.templates.tag(tag, self.turn)
        if text is None:
            data = json.dumps(tag.data, ensure_ascii=False, default=str) if tag.data else "{}"
            text = f"@{tag.text} refers to entity {tag.id}: {data}"
        return ResponseInputTextParam(type="input_text", text=text)
