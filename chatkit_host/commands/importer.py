"""`chatkit-host import agents-sdk FILE.py`: bring Agents SDK code (an Agent Builder export) over."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chatkit_host.importer import ExistingFiles, NoAgents, import_agents_sdk


@click.group("import")
def import_group() -> None:
    """Write a chatkit.yaml from code written for another runtime."""


@import_group.command("agents-sdk")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=".",
              show_default=True, help="Folder to write chatkit.yaml and agents/*.md into.")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def agents_sdk(source: Path, out_dir: Path, force: bool) -> None:
    """Translate the Agents SDK module SOURCE (read, never run) into chatkit.yaml and prompts.

    What does not map stays in the module; the checklist printed at the end lists each such thing
    at its line.
    """
    try:
        result = import_agents_sdk(source, out_dir, force=force)
    except SyntaxError as error:
        click.echo(f"Error: {source}:{error.lineno}: cannot parse the module: {error.msg}", err=True)
        sys.exit(1)
    except NoAgents:
        click.echo(f"Error: {source} has no module-level `name = Agent(...)`; nothing was written "
                   "(hint: agents built inside functions can be served by import path instead)", err=True)
        sys.exit(1)
    except ExistingFiles as error:
        names = ", ".join(str(path) for path in error.paths)
        click.echo(f"Error: {names} already exist; nothing was written (hint: --force overwrites them)",
                   err=True)
        sys.exit(1)
    for path in result.written:
        click.echo(f"  wrote {path}")
    if result.checklist:
        click.echo(f"\nNot translated ({len(result.checklist)}): the module stays the source for these.")
        for line in result.checklist:
            click.echo(line)
    else:
        click.echo("\nEverything translated.")
    config = out_dir / "chatkit.yaml"
    click.echo(f"\nNext: chatkit-host validate -c {config} && chatkit-host serve -c {config}")
