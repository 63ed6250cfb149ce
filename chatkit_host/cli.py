"""`chatkit-host`: the click group, with serve, validate, init and schema; the other commands live in
`commands/` and are imported only when run. The only module that imports uvicorn."""

from __future__ import annotations

import errno
import ipaddress
import json
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from chatkit_host.commands.lazy import LazyCommand, LazyGroup

# The configuration, the runtime and the SDKs under them are imported by the commands that use
# them: `serve` imports them with the garbage collector paused (see heap.py).
if TYPE_CHECKING:
    from rich.console import Console

    from chatkit_host.config.models import ChatKitConfig
    from chatkit_host.errors import ConfigProblem
    from chatkit_host.runtime.build import Runtime


@cache
def _console(stderr: bool) -> Console:
    # rich is for validate's and init's styled output; serve's one line does not need it.
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=stderr)


def out() -> Console:
    return _console(False)


def err() -> Console:
    return _console(True)


CONFIG_OPTION = click.option(
    "--config", "-c", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    default=lambda: os.environ.get("CHATKIT_HOST_CONFIG", "chatkit.yaml"),
    show_default="chatkit.yaml", help="The configuration file.",
)


# Commands that live in their own modules, one line each: imported only when run.
COMMAND_MODULES = {
    "test": LazyCommand("chatkit_host.commands.conversations:test_command",
                        "Run conversation tests (YAML) over the real endpoint with the scripted model."),
    "graph": LazyCommand("chatkit_host.commands.graph:graph_command",
                         "Print the agents, tools and handoffs as a Mermaid diagram."),
    "import": LazyCommand("chatkit_host.commands.importer:import_group",
                          "Write a chatkit.yaml from code written for another runtime."),
    "widgets": LazyCommand("chatkit_host.commands.widgets:widgets",
                           "List the widgets of the widget folder, each with the schema of its data."),
    "chat": LazyCommand("chatkit_host.commands.chat:chat_command",
                        "Chat with a running host in the terminal."),
}


@click.group(cls=LazyGroup, lazy_commands=COMMAND_MODULES)
@click.version_option(package_name="chatkit-host")
def main() -> None:
    """A ChatKit backend from chatkit.yaml: agents, tools, widgets and storage, declared."""


@main.command()
@CONFIG_OPTION
def validate(config_path: Path) -> None:
    """Check the configuration and everything it uses; no network or model call."""
    runtime = _build_or_exit(config_path)
    config = runtime.config
    for problem in _missing_credentials(runtime):
        err().print(f"Warning: {problem.render(Path.cwd())} (serve will refuse to start without it)",
                    soft_wrap=True, markup=False)
    out().print(
        f"[green]✓[/] {config_path} is valid: {len(config.agents)} agent(s), "
        f"{len(config.tools)} tool(s), {_entry(config)}."
    )


@main.command()
@CONFIG_OPTION
@click.option("--host", help="Interface to bind (overrides server.host).")
@click.option("--port", type=int, help="Port to listen on (overrides server.port).")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes (overrides server.workers).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.option("--reload", is_flag=True,
              help="Reload when a file the configuration uses changes; streams in flight finish first.")
def serve(config_path: Path, host: str | None, port: int | None, workers: int | None,
          log_level: str, reload: bool) -> None:
    """Serve the ChatKit endpoint described by the configuration."""
    from chatkit_host.heap import collector_paused

    with collector_paused():
        import uvicorn

        from chatkit_host.web.app import CONFIG_ENV, RELOAD_ENV, create_app
        from chatkit_host.host import Host
        from chatkit_host.observability import log_format

        runtime = _build_or_exit(config_path)
        server = runtime.config.server
        host = host or server.host
        port = server.port if port is None else port
        workers = workers or server.workers
        _refuse_open_host_without_auth(runtime, host)
        _refuse_missing_credentials(runtime)
        _refuse_unsigned_files(runtime, workers)
        _refuse_unusable_address(host, port)
        app = create_app(Host(runtime), reload=reload) if workers == 1 else None
    # One line format for the whole log, uvicorn's lines included (its own set-up is off:
    # log_config=None; worker processes set the format up when they make their app).
    log_format.configure(runtime.config.observability.logs)
    logging.getLogger("chatkit_host.serve").info(
        f"serving {config_path} at http://{_url_host(host)}:{port}{server.path} "
        f"({len(runtime.config.agents)} agent(s), {_entry(runtime.config)}, "
        f"{workers} worker(s){', reloading on change' if reload else ''})"
    )
    # ws="none": the host has no websocket route, and uvicorn would load a websocket implementation.
    options: dict[str, Any] = dict(host=host, port=port, log_level=log_level, log_config=None,
                                   timeout_graceful_shutdown=5, ws="none")
    if app is not None:
        uvicorn.run(app, **options)
        return
    # Worker processes each build their own app from the same file.
    os.environ[CONFIG_ENV] = str(config_path.resolve())
    os.environ[RELOAD_ENV] = "1" if reload else ""
    with _shared_metrics_directory():
        uvicorn.run("chatkit_host.web.app:app_from_environment", factory=True, workers=workers,
                    **options)


@contextmanager
def _shared_metrics_directory() -> Iterator[None]:
    """A fresh directory where the workers' metrics meet, so one scrape of `/metrics` counts them
    all (prometheus_client's multiprocess mode); removed when serve ends. One the operator set in
    the environment is used as it is."""
    from chatkit_host.observability.metrics import MULTIPROC_ENV

    if os.environ.get(MULTIPROC_ENV):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="chatkit-host-metrics-") as directory:
        # Workers are spawned after this, with this environment; this process counts nothing.
        os.environ[MULTIPROC_ENV] = directory
        try:
            yield
        finally:
            del os.environ[MULTIPROC_ENV]


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--template", metavar="airline|pet", default=None,
              help="Start from an example app instead of the minimal starter.")
def init(directory: Path, template: str | None) -> None:
    """Write a working starter project (offline demo model) into DIRECTORY."""
    from importlib import resources

    from chatkit_host.config.models import json_schema

    scaffold = resources.files("chatkit_host") / "scaffold"
    files: dict[str, str | bytes]
    if template is None:
        files = {
            "chatkit.yaml": (scaffold / "chatkit.yaml").read_text(),
            "agents/assistant.md": (scaffold / "assistant.md").read_text(),
            "demo.yaml": (scaffold / "demo.yaml").read_text(),
            "conversations/demo.yaml": (scaffold / "conversation.yaml").read_text(),
        }
    else:
        from chatkit_host.commands.templates import TEMPLATES, template_files

        if template not in TEMPLATES:
            raise click.BadParameter(f"{template!r} is not one of {', '.join(TEMPLATES)}", param_hint="'--template'")
        files = dict(template_files(template))
    files[".gitignore"] = (scaffold / "gitignore").read_text()
    files["chatkit.schema.json"] = json.dumps(json_schema(), indent=2) + "\n"
    existing = [name for name in files if (directory / name).exists()]
    if existing:
        err().print(f"Error: {directory} already has {', '.join(existing)}; nothing was written.")
        sys.exit(1)
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        out().print(f"  wrote {path}")
    out().print(f"Next: cd {directory} && chatkit-host serve (or --port N); chatkit-host test runs "
                "conversations/")


@main.command()
@click.option("--markdown", is_flag=True, help="Print the configuration reference as Markdown instead.")
def schema(markdown: bool) -> None:
    """Print the JSON Schema of chatkit.yaml (or its Markdown reference)."""
    from chatkit_host.config.models import json_schema

    if markdown:
        from chatkit_host.config.reference import markdown as reference

        click.echo(reference(), nl=False)
        return
    click.echo(json.dumps(json_schema(), indent=2))


def _build_or_exit(config_path: Path) -> Runtime:
    from chatkit_host.config.loader import LoadedConfig, load_config
    from chatkit_host.errors import ConfigError
    from chatkit_host.runtime.build import build_runtime

    if not config_path.is_file():
        err().print(f"Error: {config_path} not found (hint: `chatkit-host init` writes a starter project)")
        sys.exit(1)
    loaded: LoadedConfig | None = None
    try:
        loaded = load_config(config_path)
        runtime = build_runtime(loaded)
    except ConfigError as error:
        count = len(error.problems)
        for problem in error.problems:
            err().print(f"Error: {problem.render(Path.cwd())}", soft_wrap=True, markup=False)
        err().print(f"{count} problem(s) in {config_path}; the host was not started.")
        sys.exit(1)
    for warning in runtime.warnings:
        err().print(f"Warning: {warning.render(Path.cwd())}", soft_wrap=True, markup=False)
    return runtime


def _refuse_open_host_without_auth(runtime: Runtime, host: str) -> None:
    config = runtime.config
    if config.auth.mode != "none" or config.server.public_without_auth or _is_loopback(host):
        return
    err().print(
        f"Error: refusing to serve {host} with auth.mode: none — anyone who can reach it would be "
        "one shared user (hint: set auth.mode: bearer, bind 127.0.0.1, or set "
        "server.public_without_auth: true)"
    )
    sys.exit(1)


def _missing_credentials(runtime: Runtime) -> list[ConfigProblem]:
    from chatkit_host.config.credentials import missing_credentials

    return missing_credentials(runtime.loaded, os.environ)


def _refuse_missing_credentials(runtime: Runtime) -> None:
    problems = _missing_credentials(runtime)
    for problem in problems:
        err().print(f"Error: {problem.render(Path.cwd())}", soft_wrap=True, markup=False)
    if problems:
        err().print(f"{len(problems)} model provider(s) cannot answer; the host was not started.")
        sys.exit(1)


def _refuse_unusable_address(host: str, port: int) -> None:
    """Exit with a clear error when `host:port` cannot be bound, before saying "serving at"
    (uvicorn would print that line's counterpart, then fail with a bare errno)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # As uvicorn binds: a port in TIME_WAIT is usable, one with a listener is not.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            reason = f"port {port} is already in use on {host}"
            hint = f"serve on another port with --port {port + 1}, or stop what is using it"
        elif error.errno == errno.EACCES:
            reason = f"not allowed to listen on port {port}"
            hint = "ports below 1024 need privileges; use --port 8000"
        else:
            reason = f"cannot listen on {host}:{port}: {error.strerror or error}"
            hint = "check --host (or server.host): it must be an address of this machine"
        err().print(f"Error: {reason} (hint: {hint})", markup=False)
        sys.exit(1)


def _refuse_unsigned_files(runtime: Runtime, workers: int) -> None:
    from chatkit_host.storage import url_keys

    config = runtime.config
    reason = url_keys.without_secret(config.files, config.store.url, workers) if config.files else None
    if reason is not None:
        problem = runtime.loaded.problem(("files", "secret"), url_keys.not_set(reason), url_keys.HINT)
        err().print(f"Error: {problem.render(Path.cwd())}", soft_wrap=True, markup=False)
        sys.exit(1)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _entry(config: ChatKitConfig) -> str:
    """What answers each turn: `entry agent 'triage'` or `entry workflow 'support'`."""
    if config.entry_workflow is not None:
        return f"entry workflow '{config.entry_workflow}'"
    return f"entry agent '{config.entry_agent}'"
