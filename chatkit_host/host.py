"""The running host: the store, the file storage and the runtime in force.

The store lives beside the runtime, not inside it: swapping in a new runtime (hot reload) never
reopens the database. Each process has one Host; everything it holds in memory is derived from the
configuration files or lives in the database, so a second replica behaves the same.
"""

from __future__ import annotations

from datetime import datetime

from chatkit_host.auth import Authenticator
from chatkit_host.runtime.build import Runtime
from chatkit_host.protocol.server import HostServer
from chatkit_host.storage import url_keys
from chatkit_host.storage.attachments import HostAttachments
from chatkit_host.storage.store import SQLStore, open_store
from chatkit_host.protocol.turns import TurnLocks, turn_locks_for


class Host:
    """Owns what outlives a configuration: the store and the server; holds the current runtime."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.authenticator = _authenticator(runtime)
        self.last_error: str | None = None
        self.last_reload: datetime | None = None
        self.reloads = 0
        self.restart_needed: list[str] = []
        """Changes a reload cannot apply (server or store settings, modules imported by name)."""
        self._store: SQLStore | None = None
        self.attachments: HostAttachments | None = None
        """Attachment bytes and URLs (`files` in chatkit.yaml); opened with the store."""
        self._server: HostServer | None = None
        self._turns: TurnLocks | None = None

    @property
    def store(self) -> SQLStore:
        if self._store is None:
            raise RuntimeError("the host is not started")
        return self._store

    @property
    def turns(self) -> TurnLocks:
        """Leases threads so one turn at a time runs on each (see `chatkit_host.protocol.turns`)."""
        if self._turns is None:
            raise RuntimeError("the host is not started")
        return self._turns

    @property
    def server(self) -> HostServer:
        if self._server is None:
            raise RuntimeError("the host is not started")
        return self._server

    async def start(self) -> None:
        loaded = self.runtime.loaded
        files = loaded.config.files
        if files is not None and (unsigned := url_keys.refusal(files, loaded.config.store.url)):
            raise unsigned  # before the store opens: nothing to close
        self._store = await open_store(loaded.config.store.url, base_dir=loaded.base_dir)
        if files is not None:
            self.attachments = HostAttachments.open(files, loaded.base_dir, loaded.config.store.url, self._store)
        self._server = HostServer(self._store, lambda: self.runtime, self.attachments)
        self._turns = turn_locks_for(self._store, loaded.config.server)

    async def stop(self) -> None:
        if self._turns is not None:
            await self._turns.close()
            self._turns = None
        if self._store is not None:
            await self._store.close()
            self._store = None

    def swap(self, runtime: Runtime) -> None:
        """Put a new runtime in force. Streams already running keep the one they began with."""
        self.authenticator = _authenticator(runtime)
        self.runtime = runtime
        self.last_reload = runtime.built_at
        self.last_error = None
        self.reloads += 1

    def refresh(self, runtime: Runtime) -> None:
        """Put in force a runtime built again from the same files (same version): not a reload."""
        self.runtime = runtime


def _authenticator(runtime: Runtime) -> Authenticator:
    loaded = runtime.loaded
    return Authenticator(loaded.config.auth, loaded.auth_tokens, loaded.base_dir)
