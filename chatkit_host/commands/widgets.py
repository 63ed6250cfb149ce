"""`chatkit-host widgets`: list the widgets with their data schema; `widgets render` renders one."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from chatkit_host.config.loader import LoadedConfig, load_config
from chatkit_host.config.widgets import widget_files, widget_folder
from chatkit_host.errors import ConfigError
from chatkit_host.runtime.widgets import WidgetError, WidgetLibrary, load_widgets, widget_json

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@click.group(invoke_without_command=True)
@click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=lambda: os.environ.get("CHATKIT_HOST_CONFIG", "chatkit.yaml"),
              show_default="chatkit.yaml", help="The configuration file.")
@click.pass_context
def widgets(ctx: click.Context, config_path: Path) -> None:
    """List the widgets of the widget folder, each with the schema of its data."""
    ctx.obj = config_path
    if ctx.invoked_subcommand is not None:
        return
    library, loaded, broken = _library(config_path)
    folder = widget_folder(loaded.config.widgets, loaded.base_dir)
    if not library.widgets and not broken:
        out.print(f"No widgets in {folder}.")
    for name, widget in library.widgets.items():
        out.print(f"[bold]{name}[/]  {widget.title} ({widget.file.name})")
        schema = {k: v for k, v in widget.data_schema.items() if k != "$schema"}
        click.echo("  data: " + (json.dumps(schema, indent=2).replace("\n", "\n  ") if schema.get("properties")
                                 else "none"))
    if broken:
        sys.exit(1)


@widgets.command()
@click.argument("name")
@click.option("--data", "data_file", type=click.File("r"), help="JSON file of the widget's data (- for stdin).")
@click.pass_obj
def render(config_path: Path, name: str, data_file: Any) -> None:
    """Print widget NAME rendered with the data in --data, or why it cannot be (exit 1)."""
    library, _, _ = _library(config_path)
    if name not in library:
        known = ", ".join(library.widgets) or "none"
        err.print(f"Error: unknown widget '{name}' (widgets: {known})", markup=False)
        sys.exit(1)
    try:
        data = json.load(data_file) if data_file is not None else {}
    except json.JSONDecodeError as error:
        err.print(f"Error: {data_file.name} is not JSON: {error}", markup=False)
        sys.exit(1)
    try:
        widget = library[name].render(data if isinstance(data, dict) else {"": data})
    except WidgetError as error:
        err.print(f"Error: widget '{name}': {error.reason}:", markup=False)
        for line in error.errors:
            err.print(f"  {line}", markup=False, soft_wrap=True)
        sys.exit(1)
    click.echo(json.dumps(widget_json(widget), indent=2, ensure_ascii=False))


def _library(config_path: Path) -> tuple[WidgetLibrary, LoadedConfig, bool]:
    """The widgets that load; broken ones are reported on stderr (the third value says if any)."""
    if not config_path.is_file():
        err.print(f"Error: {config_path} not found")
        sys.exit(1)
    try:
        loaded = load_config(config_path)
    except ConfigError as error:
        for problem in error.problems:
            err.print(f"Error: {problem.render(Path.cwd())}", markup=False, soft_wrap=True)
        sys.exit(1)
    config = loaded.config.widgets
    library, problems = load_widgets(widget_folder(config, loaded.base_dir), widget_files(config, loaded.base_dir))
    for problem in problems:
        err.print(f"Error: {problem.render(Path.cwd())}", markup=False, soft_wrap=True)
    return library, loaded, bool(problems)
