"""Stores of a given size for the read workloads, written with bulk inserts.

Both servers get the same logical content: ``threads`` threads of one user, the oldest of which
(`thr_items`) holds ``items`` items alternating user and assistant messages. The host's database
gets its schema from the host itself (`open_store`), then rows straight into its tables
(`chatkit_host/storage/tables.py`); the baseline's from its own schema. Row JSON is the SDK's own
serialization of each object.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    InferenceOptions,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)

from bench import baseline
from chatkit_host.storage.store import open_store

USER = "local"
"""The one user of `auth.mode: none` (the host) and of the baseline."""
ITEMS_THREAD = "thr_items"
EPOCH = datetime(2026, 1, 1)
TEXT = "A sentence of about the length people type into a chat box, give or take a few words. " * 2


def threads(count: int) -> list[tuple[str, datetime, str]]:
    """(id, created_at, JSON) of each thread, oldest first."""
    rows = []
    for n in range(count):
        thread_id = ITEMS_THREAD if n == 0 else f"thr_{n:08d}"
        created = EPOCH + timedelta(seconds=n)
        thread = ThreadMetadata(id=thread_id, created_at=created, title=f"Thread {n}")
        rows.append((thread_id, created, thread.model_dump_json()))
    return rows


def items(count: int) -> list[tuple[str, str, datetime, str]]:
    """(id, type, created_at, JSON) of each item of `thr_items`, oldest first."""
    rows = []
    for n in range(count):
        created = EPOCH + timedelta(milliseconds=n)
        item: ThreadItem
        if n % 2 == 0:
            item = UserMessageItem(
                id=f"msg_{n:08d}", thread_id=ITEMS_THREAD, created_at=created,
                content=[UserMessageTextContent(text=TEXT)], attachments=[],
                inference_options=InferenceOptions(),
            )
        else:
            item = AssistantMessageItem(
                id=f"msg_{n:08d}", thread_id=ITEMS_THREAD, created_at=created,
                content=[AssistantMessageContent(text=TEXT)],
            )
        rows.append((item.id, item.type, created, item.model_dump_json()))
    return rows


def seed_host(path: Path, thread_rows: list, item_rows: list) -> None:
    asyncio.run(_create_host_schema(path))
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO chatkit_threads (id, user_id, created_at, data) VALUES (?, ?, ?, ?)",
            [(i, USER, _naive(c), d) for i, c, d in thread_rows],
        )
        db.executemany(
            "INSERT INTO chatkit_items (thread_id, id, user_id, type, created_at, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(ITEMS_THREAD, i, USER, t, _naive(c), d) for i, t, c, d in item_rows],
        )


def seed_baseline(path: Path, thread_rows: list, item_rows: list) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(baseline.SCHEMA)
        db.executemany(
            "INSERT INTO threads (id, user_id, created_at, data) VALUES (?, ?, ?, ?)",
            [(i, USER, c.isoformat(), d) for i, c, d in thread_rows],
        )
        db.executemany(
            "INSERT INTO items (id, thread_id, user_id, created_at, data) VALUES (?, ?, ?, ?, ?)",
            [(i, ITEMS_THREAD, USER, c.isoformat(), d) for i, t, c, d in item_rows],
        )


def seed(host_db: Path, baseline_db: Path, thread_count: int, item_count: int) -> None:
    """Write both databases afresh."""
    for path in (host_db, baseline_db):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    thread_rows, item_rows = threads(thread_count), items(item_count)
    seed_host(host_db, thread_rows, item_rows)
    seed_baseline(baseline_db, thread_rows, item_rows)


async def _create_host_schema(path: Path) -> None:
    store = await open_store(f"sqlite:///{path}")
    await store.close()


def _naive(value: datetime) -> str:
    """SQLAlchemy's storage format for a naive SQLite DATETIME."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")
