"""Keep the heap a server starts with out of the garbage collector's full passes.

After start-up the process holds a few hundred thousand long-lived objects (the SDKs' modules,
classes and pydantic schemas, the built runtime). Python's cyclic collector walks all of them on
every full collection: measured under streamed turns, ten full collections took 945 ms, the longest
128 ms, during which every stream in the process stalls (the host's p99 time to first event, issue
10). `gc.freeze()` moves them to a generation the collector never walks; objects created while
serving are collected as before.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_startup_heap() -> None:
    """Called once the server is ready to serve: everything alive now is treated as permanent."""
    global _frozen
    gc.freeze()
    _frozen = True


def thaw_after_reload() -> None:
    """A reload retires the runtime built at start-up, which was frozen with the rest: hand the
    frozen objects back to the collector so the retired runtime's cycles can be freed."""
    global _frozen
    if _frozen:
        gc.unfreeze()
        _frozen = False
