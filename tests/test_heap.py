"""The startup heap is kept out of full garbage collections, and a reload does not pin the runtime
it retires (chatkit_host/heap.py)."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path


from chatkit_host.config.loader import load_config
from chatkit_host.heap import collector_paused, freeze_startup_heap
from chatkit_host.host import Host
from chatkit_host.runtime.build import build_runtime
from chatkit_host.testing import run_host
from projects import base_config, write_project


async def test_a_serving_app_freezes_its_startup_heap(tmp_path: Path) -> None:
    try:
        async with run_host(write_project(tmp_path, base_config())) as running:
            assert (await running.http.get("/healthz")).status_code == 200
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_a_reload_keeps_the_startup_heap_frozen_and_frees_the_runtimes_it_retires(tmp_path: Path) -> None:
    """Thawing the start-up heap on a reload made the next full collection walk all of it on the
    event loop: the first reload stalled every request for up to a second (#18 F5)."""
    path = write_project(tmp_path, base_config())
    host = Host(build_runtime(load_config(path, environ={})))
    try:
        freeze_startup_heap()
        frozen = gc.get_freeze_count()
        host.swap(build_runtime(load_config(path, environ={})))
        # Agents hold each other through their handoffs: only the cyclic collector frees them.
        retired = weakref.ref(host.runtime.entry)
        host.swap(build_runtime(load_config(path, environ={})))
        gc.collect()
        assert gc.get_freeze_count() > 0.9 * frozen  # only what the retired runtime alone held went
        assert retired() is None
        assert host.reloads == 2
    finally:
        gc.unfreeze()


def test_the_start_runs_without_collections_and_ends_frozen() -> None:
    collections: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(note)
    try:
        with collector_paused():
            made = [[index] for index in range(10_000)]  # many times gen0's threshold
            assert not gc.isenabled()
        assert collections == []
        assert gc.isenabled()
        # What the start made is frozen, not left in the youngest generation to be walked.
        assert gc.get_freeze_count() >= len(made)
    finally:
        gc.callbacks.remove(note)
        gc.unfreeze()
