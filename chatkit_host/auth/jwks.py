"""Public keys for RS256 tokens: a JSON Web Key Set from a file or a URL.

A URL is fetched on first use and again after `jwks_ttl` seconds; a token naming a key id the set
does not have refetches early (at most every `MIN_REFETCH` seconds), so a provider's key rotation
needs no restart and a flood of forged key ids cannot turn into a flood of fetches. When a fetch
fails, the keys fetched last stay in use. A file is re-read when its modification time changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt

logger = logging.getLogger("chatkit_host.auth")

MIN_REFETCH = 10.0
"""Seconds between two fetches of a JWKS URL triggered by unknown key ids."""
FETCH_TIMEOUT = 5.0
"""Seconds a JWKS fetch may take; a request waits at most this long for keys."""


class KeysUnavailable(Exception):
    """No key can check this token (unknown key id, unreadable or unreachable key set)."""


def parse_key_set(text: str | bytes) -> dict[str | None, Any]:
    """Key id → public key of the signing keys in a JWKS document.

    Raises:
        KeysUnavailable: The document is not JSON or holds no usable key.
    """
    try:
        key_set = jwt.PyJWKSet.from_dict(json.loads(text))
    except (ValueError, TypeError, AttributeError, jwt.PyJWTError) as error:
        raise KeysUnavailable(f"not a usable JWKS: {error}") from None
    return {key.key_id: key.key for key in key_set.keys if key.public_key_use in (None, "sig")}


def pick(keys: dict[str | None, Any], key_id: str | None) -> Any | None:
    """The key ``key_id`` names; without a key id, the only key of a one-key set."""
    if key_id is None:
        return next(iter(keys.values())) if len(keys) == 1 else None
    return keys.get(key_id)


class FileKeys:
    """A JWKS file, re-read when it changes."""

    def __init__(self, path: Path):
        self._path = path
        self._stamp: int | None = None
        self._keys: dict[str | None, Any] = {}

    def load(self) -> dict[str | None, Any]:
        try:
            stamp = self._path.stat().st_mtime_ns
            if stamp != self._stamp:
                self._keys, self._stamp = parse_key_set(self._path.read_bytes()), stamp
        except OSError as error:
            raise KeysUnavailable(f"cannot read {self._path}: {error.strerror}") from None
        return self._keys

    async def key(self, key_id: str | None) -> Any:
        found = pick(self.load(), key_id)
        if found is None:
            raise KeysUnavailable(f"no key with id {key_id!r} in {self._path}")
        return found


class UrlKeys:
    """A JWKS URL, fetched with a TTL; concurrent requests share one fetch."""

    def __init__(self, url: str, ttl: float):
        self._url = url
        self._ttl = ttl
        self._keys: dict[str | None, Any] = {}
        self._expires = float("-inf")
        self._attempted_at = float("-inf")
        self._failed_at = float("-inf")
        self._lock = asyncio.Lock()
        self.fetches = 0
        """How many times the URL was fetched (successfully or not)."""

    async def key(self, key_id: str | None) -> Any:
        if self._due():
            await self._refresh(self._due)
        found = pick(self._keys, key_id)
        if found is None and self._may_retry():
            await self._refresh(lambda: pick(self._keys, key_id) is None and self._may_retry())
            found = pick(self._keys, key_id)
        if found is None:
            raise KeysUnavailable(f"no key with id {key_id!r} at {self._url}")
        return found

    def _due(self) -> bool:
        now = time.monotonic()
        return now >= self._expires and now - self._failed_at >= MIN_REFETCH

    def _may_retry(self) -> bool:
        return time.monotonic() - self._attempted_at >= MIN_REFETCH

    async def _refresh(self, still_needed: Callable[[], bool]) -> None:
        async with self._lock:
            if not still_needed():  # another request fetched while this one waited
                return
            self.fetches += 1
            self._attempted_at = time.monotonic()
            try:
                async with httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=False) as http:
                    response = await http.get(self._url, headers={"Accept": "application/json"})
                response.raise_for_status()
                keys = parse_key_set(response.content)
            except (httpx.HTTPError, KeysUnavailable) as error:
                # Keep the last good keys; try again no sooner than MIN_REFETCH from now.
                logger.warning("cannot fetch the JWKS at %s: %s", self._url, error)
                self._failed_at = time.monotonic()
                return
            self._keys = keys
            self._expires = time.monotonic() + self._ttl
            self._failed_at = float("-inf")
