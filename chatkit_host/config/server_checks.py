"""Checks of the `server` section: static folders exist and hide none of the host's own routes."""

from __future__ import annotations

from pathlib import Path

from chatkit_host.config.checking import ProblemAt, resolve_path
from chatkit_host.config.models import ChatKitConfig
from chatkit_host.config.positions import KeyPath
from chatkit_host.errors import ConfigProblem


def check_static(config: ChatKitConfig, base_dir: Path, problem: ProblemAt) -> list[ConfigProblem]:
    """`server.static`: each folder exists, and no URL path hides one of the host's own routes."""
    own = {config.server.path.rstrip("/"): "the ChatKit endpoint", "/healthz": "the health route",
           "/metrics": "the metrics route"}
    playground = config.client.playground
    if playground.enabled or (playground.enabled is None and config.auth.mode == "none"):
        own[playground.path.rstrip("/") or "/"] = "the playground"
    if config.files is not None:
        own[config.files.route.rstrip("/")] = "the file routes"
    problems: list[ConfigProblem] = []
    for url, folder in config.server.static.items():
        where: KeyPath = ("server", "static", url)
        if not resolve_path(base_dir, folder).is_dir():
            problems.append(problem(where, f"folder {folder} not found", "paths are relative to chatkit.yaml"))
        clash = next((name for path, name in own.items() if url == path or path.startswith(url + "/")), None)
        if clash is not None:
            problems.append(problem(where, f"{url} would hide {clash}", "serve the folder under another path"))
    return problems
