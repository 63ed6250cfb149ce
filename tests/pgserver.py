"""A throwaway PostgreSQL server for the test suite.

``start_postgres()`` runs ``initdb`` and ``pg_ctl`` into a fresh temporary directory (in
/dev/shm when available), listening only on 127.0.0.1 (and a Unix socket inside that directory)
on a free port, with durability switched off for speed. ``PostgresServer.stop()`` stops it and
removes the directory.

PostgreSQL refuses to run as root; under root the server runs as the ``postgres`` system user,
which then owns the temporary directory.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SUPERUSER = "postgres"
_SEARCH_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/pgsql-15/bin")
_START_ATTEMPTS = 3  # a free port can be taken between picking it and the server binding it


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be started; the message says why (with the server log)."""


@dataclass
class PostgresServer:
    """A running server; ``url()`` gives asyncpg URLs for its databases."""

    port: int
    root: Path
    bin_dir: Path
    run_as: str | None
    host: str = "127.0.0.1"
    _stopped: bool = field(default=False, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql+asyncpg://`` URL for ``database`` as the superuser (trust auth)."""
        return f"postgresql+asyncpg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """The same as :meth:`url` for plain asyncpg / libpq."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def halt(self) -> None:
        """Stop the server but keep its data: ``resume()`` starts it again.

        A fast shutdown (what a restart does): clients are disconnected and the WAL is flushed.
        Not ``immediate``: with this server's ``synchronous_commit=off`` a crash may drop the last
        commits, which would be the test server's doing, not the host's."""
        _run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w",
              "stop"], self.run_as, cwd=self.root, check=True)

    def begin_smart_stop(self) -> None:
        """Ask for a smart shutdown and return at once: sessions already open go on, and every new
        connection is refused with "the database system is shutting down" (SQLSTATE 57P03, what
        clients meet while a restart is under way) until the last session leaves and the server
        stops. Follow with ``wait_stopped()`` and ``resume()``."""
        _run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "smart", "-W", "stop"],
             self.run_as, cwd=self.root, check=True)

    def wait_stopped(self, timeout: float = 30.0) -> None:
        """Wait until the server has stopped (its pid file is gone)."""
        deadline = time.monotonic() + timeout
        while (self.data_dir / "postmaster.pid").exists():
            if time.monotonic() > deadline:
                raise PostgresUnavailable("PostgreSQL did not stop")
            time.sleep(0.02)

    def resume(self, timeout: float = 30.0) -> None:
        """Start a halted server again on the same port, with the same data."""
        result = _run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.root / "server.log"),
             "-o", _options(self.root, self.port), "-w", "-t", str(int(timeout)), "start"],
            self.run_as, cwd=self.root, check=False,
        )
        if result.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl start failed ({result.returncode}):\n{result.stdout}")
        _wait_for_port(self.port, timeout)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its directory. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        try:
            _run(
                [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w",
                 "stop"],
                self.run_as,
                cwd=self.root,
                check=False,
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(timeout: float = 30.0) -> PostgresServer:
    """Initialize and start a throwaway server; ``stop()`` it when done.

    Raises:
        PostgresUnavailable: No PostgreSQL binaries, or initdb / start-up failed.
    """
    bin_dir = _find_bin_dir()
    run_as = SUPERUSER if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="chatkit-pg-", dir=_scratch_dir()))
    try:
        if run_as is not None:
            # The server user must own its data directory; /tmp itself is world-traversable.
            shutil.chown(root, user=run_as)
        _initdb(bin_dir, root, run_as)
        server = _start(bin_dir, root, run_as, timeout)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    # Belt and braces: never leave a postgres running if the session dies without teardown.
    atexit.register(server.stop)
    return server


def _scratch_dir() -> str | None:
    """A RAM-backed directory when there is one: CREATE DATABASE is ~10x faster there than on
    a disk-backed /tmp, even with fsync off. ``None`` means the default temporary directory."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return str(shm)
    return None


def _find_bin_dir() -> Path:
    initdb = shutil.which("initdb")
    candidates = [Path(initdb).resolve().parent] if initdb else []
    candidates += [Path(directory) for directory in _SEARCH_DIRS]
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    raise PostgresUnavailable(
        "PostgreSQL binaries (initdb, pg_ctl) not found on PATH nor in " + ", ".join(_SEARCH_DIRS)
    )


def _initdb(bin_dir: Path, root: Path, run_as: str | None) -> None:
    result = _run(
        [
            str(bin_dir / "initdb"),
            "-D", str(root / "data"),
            "-U", SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",  # the cluster is thrown away: no need to fsync it
        ],
        run_as,
        cwd=root,
        check=False,
    )
    if result.returncode != 0:
        raise PostgresUnavailable(f"initdb failed ({result.returncode}):\n{result.stdout}")


def _start(bin_dir: Path, root: Path, run_as: str | None, timeout: float) -> PostgresServer:
    log = root / "server.log"
    failure = ""
    for _ in range(_START_ATTEMPTS):
        port = _free_port()
        options = _options(root, port)
        result = _run(
            [str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-l", str(log), "-o", options,
             "-w", "-t", str(int(timeout)), "start"],
            run_as,
            cwd=root,
            check=False,
        )
        if result.returncode == 0:
            server = PostgresServer(port=port, root=root, bin_dir=bin_dir, run_as=run_as)
            try:
                _wait_for_port(port, timeout)
            except BaseException:
                server.stop()
                raise
            return server
        failure = f"pg_ctl start failed ({result.returncode}):\n{result.stdout}\n{_tail(log)}"
    raise PostgresUnavailable(failure)


def _options(root: Path, port: int) -> str:
    return " ".join(
        [
            "-c listen_addresses=127.0.0.1",
            f"-p {port}",
            f"-k {root}",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            "-c max_connections=200",
        ]
    )


def _run(
    command: list[str], run_as: str | None, *, cwd: Path, check: bool
) -> subprocess.CompletedProcess[str]:
    if run_as is not None:
        command = ["runuser", "-u", run_as, "--", *command]
    return subprocess.run(
        command,
        cwd=cwd,
        check=check,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, timeout: float) -> None:
    """pg_ctl -w waits for the server to accept connections; this only double-checks TCP."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise PostgresUnavailable(f"PostgreSQL did not listen on port {port}") from None
            time.sleep(0.05)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"
