"""Hot reload: watch the files the configuration uses, build a new runtime beside the old, swap.

`serve --reload` runs one `ConfigWatcher` per process (each worker of `--workers N` runs its own,
from its app's lifespan). On a change it loads and builds a new `Runtime` in a thread, off the
request path, and puts it in force with `Host.swap`: a stream in flight keeps the runtime it began
with, the next request gets the new one, and the store is never reopened. A bad edit changes
nothing that serves: the last good runtime stays, and every problem is logged with its file and line
and shown at `GET /healthz` until a later edit fixes it.

What is watched comes from the newest successful load (`LoadedConfig.files`: the YAML, instruction
files, scripted-model scripts and whatever else the loader reads, plus the files of `./file.py:attr`
references), and the config's folder, for files that appear later (a new widget, a missing file
created at last). See docs/reload.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sys
import time
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path

from watchfiles import Change, awatch

from chatkit_host.observability import metrics
from chatkit_host.config.loader import load_config
from chatkit_host.errors import ConfigError
from chatkit_host.host import Host
from chatkit_host.refs import referenced_files, referenced_modules
from chatkit_host.runtime.build import Runtime, build_runtime
from chatkit_host.runtime.state import stored_misfits as misfits_of

logger = logging.getLogger("chatkit_host.reload")

DEBOUNCE_MS = 50
"""Longest time changes are grouped before a reload (watchfiles' default, 1600 ms, feels stuck)."""
STEP_MS = 25
"""Quiet time after a change before the group is handed over: an editor's save is one group."""

CONFIG_SUFFIXES = frozenset(
    {".yaml", ".yml", ".md", ".markdown", ".txt", ".j2", ".jinja", ".jinja2", ".widget", ".json", ".py"}
)
"""Files in the config's folder whose appearance or change is worth a reload attempt. Logs, the
database and recordings (`.log`, `.db`, `.jsonl`) change all the time while serving: never these."""
IGNORED_PARTS = frozenset({"__pycache__", "node_modules"})
RESTART_SECTIONS = ("server", "store", "files")
"""Sections read once, at start: the app's routes and the store and file storage it opened."""
GUARDED_SETTINGS = (("auth",), ("server", "host"), ("server", "public_without_auth"), ("server", "cors"),
                    ("files", "secret"))
"""Who may call and from where, and the key of signed links (#18). A reload never changes them:
an edit that does is refused as a whole, so a save cannot open a running host (bearer to
`auth: none` on a public address) past the checks `serve` makes at start."""


@dataclass(frozen=True)
class Watched:
    """What one runtime's watcher looks at."""

    roots: frozenset[Path]
    """Folders watched recursively: the config's own and those of files outside it."""
    files: frozenset[Path]
    """Every file the runtime was built from; a change to any of them reloads."""
    written: frozenset[Path]
    """Files the host itself writes (scripted-model recordings): their changes are ignored."""
    imported: dict[Path, str]
    """Source file → module name, for `package.module:attr` references to the project's own code:
    those modules are not reloaded, so a change to one means a restart."""

    def wants(self, path: Path) -> bool:
        if path in self.files:
            return True
        if path in self.written:
            return False
        # A new folder counts too: a file written into it at once can beat the watch on it (an
        # inotify race), and the reload its creation triggers finds that file anyway.
        if path.suffix not in CONFIG_SUFFIXES and not path.is_dir():
            return False
        root = next((root for root in self.roots if path.is_relative_to(root)), None)
        parts = path.relative_to(root).parts if root else ()
        return root is not None and not any(
            part.startswith(".") or part in IGNORED_PARTS for part in parts
        )


def watched(runtime: Runtime) -> Watched:
    """The files and folders to watch for ``runtime``."""
    loaded = runtime.loaded
    base_dir = _real(loaded.base_dir)
    files = frozenset(
        _real(path) for path in loaded.files | referenced_files(loaded.config, loaded.base_dir)
    )
    providers = loaded.config.models.providers.values()
    written = frozenset(_real(Path(p.record)) for p in providers if p.record)
    imported = _project_modules(referenced_modules(loaded.config), base_dir)
    outside = {path.parent for path in files | imported.keys() if not path.is_relative_to(base_dir)}
    return Watched(frozenset({base_dir, *outside}), files | imported.keys(), written, imported)


class ConfigWatcher:
    """Reloads ``host``'s configuration whenever a file it uses changes, until stopped."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.path = host.runtime.loaded.path
        self.first = host.runtime
        self._imported_notes: list[str] = []
        self._stop = asyncio.Event()
        self._reloading = asyncio.Lock()
        self._looking_at = watched(host.runtime)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        _make_visible(logger)
        self._task = asyncio.create_task(self._watch(), name="chatkit-host config watcher")

    async def stop(self) -> None:
        self._stop.set()  # the watch thread checks it every STEP_MS
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass

    async def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                await self._watch_until_roots_change()
            except Exception:  # a vanished folder, a full inotify table: keep serving, try again
                logger.exception("watching %s failed; retrying in 1 s", self.path.parent)
                await asyncio.sleep(1)

    async def _watch_until_roots_change(self) -> None:
        self._looking_at = looking_at = watched(self.host.runtime)
        changes = awatch(
            *looking_at.roots, watch_filter=self._wants, debounce=DEBOUNCE_MS, step=STEP_MS,
            stop_event=self._stop,
        )
        # An edit saved after the configuration was read but before the watch began would go
        # unseen: check once the watch is up (awatch sets it up before its first wait).
        catch_up = asyncio.create_task(self._catch_up())
        try:
            async with aclosing(changes) as batches:
                async for batch in batches:
                    wanted = sorted({Path(path) for _, path in batch})
                    self._note_imported_changes(looking_at, wanted)
                    await self.reload(wanted)
                    # From the newest good load: a new instruction file or widget is watched now.
                    roots = looking_at.roots
                    self._looking_at = looking_at = watched(self.host.runtime)
                    if looking_at.roots != roots:
                        break  # watch the new folders from a fresh watcher
        finally:
            await catch_up

    async def _catch_up(self) -> None:
        await asyncio.sleep(STEP_MS / 1000)
        await self.reload()

    def _wants(self, change: Change, path: str) -> bool:
        # Runs for every change in the watched folders, the database's and the logs' included:
        # keep it cheap, and keep those out of the log.
        return self._looking_at.wants(Path(path))

    async def reload(self, changed: list[Path] | None = None) -> bool:
        """Load and build the configuration again; swap it in if it is good and new.

        Returns whether a new runtime is in force. Never raises: a bad configuration is logged
        and shown at /healthz while the previous runtime keeps serving.
        """
        async with self._reloading:  # one at a time, so an older build never replaces a newer
            return await self._reload(changed)

    async def _reload(self, changed: list[Path] | None) -> bool:
        started = time.perf_counter()
        current = self.host.runtime
        try:
            runtime = await asyncio.to_thread(_load_and_build, self.path, self._looking_at.files)
        except ConfigError as error:
            self._refuse(error.render(current.loaded.base_dir).splitlines())
            return False
        except Exception as error:  # a loader bug or an unexpected OS error: still never fatal
            logger.exception("reloading %s failed", self.path)
            self._refuse([f"{self.path.name}: cannot reload: {type(error).__name__}: {error}"])
            return False
        guarded = self._guarded_changes(runtime)
        if guarded:
            self._refuse(guarded)
            return False
        misfit = await self._state_misfit(current, runtime)
        if misfit is not None:
            self._refuse([misfit])
            return False
        if runtime.version == current.version and self.host.last_error is None:
            # A touched file, an unrelated file in the folder: nothing to announce. Still put the
            # fresh build in force: the one serving may have read a file just before a save that
            # its version already counts (a save during start-up), and this one read it whole.
            self.host.refresh(runtime)
            return False
        self.host.restart_needed = self._restart_needed(runtime)
        self.host.swap(runtime)
        metrics.reload_finished(ok=True)
        elapsed = (time.perf_counter() - started) * 1000
        shown = ", ".join(_shown(path, current.loaded.base_dir) for path in changed or [])
        logger.info("reloaded %s (version %s, %.0f ms)%s", self.path.name, runtime.version, elapsed,
                    f" after a change to {shown}" if shown else "")
        return True

    async def _state_misfit(self, current: Runtime, runtime: Runtime) -> str | None:
        """Why a changed `state` schema cannot apply: saved thread states that do not fit it (with
        its defaults filled in). Applying it would leave those threads refusing every change."""
        new = runtime.config.state
        if new is None or new == current.config.state:
            return None
        try:
            count, examples = await misfits_of(self.host.store, new)
        except Exception as error:  # the store is down: the schema cannot be checked, so not applied
            logger.warning("cannot check the stored thread states: %s", error)
            return runtime.loaded.problem(("state", "properties"), "the stored thread states could not be "
                                          f"checked against the new schema ({type(error).__name__})").render(
                                              runtime.loaded.base_dir)
        if count == 0:
            return None
        problem = runtime.loaded.problem(
            ("state", "properties"),
            f"the state saved for {count} thread(s) does not fit the new schema: {' | '.join(examples)}",
            "keep the change compatible (a new property with a default, a wider limit), or restart to "
            "apply it anyway")
        return problem.render(runtime.loaded.base_dir)

    def _refuse(self, lines: list[str]) -> None:
        metrics.reload_finished(ok=False)
        self.host.last_error = "\n".join(lines)
        for line in lines:
            logger.error("%s", line)
        logger.error("the configuration is not reloaded (%d problem(s)); version %s keeps serving",
                     len(lines), self.host.runtime.version)

    def _guarded_changes(self, runtime: Runtime) -> list[str]:
        """A line for each guarded setting that differs from those the process started with."""
        lines = []
        for key_path in GUARDED_SETTINGS:
            if _setting(self.first.config, key_path) != _setting(runtime.config, key_path):
                key = ".".join(key_path)
                problem = runtime.loaded.problem(
                    key_path, f"changed: {key} is not changed by a reload; restart the host to apply it",
                    "until then the settings it started with stay in force")
                lines.append(problem.render(runtime.loaded.base_dir))
        return lines

    def _restart_needed(self, runtime: Runtime) -> list[str]:
        """What differs from the configuration the process started with and a swap cannot change."""
        first, new = self.first.config, runtime.config
        changed = [section for section in RESTART_SECTIONS
                   if getattr(first, section, None) != getattr(new, section, None)]
        notes = [f"the {section} settings changed: restart to apply them" for section in changed]
        for note in notes:
            if note not in self.host.restart_needed:
                logger.warning("%s", note)
        return [*notes, *self._imported_notes]

    def _note_imported_changes(self, looking_at: Watched, paths: list[Path]) -> None:
        for path in paths:
            module = looking_at.imported.get(path)
            note = (f"{_shown(path, self.path.parent)} changed: module '{module}' is referenced by "
                    "import path and is not reloaded; restart to use the change")
            if module is not None and note not in self._imported_notes:
                logger.warning("%s", note)
                self._imported_notes.append(note)
                self.host.restart_needed = [*self.host.restart_needed, note]


def _setting(config: object, key_path: tuple[str, ...]) -> object:
    for key in key_path:
        config = getattr(config, key, None)
    return config


def _load_and_build(path: Path, files: frozenset[Path]) -> Runtime:
    """Load and build until no file changed while being read (three tries at most).

    Files are read one by one, and the runtime's version from a digest taken after: a save in
    between would give new content's version to old content. ``files``: those expected to be read.
    """
    for _ in range(3):
        before = _fingerprint(files)
        runtime = build_runtime(load_config(path))
        files = watched(runtime).files
        if _fingerprint(files) == before:
            break
    return runtime


def _fingerprint(files: frozenset[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path).encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"\0missing")
    return digest.hexdigest()


def _project_modules(names: frozenset[str], base_dir: Path) -> dict[Path, str]:
    """Source file → name of the imported modules that live in the project's folder."""
    found: dict[Path, str] = {}
    for name in names:
        file = getattr(sys.modules.get(name), "__file__", None)
        if file and _real(Path(file)).is_relative_to(base_dir):
            found[_real(Path(file))] = name
    return found


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _shown(path: Path, base_dir: Path) -> str:
    try:
        return str(path.relative_to(_real(base_dir)))
    except ValueError:
        return str(path)


def _make_visible(target: logging.Logger) -> None:
    """Show reload messages on stderr unless the application configured logging itself."""
    if logging.getLogger().handlers or target.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("chatkit-host: %(levelname)s: %(message)s"))
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    target.propagate = False
