"""Keep the heap a server starts with out of the garbage collector's full passes.

After start-up the process holds a few hundred thousand long-lived objects (the SDKs' modules,
classes and pydantic schemas, the built runtime). Python's cyclic collector walks all of them on
every full collection: measured under streamed turns, ten full collections took 945 ms, the longest
128 ms, during which every stream in the process stalls (the host's p99 time to first event, issue
10). `gc.freeze()` moves them to a generation the collector never walks; objects created while
serving are collected as before.

A reload does not thaw the frozen heap (#18 F5). Thawing handed the ~370,000 start-up objects back
to the collector so the retired start-up runtime could be freed, and the next full collection —
on the event loop, under load — walked them all: the first reload stalled every request for
0.85-1.1 s (`bench/reload_stall.py`), and every later full collection walked the whole heap again.
Kept frozen, the start-up runtime's cyclic part stays in memory once retired: ~4,800 objects,
about 3 MB for the example project, once per process (runtimes built by reloads are made after the
freeze and are freed as usual).

The collector is also kept out of the start itself: while `serve` imports the SDKs and builds
the app it would run some 570 times, four of them full passes over everything made so far, for
~200 ms of a ~1.4 s start, and find almost nothing to free.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

def freeze_startup_heap() -> None:
    """Called once the server is ready to serve: everything alive now is treated as permanent."""
    gc.freeze()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the start-up in the block without cyclic collections, then freeze what it made.

    Freezing at the end, not just turning the collector back on, matters: every object made
    meanwhile is still in the youngest generation, and the first collection would walk them all.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        freeze_startup_heap()
        if enabled:
            gc.enable()
