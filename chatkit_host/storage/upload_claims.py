"""One upload per two-phase link, however many arrive at once (#18).

`attachments.create` stores the attachment with its `upload_descriptor` (the signed link). The
first upload to reach the store claims it with a conditional update — the row changes only if it
still holds exactly what was read — so of ten uploads racing on one link, one writes bytes and
nine are refused, on SQLite and PostgreSQL alike. A claimed attachment keeps its descriptor,
marked, until its bytes are stored: a message naming it is still refused (`not_uploaded`).

The link names its owner by `owner_key` (a digest), never by user id; the claim finds the row by
id and checks the owner against that digest.
"""

from __future__ import annotations


from chatkit.store import NotFoundError
from chatkit.types import Attachment
from pydantic import TypeAdapter
from sqlalchemy import Connection, select, update

from chatkit_host.errors import Refusal
from chatkit_host.storage.files import owner_key
from chatkit_host.storage.store import SQLStore
from chatkit_host.storage.tables import ATTACHMENTS

CLAIMED = "x-chatkit-host-claimed"
"""Descriptor header that marks an announced attachment whose upload is under way."""

_ATTACHMENT: TypeAdapter[Attachment] = TypeAdapter(Attachment)


async def claim(store: SQLStore, ident: str, owner: str) -> tuple[Attachment, str]:
    """The announced attachment ``ident`` of the user whose `owner_key` is ``owner``, and that
    user's id, now claimed for this upload.

    Raises:
        NotFoundError: no such attachment of that owner.
        Refusal: 409 `already_uploaded`, its bytes arrived or are arriving through another request.
    """

    def claim_row(connection: Connection) -> tuple[Attachment, str] | str:
        row = connection.execute(select(ATTACHMENTS.c.user_id, ATTACHMENTS.c.data).where(ATTACHMENTS.c.id == ident)).first()
        if row is None or owner_key(row.user_id) != owner:
            return "missing"
        announced = _ATTACHMENT.validate_json(row.data)
        descriptor = announced.upload_descriptor
        if descriptor is None or CLAIMED in descriptor.headers:
            return "taken"
        marked = descriptor.model_copy(update={"headers": {**descriptor.headers, CLAIMED: "1"}})
        claimed = announced.model_copy(update={"upload_descriptor": marked})
        changed = connection.execute(
            update(ATTACHMENTS).where((ATTACHMENTS.c.id == ident) & (ATTACHMENTS.c.data == row.data))
            .values(data=_ATTACHMENT.dump_json(claimed).decode())
        ).rowcount
        return (announced, row.user_id) if changed == 1 else "taken"

    outcome = await store.write_transaction(claim_row)
    if outcome == "missing":
        raise NotFoundError(f"attachment {ident} not found")
    if outcome == "taken":
        raise Refusal(409, "already_uploaded", "this attachment's file was uploaded already")
    assert isinstance(outcome, tuple)
    return outcome
