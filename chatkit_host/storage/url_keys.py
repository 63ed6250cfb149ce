"""Where the key that signs file URLs comes from (#18).

A signed preview or upload URL is a capability: whoever can make the signature can read or write
any user's files. So the key is `files.secret` when it is set, and otherwise a random key this
host keeps to itself:

- beside a SQLite store, in `files.secret` next to the database file, created once with mode 0600
  (a restart keeps the links it handed out working; the processes of one machine share it);
- with `memory://`, in memory: the store, and every link into it, ends with the process.

A key of its own cannot serve several processes that do not share that folder, so without
`files.secret` the host refuses to serve a PostgreSQL store (replicas share it), files kept
anywhere but a local folder (`s3://`, …: other machines serve them), or several workers.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from chatkit_host.config.files import FilesConfig
from chatkit_host.errors import ConfigError, ConfigProblem
from chatkit_host.storage.backends import backend_for_scheme
from chatkit_host.storage.backends.sqlite import database_file

SECRET_FILE = "files.secret"
"""The kept key's file name, in the SQLite database's folder."""

HINT = ("set files.secret to a long random value, the same for every process, e.g. "
         "files.secret: ${CHATKIT_FILES_SECRET}")


def without_secret(config: FilesConfig, store_url: str, workers: int = 1) -> str | None:
    """Why this host cannot sign file URLs without `files.secret`, or None when it can."""
    if config.secret:
        return None
    if _backend(store_url) == "postgresql":
        return "the store is PostgreSQL, which replicas share: each would sign with a key of its own"
    protocol = config.url.partition("://")[0]
    if protocol not in ("file", "memory"):  # memory:// lives and dies with this one process
        return (f"files are kept at {protocol}://, which other machines may serve: each would sign "
                "with a key of its own")
    if workers > 1:
        return f"serve runs {workers} worker processes: every one must sign with the same key"
    return None


def refusal(config: FilesConfig, store_url: str, workers: int = 1) -> ConfigError | None:
    """The start-up error for a host that needs `files.secret` and has none."""
    reason = without_secret(config, store_url, workers)
    if reason is None:
        return None
    return ConfigError(ConfigProblem(not_set(reason), key="files.secret", hint=HINT))


def not_set(reason: str) -> str:
    return f"not set, and {reason}"


def signing_key(config: FilesConfig, store_url: str, base_dir: Path) -> bytes:
    """The key for `UrlSigner`: from `files.secret`, else kept beside the store (see above).

    Raises:
        ConfigError: the host needs `files.secret` (see `without_secret`).
    """
    if config.secret:
        return hashlib.sha256(config.secret.encode()).digest()
    error = refusal(config, store_url)
    if error is not None:
        raise error
    if _backend(store_url) != "sqlite":  # memory://
        return secrets.token_bytes(32)
    return bytes.fromhex(_kept(database_file(store_url, base_dir).parent / SECRET_FILE))


def _backend(store_url: str) -> str | None:
    backend = backend_for_scheme(store_url.partition("://")[0])
    return backend.name if backend else None


def _kept(path: Path) -> str:
    """The hex key in ``path``, made first if there is none. Written to a private file of its own
    and linked into place, so processes starting at once agree on one key and none reads half."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            draft.unlink()
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # copied or unpacked with looser rights: the key is a password
    key = path.read_text().strip()
    if len(key) < 32 or any(c not in "0123456789abcdef" for c in key):
        raise ConfigError(ConfigProblem(
            f"{path} does not hold a key this host made", key="files.secret",
            hint=f"delete {path} to make a new one (links handed out before stop working), or set files.secret"))
    return key
