"""Bounds on the lists a client sends, applied before anything is looked up or written (#18).

Each entry of these lists costs the host work: an attachment id is loaded, saved and converted
into the model input on every later turn; a feedback item id is looked up. Repeats add nothing
but that cost, so they are merged; past a bound the request is refused with a 400 instead.
The request body's size (`server.max_body`) bounds everything else a client sends.
"""

from __future__ import annotations

from collections.abc import Callable

from chatkit.types import (
    ChatKitReq,
    ItemsFeedbackReq,
    ItemsListReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsListReq,
)

from chatkit_host.config.files import FilesConfig
from chatkit_host.errors import Refusal

MAX_FEEDBACK_ITEMS = 100
"""Most distinct items one `items.feedback` may rate (ChatKit.js rates one response's items)."""
MAX_CONTENT_PARTS = 256
"""Most text and @-mention parts in one user message; each mention is rendered on every turn."""
MAX_PAGE = 1000
"""Largest `limit` of `threads.list` and `items.list`: one page must not be the whole store."""


def bound(request: ChatKitReq, files: FilesConfig | None) -> None:
    """Merge repeated ids in ``request`` (in place, first occurrence kept) and refuse (400) a
    request whose lists are longer than the host takes."""
    if isinstance(request, (ThreadsCreateReq, ThreadsAddUserMessageReq)):
        message = request.params.input
        message.attachments = _distinct(message.attachments)
        most = (files or FilesConfig()).max_per_message
        _refuse_over(len(message.attachments), most, "too_many_attachments",
                     lambda n: f"a message may carry at most {most} attachments (files.max_per_message); "
                               f"this one has {n}")
        _refuse_over(len(message.content), MAX_CONTENT_PARTS, "too_many_parts",
                     lambda n: f"a message may have at most {MAX_CONTENT_PARTS} content parts; "
                               f"this one has {n}")
    if isinstance(request, (ThreadsListReq, ItemsListReq)):
        limit = request.params.limit
        if limit is not None and not 1 <= limit <= MAX_PAGE:
            raise Refusal(400, "invalid_request", f"limit must be between 1 and {MAX_PAGE}")
    if isinstance(request, ItemsFeedbackReq):
        request.params.item_ids = _distinct(request.params.item_ids)
        _refuse_over(len(request.params.item_ids), MAX_FEEDBACK_ITEMS, "too_many_items",
                     lambda n: f"feedback may name at most {MAX_FEEDBACK_ITEMS} items; this names {n}")


def _distinct(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _refuse_over(count: int, most: int, code: str, message: Callable[[int], str]) -> None:
    if count > most:
        raise Refusal(400, code, message(count))
