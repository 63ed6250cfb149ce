"""Attachments → model input, as `converters.attachments` says, cached by attachment id.

Every turn sends the whole (bounded) history again, attachments included. Reading and encoding each
file every turn would cost a storage round trip per file per turn, so converted parts are kept in
an in-process LRU keyed by attachment id (a cache, not state: a replica without it reads storage).
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from html import escape
from typing import Any

from chatkit.store import NotFoundError
from chatkit.types import Attachment, ThreadItem, UserMessageItem

from chatkit_host.config.files import AttachmentConversion
from chatkit_host.context import RequestContext
from chatkit_host.storage.sniff import sniff
from chatkit_host.storage.attachments import PREVIEWABLE, HostAttachments
from chatkit_host.storage.files import owner_key

Part = dict[str, Any]


class ConvertedCache:
    """Least-recently-used model content parts, bounded by their total size in characters."""

    def __init__(self, max_chars: int = 64 * 1024 * 1024):
        self.max_chars = max_chars
        self._parts: OrderedDict[tuple[str, str], tuple[Part, int]] = OrderedDict()
        self._size = 0

    def get(self, key: tuple[str, str]) -> Part | None:
        found = self._parts.get(key)
        if found is None:
            return None
        self._parts.move_to_end(key)
        return found[0]

    def put(self, key: tuple[str, str], part: Part) -> None:
        size = part_size(part)
        if size > self.max_chars:
            return
        if key in self._parts:
            self._size -= self._parts.pop(key)[1]
        self._parts[key] = (part, size)
        self._size += size
        while self._size > self.max_chars:
            _, (_, dropped) = self._parts.popitem(last=False)
            self._size -= dropped


class AttachmentSource:
    """The host's attachment files as model input; one per server, shared by its runtimes."""

    def __init__(self, files: HostAttachments | None, cache: ConvertedCache | None = None):
        self.files = files
        self.cache = cache or ConvertedCache()

    async def content(
        self, attachment: Attachment, conversion: AttachmentConversion, context: RequestContext
    ) -> Part:
        """One content part for `attachment`, as `conversion` says."""
        kind, mode = _kind_and_mode(attachment.mime_type, conversion)
        if mode == "none" or self.files is None:
            return note(attachment, "not shown to the model")
        if kind == "image" and mode == "url":
            url = self.files.preview_url(attachment.id, context)
            return {"type": "input_image", "detail": "auto", "image_url": url}
        key = (attachment.id, f"{kind}:{mode}:{conversion.text_max_chars}")
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        try:
            _, data = await self.files.read(attachment.id, context)
        except NotFoundError:
            return note(attachment, "no longer available")
        part = _convert(kind, attachment, data, conversion)
        self.cache.put(key, part)
        return part

    async def image_data_url(self, url: str, context: RequestContext) -> str | None:
        """A data URL of one of our own (signed) image URLs, for model input; None if not ours."""
        if self.files is None or self.files.config.route + "/" not in url:
            return None
        ident = url.split(self.files.config.route + "/", 1)[1].split("/", 1)[0]
        key = (ident, "generated")
        cached = self.cache.get(key)
        if cached is not None:
            return cached["image_url"]
        try:
            data = await self.files.storage.read(owner_key(context.user_id), ident)
        except FileNotFoundError:
            return None
        part = {"image_url": _data_url(sniff(data[:64]).mime_type, data)}
        self.cache.put(key, part)
        return part["image_url"]


class TurnAttachments:
    """The attachment parts of one turn's model input, within `max_bytes_per_turn` (#18).

    Planned newest message first, so what the user just sent is what fits. An attachment named
    more than once is sent once, at its newest mention; each other mention, and each attachment
    over the budget, is a line naming the file: the model is told, never left guessing.
    """

    def __init__(self, parts: dict[str, Part], mentions: dict[str, int]):
        self._parts = parts
        self._mentions = mentions

    @classmethod
    async def plan(
        cls, items: list[ThreadItem], source: AttachmentSource, conversion: AttachmentConversion,
        context: RequestContext,
    ) -> TurnAttachments:
        budget: int = conversion.max_bytes_per_turn
        parts: dict[str, Part] = {}
        mentions: dict[str, int] = {}
        for item in reversed(items):
            for attachment in item.attachments if isinstance(item, UserMessageItem) else ():
                mentions[attachment.id] = mentions.get(attachment.id, 0) + 1
                if attachment.id in parts:
                    continue
                part = await source.content(attachment, conversion, context)
                if part_size(part) > budget:
                    part = note(attachment, "left out: the conversation's attachments are over the "
                                            "size sent to the model")
                else:
                    budget -= part_size(part)
                parts[attachment.id] = part
        return cls(parts, mentions)

    def part(self, attachment: Attachment) -> Part:
        """The part for this mention of ``attachment``; mentions come oldest first."""
        left = self._mentions.get(attachment.id, 0) - 1
        self._mentions[attachment.id] = left
        if left > 0 or attachment.id not in self._parts:
            return note(attachment, "it is shown again later in the conversation")
        return self._parts[attachment.id]


def part_size(part: Part) -> int:
    """What a content part adds to the model input, in characters of its text fields."""
    return sum(len(value) for value in part.values() if isinstance(value, str))


def _kind_and_mode(mime_type: str, conversion: AttachmentConversion) -> tuple[str, str]:
    if mime_type in PREVIEWABLE:
        return "image", conversion.images
    if mime_type == "application/pdf":
        return "pdf", conversion.pdf
    if mime_type.startswith("text/") or mime_type in ("application/json", "application/xml"):
        return "text", conversion.text
    return "other", "none"


def _convert(kind: str, attachment: Attachment, data: bytes, conversion: AttachmentConversion) -> Part:
    if kind == "image":
        return {"type": "input_image", "detail": "auto",
                "image_url": _data_url(attachment.mime_type, data)}
    if kind == "pdf":
        return {"type": "input_file", "filename": attachment.name,
                "file_data": _data_url("application/pdf", data)}
    text = data.decode("utf-8", errors="replace")
    cut = len(text) > conversion.text_max_chars
    text = text[: conversion.text_max_chars] + ("\n[… cut]" if cut else "")
    name, mime = escape(attachment.name, quote=True), escape(attachment.mime_type, quote=True)
    return {"type": "input_text", "text": f'<file name="{name}" type="{mime}">\n{text}\n</file>'}


def note(attachment: Attachment, why: str) -> Part:
    """A line naming the file, in place of its content."""
    return {"type": "input_text",
            "text": f"[The user attached {attachment.name} ({attachment.mime_type}); {why}.]"}


def _data_url(mime_type: str, data: bytes) -> str:
    return f"data:{mime_type};base64,{base64.b64encode(data).decode()}"
