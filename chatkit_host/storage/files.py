"""Attachment bytes in any fsspec filesystem, and the signed URLs that reach them.

Bytes live under `<owner>/<id>`, where `<owner>` is a digest of the user id and `<id>` a server-made
attachment id (`atc_<hex>`) or generated-image id (`img_<hex>`); names a client sends never become
paths, so there is no path traversal to guard against beyond checking ids against `SAFE_ID`.

Blocking fsspec calls run in a worker thread: `file://`, `memory://` and `s3://` (whose sync API
drives its own event loop) all behave the same from the server's loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from chatkit_host.config.files import FilesConfig
from chatkit_host.errors import ConfigError, ConfigProblem

SAFE_ID = re.compile(r"^(atc|img)_[0-9a-f]{32}$")
"""The only ids that name stored bytes."""

_OPTIONAL_BACKENDS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure"}


def owner_key(user_id: str) -> str:
    """The folder of a user's files, and the owner a signed file URL names (`o=`): a digest, so user
    ids (emails…) never appear in storage paths or URLs."""
    return hashlib.sha256(b"chatkit-host/owner\x00" + user_id.encode()).hexdigest()[:32]


class FileStorage:
    """Bytes by key (`owner/id`) under the root of an fsspec filesystem."""

    def __init__(self, fs: Any, root: str):
        self.fs = fs
        self.root = root.rstrip("/")

    @classmethod
    def open(cls, config: FilesConfig, base_dir: Path) -> FileStorage:
        """The storage `files.url` names; a relative `file://` path is relative to `base_dir`.

        Raises:
            ConfigError: unknown protocol, or its fsspec backend is not installed (with the fix).
        """
        import fsspec

        protocol, _, rest = config.url.partition("://")
        if protocol == "file":
            root = Path(rest) if rest.startswith("/") else base_dir / rest
            root.mkdir(parents=True, exist_ok=True)
            rest = str(root.resolve())
        try:
            fs = fsspec.filesystem(protocol, **config.options)
        except ImportError:
            extra = _OPTIONAL_BACKENDS.get(protocol, protocol)
            raise ConfigError(ConfigProblem(
                f"file storage '{protocol}://' needs a package that is not installed",
                key="files.url", hint=f"pip install 'chatkit-host[{extra}]'",
            )) from None
        except (ValueError, TypeError) as error:
            raise ConfigError(ConfigProblem(
                f"cannot open file storage '{protocol}://': {error}", key="files.url",
                hint="check files.url and files.options",
            )) from None
        return cls(fs, rest)

    def path(self, owner: str, ident: str) -> str:
        if not SAFE_ID.fullmatch(ident) or not re.fullmatch(r"[0-9a-f]{32}", owner):
            raise FileNotFoundError(ident)
        return f"{self.root}/{owner}/{ident}"

    async def write(self, owner: str, ident: str, data: bytes) -> None:
        path = self.path(owner, ident)

        def write() -> None:
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            self.fs.pipe_file(path, data)

        await asyncio.to_thread(write)

    async def read(self, owner: str, ident: str) -> bytes:
        """The bytes; `FileNotFoundError` when there are none."""
        path = self.path(owner, ident)
        return await asyncio.to_thread(self.fs.cat_file, path)

    async def delete(self, owner: str, ident: str) -> None:
        """Remove the bytes; nothing to remove is fine."""
        path = self.path(owner, ident)

        def delete() -> None:
            try:
                self.fs.rm_file(path)
            except FileNotFoundError:
                pass

        await asyncio.to_thread(delete)


@dataclass(frozen=True)
class UrlSigner:
    """HMAC-signed, expiring URLs: `?o=<owner>&e=<unix expiry>&s=<signature>`.

    A signature covers the purpose (`preview`, `upload`), the owner, the id and the expiry, so a
    preview URL cannot be turned into an upload URL nor moved to another file or user.
    """

    secret: bytes
    """The key (see `storage.url_keys`: `files.secret`, or one the host keeps to itself)."""
    ttl: int

    def signature(self, purpose: str, owner: str, ident: str, expires: int) -> str:
        message = f"{purpose}\x00{owner}\x00{ident}\x00{expires}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def query(self, purpose: str, owner: str, ident: str, now: float | None = None) -> str:
        expires = int((now or time.time()) + self.ttl)
        signature = self.signature(purpose, owner, ident, expires)
        return urlencode({"o": owner, "e": expires, "s": signature})

    def verify(self, purpose: str, ident: str, params: dict[str, str]) -> str | None:
        """The owner a signed URL grants, or None (bad signature, or expired)."""
        owner, expires, signature = params.get("o", ""), params.get("e", ""), params.get("s", "")
        expiry = _expiry(expires)
        if expiry is None or expiry < time.time() or not signature.isascii():
            return None
        expected = self.signature(purpose, owner, ident, expiry)
        return owner if hmac.compare_digest(expected, signature) else None

    def needs_refresh(self, url: str) -> bool:
        """Whether a URL of ours expires within half its lifetime (so a page read now lasts)."""
        expiry = _expiry(parse_qs(urlsplit(url).query).get("e", [""])[0])
        return expiry is None or expiry - time.time() < self.ttl / 2


def _expiry(text: str) -> int | None:
    """A link's expiry, or None for anything but a plain ASCII number of at most 12 digits.

    `str.isdigit` also takes "²" and Arabic-Indic digits (which `int` then refuses or reads), and
    `int` refuses more than 4,300 digits: a link's text must not reach either (#18).
    """
    if not (text.isascii() and text.isdigit() and len(text) <= 12):
        return None
    return int(text)
