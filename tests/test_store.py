"""The SQL store against real databases: a SQLite file, in-memory SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    FileAttachment,
    ImageAttachment,
    InferenceOptions,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)
from pydantic import AnyUrl
from sqlalchemy import Table, event, func, select, text

from chatkit_host.context import RequestContext
from chatkit_host.errors import ConfigError
from chatkit_host.storage import SCHEMA_VERSION, SchemaVersionError, SQLStore, open_store
from chatkit_host.storage.tables import ATTACHMENTS, FEEDBACK, ITEMS, SCHEMA_VERSIONS, THREADS

ALICE = RequestContext(user_id="alice")
BOB = RequestContext(user_id="bob")

#: Every object gets the same timestamp: order must come from insertion, not from created_at.
T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


# --- fixtures and builders --------------------------------------------------------------------


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SQLStore]:
    opened = await open_store(store_url)
    yield opened
    await opened.close()


def thread(thread_id: str, title: str | None = None, created_at: datetime = T0) -> ThreadMetadata:
    return ThreadMetadata(id=thread_id, title=title, created_at=created_at, metadata={"k": "v"})


def message(item_id: str, thread_id: str, text_: str = "hi") -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=T0,
        content=[AssistantMessageContent(text=text_)],
    )


def user_message(item_id: str, thread_id: str, attachment: FileAttachment) -> UserMessageItem:
    return UserMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=T0,
        content=[UserMessageTextContent(text="see attached")],
        attachments=[attachment],
        inference_options=InferenceOptions(model="gpt-test"),
    )


def file_attachment(attachment_id: str, thread_id: str | None = None) -> FileAttachment:
    return FileAttachment(
        id=attachment_id,
        name=f"{attachment_id}.txt",
        mime_type="text/plain",
        thread_id=thread_id,
        metadata={"path": f"uploads/{attachment_id}"},
    )


async def add_threads(store: SQLStore, ids: list[str], context: RequestContext) -> None:
    for thread_id in ids:
        await store.save_thread(thread(thread_id), context)


async def add_items(store: SQLStore, thread_id: str, ids: list[str]) -> None:
    for item_id in ids:
        await store.add_thread_item(thread_id, message(item_id, thread_id), ALICE)


async def all_thread_ids(store: SQLStore, order: str, limit: int) -> list[list[str]]:
    """Every page of the user's threads, walking ``after``."""
    pages, after = [], None
    while True:
        page = await store.load_threads(limit, after, order, ALICE)
        pages.append([t.id for t in page.data])
        if not page.has_more:
            assert page.after is None
            return pages
        assert page.after == page.data[-1].id
        after = page.after


async def all_item_ids(store: SQLStore, thread_id: str, order: str, limit: int) -> list[list[str]]:
    """Every page of a thread's items, walking ``after``."""
    pages, after = [], None
    while True:
        page = await store.load_thread_items(thread_id, after, limit, order, ALICE)
        pages.append([i.id for i in page.data])
        if not page.has_more:
            assert page.after is None
            return pages
        assert page.after == page.data[-1].id
        after = page.after


async def count_rows(store: SQLStore, table: Table, **where: str) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    async with store.engine.connect() as connection:
        return int(await connection.scalar(query) or 0)


# --- threads ----------------------------------------------------------------------------------


async def test_thread_round_trip_and_update(store: SQLStore) -> None:
    original = thread("thr_1", title="First", created_at=T0)
    await store.save_thread(original, ALICE)
    assert await store.load_thread("thr_1", ALICE) == original

    updated = original.model_copy(update={"title": "Renamed", "metadata": {"k": "w"}})
    await store.save_thread(updated, ALICE)
    assert await store.load_thread("thr_1", ALICE) == updated
    assert await count_rows(store, THREADS) == 1

    with pytest.raises(NotFoundError):
        await store.load_thread("thr_missing", ALICE)


async def test_naive_and_aware_timestamps_round_trip(store: SQLStore) -> None:
    naive = thread("thr_naive", created_at=datetime(2025, 3, 4, 5, 6, 7, 891011))
    aware = thread("thr_aware", created_at=datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC))
    await store.save_thread(naive, ALICE)
    await store.save_thread(aware, ALICE)
    assert (await store.load_thread("thr_naive", ALICE)).created_at == naive.created_at
    assert (await store.load_thread("thr_aware", ALICE)).created_at == aware.created_at


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("asc", [["t0", "t1", "t2"], ["t3", "t4", "t5"], ["t6"]]),
        ("desc", [["t6", "t5", "t4"], ["t3", "t2", "t1"], ["t0"]]),
    ],
)
async def test_threads_paginate_in_insertion_order(
    store: SQLStore, order: str, expected: list[list[str]]
) -> None:
    await add_threads(store, [f"t{n}" for n in range(7)], ALICE)
    # Re-saving (a rename) must not move a thread.
    await store.save_thread(thread("t0", title="renamed"), ALICE)

    assert await all_thread_ids(store, order, limit=3) == expected


async def test_threads_page_edges(store: SQLStore) -> None:
    empty = await store.load_threads(10, None, "desc", ALICE)
    assert (empty.data, empty.has_more, empty.after) == ([], False, None)

    await add_threads(store, ["t0", "t1", "t2"], ALICE)
    exact = await store.load_threads(3, None, "asc", ALICE)
    assert ([t.id for t in exact.data], exact.has_more, exact.after) == (
        ["t0", "t1", "t2"],
        False,
        None,
    )
    past_last = await store.load_threads(3, "t2", "asc", ALICE)
    assert (past_last.data, past_last.has_more) == ([], False)
    middle = await store.load_threads(1, "t1", "desc", ALICE)
    assert ([t.id for t in middle.data], middle.has_more, middle.after) == (["t0"], False, None)

    with pytest.raises(NotFoundError):
        await store.load_threads(3, "no_such_thread", "asc", ALICE)
    with pytest.raises(ValueError):
        await store.load_threads(0, None, "asc", ALICE)
    with pytest.raises(ValueError):
        await store.load_threads(3, None, "sideways", ALICE)


# --- items ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("asc", [["m0", "m1"], ["m2", "m3"], ["m4"]]),
        ("desc", [["m4", "m3"], ["m2", "m1"], ["m0"]]),
    ],
)
async def test_items_paginate_in_insertion_order(
    store: SQLStore, order: str, expected: list[list[str]]
) -> None:
    await store.save_thread(thread("thr"), ALICE)
    await add_items(store, "thr", [f"m{n}" for n in range(5)])

    assert await all_item_ids(store, "thr", order, limit=2) == expected


async def test_items_page_edges(store: SQLStore) -> None:
    await add_threads(store, ["thr", "other"], ALICE)
    empty = await store.load_thread_items("thr", None, 5, "asc", ALICE)
    assert (empty.data, empty.has_more, empty.after) == ([], False, None)

    await add_items(store, "thr", ["m0", "m1", "m2"])
    await store.add_thread_item("other", message("x0", "other"), ALICE)
    after_first = await store.load_thread_items("thr", "m0", 5, "asc", ALICE)
    assert [i.id for i in after_first.data] == ["m1", "m2"]
    assert (after_first.has_more, after_first.after) == (False, None)

    with pytest.raises(NotFoundError):  # an item of another thread is no cursor here
        await store.load_thread_items("thr", "x0", 5, "asc", ALICE)
    with pytest.raises(NotFoundError):
        await store.load_thread_items("thr", "no_such_item", 5, "asc", ALICE)
    with pytest.raises(NotFoundError):
        await store.load_thread_items("no_such_thread", None, 5, "asc", ALICE)


async def test_item_round_trip_keeps_every_field(store: SQLStore) -> None:
    await store.save_thread(thread("thr"), ALICE)
    attachment = file_attachment("atc_1", thread_id="thr")
    item = user_message("msg_1", "thr", attachment)
    await store.add_thread_item("thr", item, ALICE)
    loaded = await store.load_item("thr", "msg_1", ALICE)
    assert isinstance(loaded, UserMessageItem)
    assert loaded == item
    assert loaded.attachments[0].metadata == {"path": "uploads/atc_1"}


async def test_add_twice_replaces_in_place(store: SQLStore) -> None:
    await store.save_thread(thread("thr"), ALICE)
    await add_items(store, "thr", ["m0", "m1", "m2"])

    await store.add_thread_item("thr", message("m1", "thr", "edited by add"), ALICE)
    page = await store.load_thread_items("thr", None, 10, "asc", ALICE)
    assert [i.id for i in page.data] == ["m0", "m1", "m2"]
    assert page.data[1].content[0].text == "edited by add"  # type: ignore[union-attr]

    await store.save_item("thr", message("m0", "thr", "edited by save"), ALICE)
    await store.save_item("thr", message("m3", "thr", "new by save"), ALICE)
    page = await store.load_thread_items("thr", None, 10, "asc", ALICE)
    assert [i.id for i in page.data] == ["m0", "m1", "m2", "m3"]
    assert page.data[0].content[0].text == "edited by save"  # type: ignore[union-attr]
    assert await count_rows(store, ITEMS, thread_id="thr") == 4


async def test_same_item_id_in_two_threads_does_not_collide(store: SQLStore) -> None:
    await add_threads(store, ["thr_a", "thr_b"], ALICE)
    await store.add_thread_item("thr_a", message("msg_same", "thr_a", "in a"), ALICE)
    await store.add_thread_item("thr_b", message("msg_same", "thr_b", "in b"), ALICE)

    in_a = await store.load_item("thr_a", "msg_same", ALICE)
    in_b = await store.load_item("thr_b", "msg_same", ALICE)
    assert in_a.content[0].text == "in a"  # type: ignore[union-attr]
    assert in_b.content[0].text == "in b"  # type: ignore[union-attr]

    await store.delete_thread_item("thr_a", "msg_same", ALICE)
    assert (await store.load_item("thr_b", "msg_same", ALICE)).id == "msg_same"


async def test_delete_thread_item(store: SQLStore) -> None:
    await store.save_thread(thread("thr"), ALICE)
    await add_items(store, "thr", ["m0", "m1", "m2"])
    await store.save_feedback("thr", ["m1", "m2"], "positive", ALICE)

    await store.delete_thread_item("thr", "m1", ALICE)
    with pytest.raises(NotFoundError):
        await store.load_item("thr", "m1", ALICE)
    page = await store.load_thread_items("thr", None, 10, "asc", ALICE)
    assert [i.id for i in page.data] == ["m0", "m2"]
    assert await store.load_feedback("thr", ALICE) == {"m2": "positive"}

    # The SDK deletes items it streamed but never saved (guardrail tripwire): a no-op.
    await store.delete_thread_item("thr", "never_saved", ALICE)
    with pytest.raises(NotFoundError):
        await store.delete_thread_item("no_such_thread", "m0", ALICE)


async def test_adding_to_a_missing_thread_fails(store: SQLStore) -> None:
    with pytest.raises(NotFoundError):
        await store.add_thread_item("no_such_thread", message("m0", "no_such_thread"), ALICE)
    with pytest.raises(NotFoundError):
        await store.save_item("no_such_thread", message("m0", "no_such_thread"), ALICE)
    assert await count_rows(store, ITEMS) == 0


# --- attachments and feedback -----------------------------------------------------------------


async def test_attachment_round_trip(store: SQLStore) -> None:
    await store.save_thread(thread("thr"), ALICE)
    upload = file_attachment("atc_file")
    image = ImageAttachment(
        id="atc_image",
        name="cat.png",
        mime_type="image/png",
        preview_url=AnyUrl("https://example.com/cat.png"),
        metadata={"w": 10},
    )
    await store.save_attachment(upload, ALICE)
    await store.save_attachment(image, ALICE)
    assert await store.load_attachment("atc_file", ALICE) == upload
    assert await store.load_attachment("atc_image", ALICE) == image
    assert await store.thread_attachment_ids("thr", ALICE) == []

    # The SDK re-saves an attachment with its thread once the message is sent.
    attached = upload.model_copy(update={"thread_id": "thr"})
    await store.save_attachment(attached, ALICE)
    assert await store.load_attachment("atc_file", ALICE) == attached
    assert await store.thread_attachment_ids("thr", ALICE) == ["atc_file"]

    await store.delete_attachment("atc_file", ALICE)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_file", ALICE)
    with pytest.raises(NotFoundError):
        await store.delete_attachment("atc_file", ALICE)
    assert await store.thread_attachment_ids("thr", ALICE) == []
    with pytest.raises(NotFoundError):
        await store.save_attachment(file_attachment("atc_x", thread_id="no_such_thread"), ALICE)


async def test_feedback_round_trip(store: SQLStore) -> None:
    await store.save_thread(thread("thr"), ALICE)
    await add_items(store, "thr", ["m0", "m1", "m2"])
    assert await store.load_feedback("thr", ALICE) == {}

    await store.save_feedback("thr", ["m0", "m1"], "positive", ALICE)
    await store.save_feedback("thr", ["m1", "m1"], "negative", ALICE)
    assert await store.load_feedback("thr", ALICE) == {"m0": "positive", "m1": "negative"}

    # All or nothing: one unknown item and nothing is recorded.
    with pytest.raises(NotFoundError):
        await store.save_feedback("thr", ["m2", "no_such_item"], "negative", ALICE)
    with pytest.raises(ValueError):
        await store.save_feedback("thr", ["m2"], "meh", ALICE)  # type: ignore[arg-type]
    await store.save_feedback("thr", [], "positive", ALICE)
    assert await store.load_feedback("thr", ALICE) == {"m0": "positive", "m1": "negative"}


async def test_delete_thread_removes_everything_of_it(store: SQLStore) -> None:
    await add_threads(store, ["thr", "keep"], ALICE)
    attachment = file_attachment("atc_in_thread", thread_id="thr")
    await store.save_attachment(attachment, ALICE)
    await store.save_attachment(file_attachment("atc_loose"), ALICE)
    await store.add_thread_item("thr", user_message("m0", "thr", attachment), ALICE)
    await add_items(store, "thr", ["m1"])
    await add_items(store, "keep", ["k0"])
    await store.save_feedback("thr", ["m0", "m1"], "positive", ALICE)
    await store.save_feedback("keep", ["k0"], "negative", ALICE)

    await store.delete_thread("thr", ALICE)

    with pytest.raises(NotFoundError):
        await store.load_thread("thr", ALICE)
    with pytest.raises(NotFoundError):
        await store.load_item("thr", "m0", ALICE)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_in_thread", ALICE)
    for table in (ITEMS, FEEDBACK, ATTACHMENTS):
        assert await count_rows(store, table, thread_id="thr") == 0
    # Everything else survives.
    assert (await store.load_attachment("atc_loose", ALICE)).id == "atc_loose"
    assert [t.id for t in (await store.load_threads(10, None, "asc", ALICE)).data] == ["keep"]
    assert await store.load_feedback("keep", ALICE) == {"k0": "negative"}
    with pytest.raises(NotFoundError):
        await store.delete_thread("thr", ALICE)


# --- two users --------------------------------------------------------------------------------


@dataclass
class AliceWorld:
    """Everything Alice owns, and a way to read it all back."""

    store: SQLStore

    async def build(self) -> None:
        await self.store.save_thread(thread("thr_alice", title="secret"), ALICE)
        attachment = file_attachment("atc_alice", thread_id="thr_alice")
        await self.store.save_attachment(attachment, ALICE)
        await self.store.add_thread_item(
            "thr_alice", user_message("msg_alice", "thr_alice", attachment), ALICE
        )
        await self.store.add_thread_item("thr_alice", message("msg_reply", "thr_alice"), ALICE)
        await self.store.save_feedback("thr_alice", ["msg_reply"], "positive", ALICE)
        await self.store.save_thread(thread("thr_bob"), BOB)
        await self.store.add_thread_item("thr_bob", message("msg_bob", "thr_bob"), BOB)

    async def snapshot(self) -> dict[str, Any]:
        store = self.store
        return {
            "thread": await store.load_thread("thr_alice", ALICE),
            "threads": (await store.load_threads(10, None, "asc", ALICE)).data,
            "items": (await store.load_thread_items("thr_alice", None, 10, "asc", ALICE)).data,
            "attachment": await store.load_attachment("atc_alice", ALICE),
            "attachment_ids": await store.thread_attachment_ids("thr_alice", ALICE),
            "feedback": await store.load_feedback("thr_alice", ALICE),
        }


def _bob_item(item_id: str) -> ThreadItem:
    return message(item_id, "thr_alice", "bob was here")


#: What Bob may try against Alice's objects; every one must be NotFoundError.
BOB_ATTEMPTS: dict[str, Callable[[SQLStore], Awaitable[Any]]] = {
    "load_thread": lambda s: s.load_thread("thr_alice", BOB),
    "save_thread_takeover": lambda s: s.save_thread(thread("thr_alice", title="mine"), BOB),
    "delete_thread": lambda s: s.delete_thread("thr_alice", BOB),
    "load_threads_after": lambda s: s.load_threads(10, "thr_alice", "asc", BOB),
    "load_thread_items": lambda s: s.load_thread_items("thr_alice", None, 10, "asc", BOB),
    "load_thread_items_after": lambda s: s.load_thread_items(
        "thr_bob", "msg_alice", 10, "asc", BOB
    ),
    "add_thread_item_new": lambda s: s.add_thread_item("thr_alice", _bob_item("msg_new"), BOB),
    "add_thread_item_same_id": lambda s: s.add_thread_item(
        "thr_alice", _bob_item("msg_reply"), BOB
    ),
    "save_item": lambda s: s.save_item("thr_alice", _bob_item("msg_reply"), BOB),
    "load_item": lambda s: s.load_item("thr_alice", "msg_alice", BOB),
    "load_item_via_own_thread": lambda s: s.load_item("thr_bob", "msg_alice", BOB),
    "delete_thread_item": lambda s: s.delete_thread_item("thr_alice", "msg_alice", BOB),
    "save_attachment_takeover": lambda s: s.save_attachment(file_attachment("atc_alice"), BOB),
    "save_attachment_into_thread": lambda s: s.save_attachment(
        file_attachment("atc_bob", thread_id="thr_alice"), BOB
    ),
    "load_attachment": lambda s: s.load_attachment("atc_alice", BOB),
    "delete_attachment": lambda s: s.delete_attachment("atc_alice", BOB),
    "thread_attachment_ids": lambda s: s.thread_attachment_ids("thr_alice", BOB),
    "save_feedback": lambda s: s.save_feedback("thr_alice", ["msg_reply"], "negative", BOB),
    "save_feedback_via_own_thread": lambda s: s.save_feedback(
        "thr_bob", ["msg_reply"], "negative", BOB
    ),
    "load_feedback": lambda s: s.load_feedback("thr_alice", BOB),
}


@pytest.mark.parametrize("attempt", list(BOB_ATTEMPTS))
async def test_other_user_gets_not_found_and_changes_nothing(store: SQLStore, attempt: str) -> None:
    world = AliceWorld(store)
    await world.build()
    before = await world.snapshot()

    with pytest.raises(NotFoundError):
        await BOB_ATTEMPTS[attempt](store)

    assert await world.snapshot() == before


async def test_other_user_lists_only_their_own(store: SQLStore) -> None:
    world = AliceWorld(store)
    await world.build()
    page = await store.load_threads(10, None, "desc", BOB)
    assert [t.id for t in page.data] == ["thr_bob"]
    assert await store.load_feedback("thr_bob", BOB) == {}
    assert await store.thread_attachment_ids("thr_bob", BOB) == []


# --- ids --------------------------------------------------------------------------------------


async def test_generated_ids_have_sdk_prefixes_and_full_uuids(store: SQLStore) -> None:
    parent = thread("thr")
    ids = {
        "thr": store.generate_thread_id(ALICE),
        "msg": store.generate_item_id("message", parent, ALICE),
        "tc": store.generate_item_id("tool_call", parent, ALICE),
        "tsk": store.generate_item_id("task", parent, ALICE),
        "wf": store.generate_item_id("workflow", parent, ALICE),
        "shcx": store.generate_item_id("sdk_hidden_context", parent, ALICE),
        "atc": store.generate_attachment_id("text/plain", ALICE),
    }
    for prefix, generated in ids.items():
        assert re.fullmatch(rf"{prefix}_[0-9a-f]{{32}}", generated), generated
    assert len({store.generate_thread_id(ALICE) for _ in range(1000)}) == 1000


# --- scale ------------------------------------------------------------------------------------


async def test_pages_of_a_huge_thread_and_a_user_with_many_threads(store: SQLStore) -> None:
    """10,000 items and 10,000 threads: the right rows, whatever the position of the page."""
    count = 10_000
    await store.save_thread(thread("big"), ALICE)
    # Bulk rows straight into the tables: 10,000 store calls would only test patience.
    async with store.engine.begin() as connection:
        await connection.execute(
            ITEMS.insert(),
            [
                {
                    "thread_id": "big",
                    "id": f"m{n:05}",
                    "user_id": "alice",
                    "type": "assistant_message",
                    "created_at": T0.replace(tzinfo=None),
                    "data": message(f"m{n:05}", "big", str(n)).model_dump_json(),
                }
                for n in range(count)
            ],
        )
        await connection.execute(
            THREADS.insert(),
            [
                {
                    "id": f"t{n:05}",
                    "user_id": "alice",
                    "created_at": T0.replace(tzinfo=None),
                    "data": thread(f"t{n:05}").model_dump_json(),
                }
                for n in range(count)
            ],
        )

    first = await store.load_thread_items("big", None, 50, "asc", ALICE)
    assert [i.id for i in first.data] == [f"m{n:05}" for n in range(50)]
    assert (first.has_more, first.after) == (True, "m00049")

    middle = await store.load_thread_items("big", "m05000", 20, "desc", ALICE)
    assert [i.id for i in middle.data] == [f"m{n:05}" for n in range(4999, 4979, -1)]
    assert middle.data[0].content[0].text == "4999"  # type: ignore[union-attr]

    newest = await store.load_thread_items("big", None, 3, "desc", ALICE)
    assert [i.id for i in newest.data] == ["m09999", "m09998", "m09997"]

    tail = await store.load_thread_items("big", "m09990", 50, "asc", ALICE)
    assert [i.id for i in tail.data] == [f"m{n:05}" for n in range(9991, count)]
    assert (tail.has_more, tail.after) == (False, None)

    threads = await store.load_threads(5, "t07000", "asc", ALICE)
    assert [t.id for t in threads.data] == [f"t{n:05}" for n in range(7001, 7006)]
    assert threads.has_more


async def test_sqlite_pages_are_index_range_scans(tmp_path: Path) -> None:
    """Page queries walk an index in order: no table scan, no sort, whatever the table size."""
    store = await open_store(f"sqlite:///{tmp_path}/plan.db")
    try:
        await store.save_thread(thread("thr"), ALICE)
        await add_items(store, "thr", ["m0", "m1", "m2"])
        statements: list[tuple[str, Any]] = []

        def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            if "ORDER BY" in statement:
                statements.append((statement, parameters))

        event.listen(store.engine.sync_engine, "before_cursor_execute", record)
        await store.load_thread_items("thr", "m0", 2, "asc", ALICE)
        await store.load_thread_items("thr", "m2", 2, "desc", ALICE)
        await store.load_threads(2, "thr", "desc", ALICE)
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)

        assert len(statements) == 3
        async with store.engine.connect() as connection:
            for statement, parameters in statements:
                rows = await connection.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + statement, parameters
                )
                plan = " | ".join(str(row[-1]) for row in rows)
                assert re.search(r"SEARCH \w+ USING INDEX ix_chatkit_\w+_seq", plan), plan
                assert "TEMP B-TREE" not in plan, plan
    finally:
        await store.close()


# --- several processes ------------------------------------------------------------------------


async def test_two_stores_on_one_database_see_each_other(shared_store_url: str) -> None:
    """Two stores stand in for two processes: nothing may be cached in either."""
    first, second = await open_store(shared_store_url), await open_store(shared_store_url)
    try:
        await first.save_thread(thread("thr", title="one"), ALICE)
        await second.save_thread(thread("thr", title="two"), ALICE)
        assert (await first.load_thread("thr", ALICE)).title == "two"

        await asyncio.gather(
            *(
                (first if n % 2 else second).add_thread_item("thr", message(f"m{n}", "thr"), ALICE)
                for n in range(20)
            )
        )
        page = await first.load_thread_items("thr", None, 100, "asc", ALICE)
        assert sorted(i.id for i in page.data) == sorted(f"m{n}" for n in range(20))

        await second.delete_thread("thr", ALICE)
        with pytest.raises(NotFoundError):
            await first.load_thread("thr", ALICE)
    finally:
        await first.close()
        await second.close()


async def test_concurrent_tasks_on_one_store(store: SQLStore) -> None:
    await store.save_thread(thread("thr"), ALICE)
    await asyncio.gather(
        *(store.add_thread_item("thr", message(f"m{n}", "thr"), ALICE) for n in range(30)),
        *(store.save_thread(thread(f"t{n}"), ALICE) for n in range(10)),
        *(store.load_threads(5, None, "desc", ALICE) for _ in range(10)),
    )
    assert await count_rows(store, ITEMS, thread_id="thr") == 30
    assert await count_rows(store, THREADS, user_id="alice") == 11


# --- opening ----------------------------------------------------------------------------------


async def test_schema_version_is_recorded(store: SQLStore) -> None:
    table = SCHEMA_VERSIONS
    async with store.engine.connect() as connection:
        rows = (await connection.execute(select(table.c.id, table.c.version))).all()
    assert [tuple(row) for row in rows] == [(1, SCHEMA_VERSION)]


async def test_reopening_keeps_data_and_newer_schema_is_refused(shared_store_url: str) -> None:
    store = await open_store(shared_store_url)
    await store.save_thread(thread("thr"), ALICE)
    await store.close()

    store = await open_store(shared_store_url)
    assert (await store.load_thread("thr", ALICE)).id == "thr"
    async with store.engine.begin() as connection:
        await connection.execute(
            text("UPDATE chatkit_schema_version SET version = :v"), {"v": SCHEMA_VERSION + 1}
        )
    await store.close()

    with pytest.raises(SchemaVersionError) as raised:
        await open_store(shared_store_url)
    problem = raised.value.problems[0]
    assert problem.key == "store.url"
    assert f"version {SCHEMA_VERSION + 1}" in problem.message
    assert problem.hint and "upgrade chatkit-host" in problem.hint


@pytest.mark.parametrize(
    ("url", "in_message"),
    [
        ("mysql://db/chat", "unsupported scheme 'mysql://'"),
        ("chat.db", "is not a URL"),
        ("sqlite://chat.db", "three slashes"),
        ("memory://somewhere", "takes no path"),
    ],
)
async def test_bad_urls_are_config_errors(url: str, in_message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        await open_store(url)
    problem = raised.value.problems[0]
    assert problem.key == "store.url"
    assert in_message in problem.message
    assert problem.hint


async def test_unknown_scheme_hint_lists_the_supported_ones() -> None:
    with pytest.raises(ConfigError) as raised:
        await open_store("mongodb://user:hunter2@db/chat")
    rendered = str(raised.value)
    for scheme in ("sqlite:///", "memory://", "postgresql://"):
        assert scheme in rendered
    assert "hunter2" not in rendered


async def test_missing_driver_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def without_asyncpg(name: str, *args: Any) -> Any:
        return None if name == "asyncpg" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_asyncpg)
    with pytest.raises(ConfigError, match="pip install asyncpg"):
        await open_store("postgres://localhost/chat")


async def test_unreachable_postgres_is_a_config_error() -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConfigError) as raised:
        await open_store(f"postgresql://nobody:s3cret@127.0.0.1:{port}/chat")
    assert raised.value.problems[0].key == "store.url"
    assert "s3cret" not in str(raised.value)


async def test_relative_sqlite_path_uses_base_dir(tmp_path: Path) -> None:
    store = await open_store("sqlite:///state/nested/chat.db", base_dir=tmp_path)
    try:
        await store.save_thread(thread("thr"), ALICE)
    finally:
        await store.close()
    assert (tmp_path / "state" / "nested" / "chat.db").is_file()


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+asyncpg"])
async def test_postgres_url_spellings(postgres_db_url: str, scheme: str) -> None:
    url = scheme + postgres_db_url.removeprefix("postgresql+asyncpg")
    store = await open_store(url)
    try:
        assert store.engine.dialect.driver == "asyncpg"
        await store.save_thread(thread("thr"), ALICE)
        assert (await store.load_thread("thr", ALICE)).id == "thr"
    finally:
        await store.close()

