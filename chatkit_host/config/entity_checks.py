"""Checks of the `entities` section: sources' files, previews and import paths."""

from __future__ import annotations

from pathlib import Path

from chatkit_host.config.checking import ProblemAt, import_reference_hint, resolve_path, suggest
from chatkit_host.config.models import ChatKitConfig
from chatkit_host.config.positions import KeyPath
from chatkit_host.config.widgets import widget_names
from chatkit_host.errors import ConfigProblem


def check_entities(config: ChatKitConfig, base_dir: Path, problem: ProblemAt) -> list[ConfigProblem]:
    """`entities` sources: previews name widget files, static files exist, `python` is an import
    path. (Entities inside a static file, and preview data, are checked when the runtime is built.)"""
    if config.entities is None:
        return []
    widgets = widget_names(config.widgets, base_dir)
    no_widgets = f"no widget files in {config.widgets.folder}"
    problems: list[ConfigProblem] = []
    for index, source in enumerate(config.entities.sources):
        path: KeyPath = ("entities", "sources", index)
        if isinstance(source.static, str) and not resolve_path(base_dir, source.static).is_file():
            problems.append(problem((*path, "static"), f"entities file {source.static} not found",
                                    "paths are relative to chatkit.yaml"))
        for number, entity in enumerate(source.static if isinstance(source.static, list) else []):
            if entity.preview is not None and entity.preview.widget not in widgets:
                name = entity.preview.widget
                problems.append(problem((*path, "static", number, "preview", "widget"), f"unknown widget '{name}'",
                                        suggest(name, widgets, "widgets", no_widgets)))
        hint = None if source.python is None else import_reference_hint(source.python)
        if hint is not None:
            problems.append(problem((*path, "python"), "is not an import path of a function", hint))
    return problems


def entity_files(config: ChatKitConfig, base_dir: Path) -> set[Path]:
    """The files static entity lists are read from (watched for reload, like prompts)."""
    sources = config.entities.sources if config.entities is not None else []
    return {resolve_path(base_dir, source.static) for source in sources if isinstance(source.static, str)}
