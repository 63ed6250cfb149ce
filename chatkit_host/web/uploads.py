"""HTTP routes for attachment bytes: direct upload, two-phase upload, download and signed previews.

Under `files.route` (default `/files`):

- `POST /files` (bearer auth as for ChatKit): a direct upload, multipart field `file` (anything
  else: 415); answers the attachment JSON ChatKit.js expects.
- `POST|PUT /files/{id}/upload?o&e&s`: the signed URL `attachments.create` hands out (two-phase);
  multipart `file` or the raw bytes; the first upload claims it (`storage.upload_claims`).
- `GET /files/{id}` (bearer auth): the owner's download. Anyone else gets 404.
- `GET /files/{id}/preview?o&e&s`: a signed, expiring link for `<img src>` (no auth header needed).

Each route has its own body limit (`files.max_bytes` plus room for multipart framing), apart from
the ChatKit endpoint's `server.max_body`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from chatkit.store import NotFoundError
from litestar import Request, Response, get, post, route
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler

from chatkit_host.errors import Refusal
from chatkit_host.web.caller import Caller
from chatkit_host.protocol.faults import outage_handlers
from chatkit_host.storage.attachments import PREVIEWABLE, HostAttachments
from chatkit_host.storage.sniff import sniff

if TYPE_CHECKING:
    from chatkit_host.host import Host

_MULTIPART_ROOM = 64 * 1024


def upload_routes(host: Host) -> list[HTTPRouteHandler]:
    """The file routes of `host`, or none when chatkit.yaml has no `files` section."""
    files = host.runtime.config.files
    if files is None:
        return []
    base = files.route
    limit = int(files.max_bytes) + _MULTIPART_ROOM

    def attachments() -> HostAttachments:
        if host.attachments is None:
            raise RuntimeError("the host is not started")
        return host.attachments

    # Routes that read or write the store answer its outage with the ChatKit endpoint's 503.
    outages = outage_handlers(host.runtime.config.store.url)

    @post(base, status_code=200, request_max_body_size=limit, exception_handlers=outages)
    async def direct_upload(request: Request, caller: Caller) -> Response:
        name, declared, data = await _received_file(request, raw=False)
        attachment = await attachments().upload_direct(name, declared, data, caller)
        return Response(attachment.model_dump(mode="json", context={"exclude_metadata": True}))

    @route(f"{base}/{{attachment_id:str}}/upload", http_method=["POST", "PUT"], status_code=200,
           request_max_body_size=limit, exception_handlers=outages)
    async def announced_upload(request: Request) -> Response:
        attachment_id = request.path_params["attachment_id"]
        store = attachments()
        owner = store.signer.verify("upload", attachment_id, dict(request.query_params))
        if owner is None:
            raise Refusal(403, "link_expired", "this upload link is invalid or has expired")
        _, _, data = await _received_file(request, raw=True)
        try:
            attachment = await store.upload_announced(attachment_id, owner, data, _base_url(request))
        except NotFoundError:
            raise Refusal(404, "not_found", f"attachment {attachment_id} not found") from None
        return Response(attachment.model_dump(mode="json", context={"exclude_metadata": True}))

    @get(f"{base}/{{attachment_id:str}}", exception_handlers=outages)
    async def download(request: Request, caller: Caller) -> Response:
        attachment_id = request.path_params["attachment_id"]
        try:
            attachment, data = await attachments().read(attachment_id, caller)
        except NotFoundError:
            raise Refusal(404, "not_found", f"attachment {attachment_id} not found") from None
        return _file(data, attachment.mime_type, attachment.name)

    @get(f"{base}/{{attachment_id:str}}/preview")
    async def preview(request: Request) -> Response:
        attachment_id = request.path_params["attachment_id"]
        store = attachments()
        owner = store.signer.verify("preview", attachment_id, dict(request.query_params))
        if owner is None:
            raise Refusal(403, "link_expired", "this preview link is invalid or has expired")
        try:
            data = await store.storage.read(owner, attachment_id)
        except FileNotFoundError:
            raise Refusal(404, "not_found", f"file {attachment_id} not found") from None
        mime_type = sniff(data[:4096]).mime_type
        ttl = store.signer.ttl
        if mime_type in PREVIEWABLE:
            return Response(data, media_type=mime_type, headers={
                "Cache-Control": f"private, max-age={ttl}", "X-Content-Type-Options": "nosniff"})
        return _file(data, "application/octet-stream", attachment_id)

    return [direct_upload, announced_upload, download, preview]


async def _received_file(request: Request, raw: bool) -> tuple[str, str, bytes]:
    """(name, declared type, bytes) from multipart field `file`, or (``raw``) from a raw body."""
    if not raw and request.content_type[0] != "multipart/form-data":
        raise Refusal(415, "unsupported_media_type", "send the file as multipart/form-data, field 'file'")
    try:
        if request.content_type[0] == "multipart/form-data":
            form = await request.form()
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise Refusal(400, "no_file", "send the file as multipart form field 'file'")
            return upload.filename or "file", upload.content_type or "", await upload.read()
        data = await request.body()
    except HTTPException as error:
        if error.status_code == 413:
            raise Refusal(413, "too_large", "the file is larger than files.max_bytes") from None
        raise Refusal(error.status_code, "invalid_upload", str(error.detail)) from None
    return request.headers.get("x-file-name", "file"), request.content_type[0], data


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _file(data: bytes, mime_type: str, name: str) -> Response:
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }
    return Response(data, media_type=mime_type, headers=headers)
