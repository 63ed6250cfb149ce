"""Thread items → model input, with the conversions the SDK leaves to servers.

Server-side tool calls are not thread items in ChatKit, so without help the next turn's model input
forgets them. The server keeps each turn's calls and outputs in one hidden item (`tool_history_item`);
this converter hands them back to the model as the function calls and outputs they were.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agents import TResponseInputItem
from chatkit.agents import ThreadItemConverter
from chatkit.types import HiddenContextItem, UserMessageTagContent
from openai.types.responses import ResponseInputTextParam

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
    """The converter every turn uses; configuration fills its templates."""

    async def hidden_context_to_input(self, item: HiddenContextItem) -> Any:
        content = item.content
        if isinstance(content, dict) and content.get("kind") == TOOL_HISTORY:
            return list(content.get("items", []))
        return await super().hidden_context_to_input(item)

    async def tag_to_message_content(self, tag: UserMessageTagContent) -> Any:
        data = json.dumps(tag.data, ensure_ascii=False, default=str) if tag.data else "{}"
        return ResponseInputTextParam(
            type="input_text", text=f"@{tag.text} refers to entity {tag.id}: {data}"
        )
