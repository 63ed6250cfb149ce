"""Check a ChatKit request before any response is sent.

The SDK raises `NotFoundError` and friends after the 200 SSE head is out, so a client asking for
someone else's thread, or writing to a locked one, sees a broken stream. Here the request is parsed,
ownership of every thread, item and attachment it names is checked, and the thread's status is
enforced, so the answer can still be a 4xx with a JSON body.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from chatkit.store import NotFoundError
from chatkit.types import (
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    ChatKitReq,
    ClientToolCallItem,
    ItemsFeedbackReq,
    StructuredInputItem,
    ThreadMetadata,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    UserMessageItem,
)
from pydantic import ValidationError

if TYPE_CHECKING:
    from chatkit_host.runtime.build import Runtime

from chatkit_host.context import RequestContext
from chatkit_host.errors import Refusal
from chatkit_host.protocol.bounds import bound
from chatkit_host.protocol.parsing import REQUEST
from chatkit_host.runtime.forms import describe_missing
from chatkit_host.storage.store import SQLStore

# `\u0000` after an even number of backslashes: a JSON-escaped NUL (`\\u0000` is typed text).
_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")

# Requests that add to a thread: refused while it is locked or closed.
_WRITES = (
    ThreadsAddUserMessageReq,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsRetryAfterItemReq,
    ThreadsCustomActionReq,
    ThreadsSyncCustomActionReq,
)


def parse(body: bytes) -> ChatKitReq:
    """Parse a request body, or refuse it with 400 and what is wrong (field paths, not values)."""
    if _NUL.search(body):
        # PostgreSQL cannot store NUL in text: refused here, not by the database mid-stream.
        raise Refusal(400, "invalid_request", "text may not contain NUL characters (\\u0000)")
    try:
        return REQUEST.validate_json(body)
    except ValidationError as error:
        raise Refusal(400, "invalid_request", _describe(error)) from None


async def admit(request: ChatKitReq, runtime: Runtime, store: SQLStore, context: RequestContext) -> None:
    """Every check before a request runs: `check`, then `check_declared`. A queued turn runs them
    again after its wait: the turn before may have changed the thread, a reload the rules.
    The client's lists are bounded first, before anything is looked up."""
    bound(request, runtime.config.files)
    await check(request, store, context)
    await check_declared(request, runtime, store, context)


def check_files(request: ChatKitReq, takes_files: bool) -> None:
    """Refuse (501) an upload announcement to a host without a `files` section: the SDK would fail
    with a 500 after the request was accepted."""
    if isinstance(request, AttachmentsCreateReq) and not takes_files:
        raise Refusal(501, "not_supported", "this host takes no attachments (no `files` section in chatkit.yaml)")


async def check(request: ChatKitReq, store: SQLStore, context: RequestContext) -> None:
    """Refuse (404/409/400) what would otherwise fail after the stream has begun."""
    params = getattr(request, "params", None)
    thread_id = getattr(params, "thread_id", None)
    # `is not None`: an empty id names no thread; refused here, not by the SDK after the 200 (#18).
    thread = await _thread(store, thread_id, context) if thread_id is not None else None
    if thread is not None and isinstance(request, _WRITES):
        _writable(thread)
    if isinstance(request, (ThreadsCreateReq, ThreadsAddUserMessageReq)):
        for attachment_id in request.params.input.attachments:
            attachment = await _owned(store.load_attachment(attachment_id, context), "attachment", attachment_id)
            if attachment.upload_descriptor is not None:  # two-phase, bytes never arrived
                raise Refusal(409, "not_uploaded", f"attachment {attachment_id} has no file yet")
    if isinstance(request, AttachmentsDeleteReq):
        attachment_id = request.params.attachment_id
        await _owned(store.load_attachment(attachment_id, context), "attachment", attachment_id)
    if isinstance(request, ItemsFeedbackReq):
        for item_id in request.params.item_ids:
            await _item(store, request.params.thread_id, item_id, context)
    if isinstance(request, ThreadsRetryAfterItemReq):
        item = await _item(store, request.params.thread_id, request.params.item_id, context)
        if not isinstance(item, UserMessageItem):
            raise Refusal(400, "invalid_request", "retry_after_item needs a user message")
    if isinstance(request, ThreadsAddStructuredInputReq):
        item = await _item(store, request.params.thread_id, request.params.item_id, context)
        if not isinstance(item, StructuredInputItem) or item.status != "pending":
            raise Refusal(409, "not_pending", "that form is not waiting for an answer")
    if isinstance(request, ThreadsAddClientToolOutputReq):
        await _pending_client_tool_call(store, request.params.thread_id, context)
    if isinstance(request, (ThreadsCustomActionReq, ThreadsSyncCustomActionReq)):
        if request.params.item_id:
            await _item(store, request.params.thread_id, request.params.item_id, context)


async def check_declared(
    request: ChatKitReq, runtime: Runtime, store: SQLStore, context: RequestContext
) -> None:
    """Refuse (400) what the configuration rules out: an unknown action type, a payload that breaks
    its action's schema, a form submitted without answers its required questions need, a composer
    tool or model the composer does not offer."""
    if isinstance(request, (ThreadsCreateReq, ThreadsAddUserMessageReq)):
        refusal = runtime.composer.refusal(request.params.input.inference_options)
        if refusal is not None:
            raise refusal
    if isinstance(request, (ThreadsCustomActionReq, ThreadsSyncCustomActionReq)):
        params = request.params
        sender = await _item(store, params.thread_id, params.item_id, context) if params.item_id else None
        sync = isinstance(request, ThreadsSyncCustomActionReq)
        refusal = runtime.actions.refusal(params.action, sender, sync)
        if refusal is not None:
            raise refusal
    if isinstance(request, ThreadsAddStructuredInputReq):
        item = await _item(store, request.params.thread_id, request.params.item_id, context)
        if isinstance(item, StructuredInputItem):
            missing = runtime.forms.missing_answers(item, request.params.input)
            if missing:
                raise Refusal(400, "missing_answers", describe_missing(missing))


async def _thread(store: SQLStore, thread_id: str, context: RequestContext) -> ThreadMetadata:
    return await _owned(store.load_thread(thread_id, context), "thread", thread_id)


async def _item(store: SQLStore, thread_id: str, item_id: str, context: RequestContext):  # noqa: ANN202
    return await _owned(store.load_item(thread_id, item_id, context), "item", item_id)


async def _owned(lookup, kind: str, ident: str):  # noqa: ANN001, ANN202
    # Someone else's thread and a missing one answer alike: existence is not leaked.
    try:
        return await lookup
    except NotFoundError:
        raise Refusal(404, "not_found", f"{kind} {ident} not found") from None


def _writable(thread: ThreadMetadata) -> None:
    status = thread.status
    if status.type != "active":
        reason = f": {status.reason}" if getattr(status, "reason", None) else ""
        raise Refusal(409, f"thread_{status.type}", f"the thread is {status.type}{reason}")


async def _pending_client_tool_call(store: SQLStore, thread_id: str, context: RequestContext) -> None:
    page = await store.load_thread_items(thread_id, None, 1, "desc", context)
    last = page.data[0] if page.data else None
    if not (isinstance(last, ClientToolCallItem) and last.status == "pending"):
        raise Refusal(409, "not_pending", "no client tool call is waiting for output")


def _describe(error: ValidationError) -> str:
    problems = []
    for detail in error.errors(include_input=False)[:5]:
        where = ".".join(str(part) for part in detail["loc"]) or "body"
        problems.append(f"{where}: {detail['msg']}")
    return "; ".join(problems)
