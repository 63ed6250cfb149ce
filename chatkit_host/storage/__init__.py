"""Persistence of threads, items, attachment metadata and feedback (SQLite or PostgreSQL).

Open a store from the ``store.url`` of chatkit.yaml with :func:`open_store`; it implements the
ChatKit SDK's ``Store`` with every operation scoped to ``RequestContext.user_id``. What differs
between databases (engine settings, transaction runner, thread leases, outage errors) is in one
module per backend under `backends/`, listed in `backends.LISTED`.

May import: `config` and the foundation (`errors`, `refs`, `context`); storage knows nothing of
agents, the protocol or HTTP.
"""

from .engine import SUPPORTED_URLS, engine_for_url
from .store import SQLStore, new_id, open_store
from .tables import SCHEMA_VERSION, SchemaVersionError, ensure_schema

__all__ = [
    "SCHEMA_VERSION",
    "SUPPORTED_URLS",
    "SQLStore",
    "SchemaVersionError",
    "engine_for_url",
    "ensure_schema",
    "new_id",
    "open_store",
]
