"""Attachments: the SDK's `AttachmentStore`, uploads checked against `files`, and owner-only access.

Metadata rows live in the store (scoped per user); bytes live in `FileStorage` under the owner's
folder. Every upload is checked before anything is written: size against `files.max_bytes`, and
the type *sniffed from the bytes* against `files.accept`. A refused upload leaves nothing behind,
not even the metadata of a two-phase `attachments.create`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from chatkit.store import AttachmentStore, NotFoundError
from chatkit.types import (
    ChatKitReq,
    ThreadsDeleteReq,
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    GeneratedImageItem,
    ImageAttachment,
)

from chatkit_host.config.files import FilesConfig
from chatkit_host.config.sizes import Size
from chatkit_host.context import RequestContext
from chatkit_host.errors import Refusal
from chatkit_host.storage.sniff import accepted, sniff, stored_type
from chatkit_host.storage.files import FileStorage, UrlSigner, owner_key
from chatkit_host.storage.store import SQLStore, new_id
from chatkit_host.storage import upload_claims
from chatkit_host.storage.url_keys import signing_key

logger = logging.getLogger("chatkit_host.storage.attachments")

PREVIEWABLE = ("image/png", "image/jpeg", "image/gif", "image/webp")
"""Image types shown with a preview (and sent to models as images)."""


class HostAttachments(AttachmentStore[RequestContext]):
    """Attachment bytes and URLs for one host; shared by every runtime it swaps in."""

    def __init__(self, config: FilesConfig, storage: FileStorage, signer: UrlSigner, store: SQLStore):
        self.config = config
        self.storage = storage
        self.signer = signer
        self.store = store

    @classmethod
    def open(cls, config: FilesConfig, base_dir: Path, store_url: str, store: SQLStore) -> HostAttachments:
        """Raises `ConfigError` for storage that cannot open or a missing `files.secret`."""
        signer = UrlSigner(signing_key(config, store_url, base_dir), config.preview_ttl_seconds)
        return cls(config, FileStorage.open(config, base_dir), signer, store)

    # --- the SDK's AttachmentStore -------------------------------------------------------------

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return new_id("atc")

    async def create_attachment(self, input: AttachmentCreateParams, context: RequestContext) -> Attachment:
        """Two-phase upload, phase one: check what the client announces, answer an upload URL."""
        if self.config.upload != "two_phase":
            raise Refusal(501, "not_supported", "this host takes direct uploads: post the file to "
                          f"{self.config.route} (files.upload is direct)")
        self.check_size(input.size)
        self.check_declared_type(input.mime_type)
        ident = self.generate_attachment_id(input.mime_type, context)
        # The upload URL is a capability for this user and this id: it carries the (signed) owner
        # key, so the bytes land in the right folder without the client resending its token.
        query = self.signer.query("upload", owner_key(context.user_id), ident)
        descriptor = AttachmentUploadDescriptor(
            url=f"{self.base_url(context)}{self.config.route}/{ident}/upload?{query}", method="POST"
        )
        return self._attachment(ident, input.name, input.mime_type, context, descriptor)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        """Remove the bytes (the SDK removes the metadata next). Another user's id: not found."""
        await self.store.load_attachment(attachment_id, context)
        await self.storage.delete(owner_key(context.user_id), attachment_id)

    # --- uploads --------------------------------------------------------------------------------

    async def upload_direct(self, name: str, declared: str, data: bytes, context: RequestContext) -> Attachment:
        """Check and store a directly uploaded file; returns its (saved) attachment."""
        mime_type = self.check_bytes(declared, data)
        ident = self.generate_attachment_id(mime_type, context)
        attachment = self._attachment(ident, name, mime_type, context, None)
        await self._store_bytes_then_metadata(attachment, data, context)
        return attachment

    async def upload_announced(self, ident: str, owner: str, data: bytes, base_url: str) -> Attachment:
        """Two-phase upload, phase two: the bytes for an attachment created with `upload_url`
        (``owner``: the `owner_key` its signed link names). The first upload claims the link.

        A refused upload gives the link back: the announcement stays as it was (a refused request
        changes nothing), and the right bytes may still follow until the link expires.
        """
        announced, user_id = await upload_claims.claim(self.store, ident, owner)
        context = RequestContext(user_id=user_id, base_url=base_url)
        try:
            mime_type = self.check_bytes(announced.mime_type, data)
            if isinstance(announced, ImageAttachment) and mime_type not in PREVIEWABLE:
                # The client shows an announced image by its preview: bytes that are no image
                # must not be stored under that promise.
                raise Refusal(415, "type_mismatch", f"the file's content is {mime_type}, but it was "
                              f"announced as {announced.mime_type}")
        except Refusal:
            await self._release(announced, context)
            raise
        attachment = self._attachment(ident, announced.name, mime_type, context, None)
        try:
            await self._store_bytes_then_metadata(attachment, data, context)
        except Exception:
            await self._release(announced, context)
            raise
        return attachment

    async def _release(self, announced: Attachment, context: RequestContext) -> None:
        """Give a claimed link back after a failed upload, so the client may try it again."""
        try:
            await self.store.save_attachment(announced, context)
        except Exception as error:  # the store is down too: the link stays used, a retry gets 409
            logger.warning("could not release the upload link of %s: %s", announced.id, type(error).__name__)

    async def _store_bytes_then_metadata(self, attachment: Attachment, data: bytes,
                                         context: RequestContext) -> None:
        owner = owner_key(context.user_id)
        await self.storage.write(owner, attachment.id, data)
        try:
            await self.store.save_attachment(attachment, context)
        except Exception:
            # The database failed (an outage): bytes no row points to would never be deleted.
            await self.storage.delete(owner, attachment.id)
            raise

    # --- reading ----------------------------------------------------------------------------------

    async def read(self, attachment_id: str, context: RequestContext) -> tuple[Attachment, bytes]:
        """The user's attachment and its bytes; `NotFoundError` for anyone else's or a missing one."""
        if "\x00" in attachment_id:  # from a URL path; PostgreSQL would refuse the query (#18)
            raise NotFoundError(f"attachment {attachment_id!r} not found")
        attachment = await self.store.load_attachment(attachment_id, context)
        try:
            return attachment, await self.storage.read(owner_key(context.user_id), attachment_id)
        except FileNotFoundError:
            raise NotFoundError(f"attachment {attachment_id} has no uploaded file") from None

    async def delete_files(self, attachment_ids: Iterable[str], context: RequestContext) -> None:
        """Remove the bytes of these attachments of the user's (a thread being deleted)."""
        owner = owner_key(context.user_id)
        for ident in attachment_ids:
            await self.storage.delete(owner, ident)

    # --- URLs -------------------------------------------------------------------------------------

    def base_url(self, context: RequestContext) -> str:
        return (self.config.public_url or context.base_url or "http://localhost").rstrip("/")

    def preview_url(self, ident: str, context: RequestContext) -> str:
        """A signed, expiring URL of the file's bytes, for `<img src>` and model input."""
        query = self.signer.query("preview", owner_key(context.user_id), ident)
        return f"{self.base_url(context)}{self.config.route}/{ident}/preview?{query}"

    def refresh_urls(self, data: Any, context: RequestContext) -> bool:
        """Sign anew the expiring preview URLs in JSON data read from the user's store.

        Returns whether anything changed. URLs are re-signed for the reading user, so a URL
        someone slipped into their own data can never grant another user's file.
        """
        changed = False
        marker = f"{self.config.route}/"
        for holder, key, ident in _preview_urls(data, marker):
            url = holder[key]
            if self.signer.needs_refresh(url):
                holder[key] = self.preview_url(ident, context)
                changed = True
        return changed

    def refresh_json(self, payload: bytes, context: RequestContext) -> bytes:
        if b"/preview?" not in payload:
            return payload
        data = json.loads(payload)
        return json.dumps(data).encode() if self.refresh_urls(data, context) else payload

    # --- checks -----------------------------------------------------------------------------------

    def check_size(self, size: int) -> None:
        if size < 0:
            raise Refusal(400, "invalid_size", f"the file size must be a number of bytes, not {size:,}")
        if size > self.config.max_bytes:
            raise Refusal(
                413, "too_large",
                f"the file is {size:,} bytes; the largest accepted is {_described(self.config.max_bytes)}",
            )
        if size == 0:
            raise Refusal(400, "empty_file", "the file is empty")

    def check_declared_type(self, mime_type: str) -> None:
        if not accepted(mime_type, self.config.accept):
            raise Refusal(
                415, "type_not_accepted",
                f"files of type {mime_type or 'unknown'} are not accepted; accepted: "
                + ", ".join(self.config.accept),
            )

    def check_bytes(self, declared: str, data: bytes) -> str:
        """The type to store the file as, or `Refusal`."""
        self.check_size(len(data))
        sniffed = sniff(data[:4096])
        if sniffed.executable:
            raise Refusal(
                415, "executable_refused",
                f"the file is {sniffed.executable}, whatever its name or declared type says",
            )
        mime_type = stored_type(declared, sniffed)
        if not accepted(mime_type, self.config.accept):
            claimed = f" (declared as {declared})" if declared and declared != mime_type else ""
            raise Refusal(
                415, "type_not_accepted",
                f"the file's content is {mime_type}{claimed}, which is not accepted; accepted: "
                + ", ".join(self.config.accept),
            )
        return mime_type

    def _attachment(
        self, ident: str, name: str, mime_type: str, context: RequestContext,
        descriptor: AttachmentUploadDescriptor | None,
    ) -> Attachment:
        name = _clean_name(name)
        if mime_type in PREVIEWABLE:
            return ImageAttachment(
                id=ident, name=name, mime_type=mime_type, upload_descriptor=descriptor,
                preview_url=self.preview_url(ident, context),
            )
        return FileAttachment(id=ident, name=name, mime_type=mime_type, upload_descriptor=descriptor)


def _preview_urls(data: Any, marker: str) -> Iterable[tuple[dict[str, Any], str, str]]:
    """(holder, key, id) of the host's own preview URLs in `data`: an image attachment's
    `preview_url` and a generated image's `image.url`, wherever such objects appear.

    Only those fields: text a user typed (or a tool returned) that contains a link of the same
    shape is theirs, and is never rewritten (#18).
    """
    if isinstance(data, dict):
        kind = data.get("type")
        if kind == "image" and _ours(data.get("preview_url"), marker):
            yield data, "preview_url", _ident(data["preview_url"], marker)
        image = data.get("image")
        if kind == "generated_image" and isinstance(image, dict) and _ours(image.get("url"), marker):
            yield image, "url", _ident(image["url"], marker)
        for value in data.values():
            if isinstance(value, (dict, list)):
                yield from _preview_urls(value, marker)
    elif isinstance(data, list):
        for value in data:
            yield from _preview_urls(value, marker)


def _ours(url: Any, marker: str) -> bool:
    return isinstance(url, str) and url.startswith(("http://", "https://")) and marker in url \
        and "/preview?" in url


def _ident(url: str, marker: str) -> str:
    return url.split(marker, 1)[1].split("/", 1)[0]


def _clean_name(name: str) -> str:
    # Display only (never a path), but keep it printable and short.
    cleaned = "".join(ch for ch in name if ch.isprintable()).strip()
    return (cleaned or "file")[:255]


def _described(limit: int) -> str:
    # As configured ("1MB"): converting it into other units is what made 1MB read "976.6 KB" (#18).
    return limit.describe() if isinstance(limit, Size) else f"{limit:,} bytes"


async def process_with_files(
    files: HostAttachments, store: SQLStore, request: ChatKitReq, context: RequestContext,
    process: Callable[[], Awaitable[Any]],
) -> Any:
    """Run one ChatKit request (`process`) with what attachments add around it.

    Deleting a thread deletes its attachments' bytes too (the store only holds their metadata);
    JSON answers and streamed events get expired preview URLs signed anew.
    """
    from chatkit.server import NonStreamingResult, StreamingResult

    doomed: list[str] = []
    if isinstance(request, ThreadsDeleteReq):
        thread_id = request.params.thread_id
        try:
            doomed = await store.thread_attachment_ids(thread_id, context)
            doomed += await _generated_image_ids(files, store, thread_id, context)
        except NotFoundError:
            pass  # the request itself answers not found
    result = await process()
    if doomed:
        await files.delete_files(doomed, context)
    if isinstance(result, NonStreamingResult):
        return NonStreamingResult(files.refresh_json(result.json, context))
    if isinstance(result, StreamingResult):
        return StreamingResult(_refreshed(result, files, context))
    return result


async def _generated_image_ids(files: HostAttachments, store: SQLStore, thread_id: str,
                               context: RequestContext) -> list[str]:
    """Files of the thread's generated images: no attachment row points to them, only their URLs."""
    marker, ids, after = f"{files.config.route}/", [], None
    while True:
        page = await store.load_thread_items(thread_id, after, 100, "asc", context)
        for item in page.data:
            url = item.image.url if isinstance(item, GeneratedImageItem) and item.image else ""
            if marker in url:
                ids.append(url.split(marker, 1)[1].split("/", 1)[0])
        if not page.has_more or not page.data:
            return ids
        after = page.data[-1].id


async def _refreshed(stream: AsyncIterable[bytes], files: HostAttachments,
                     context: RequestContext) -> AsyncGenerator[bytes, None]:
    async for chunk in stream:
        if b"/preview?" in chunk and chunk.startswith(b"data: "):
            body = chunk[6:].rstrip(b"\n")
            chunk = b"data: " + files.refresh_json(body, context) + b"\n\n"
        yield chunk
