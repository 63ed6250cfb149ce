"""A click group whose commands live in their own modules and are imported only when run.

`serve` should not pay for what `test`, `chat` or `import` bring in (the Litestar test client, the
importer's AST walk, a terminal client), and `chatkit-host --help` should pay for none of them:
each named command's module is imported on first use, and the command list shows the one-line
help registered beside it (a test keeps it equal to the command's own).
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import click


class LazyCommand(NamedTuple):
    """Where a command lives (``"module:attribute"``) and its one-line help."""

    target: str
    short_help: str


class LazyGroup(click.Group):
    """A group with commands given as ``name: LazyCommand``, imported when looked up to run."""

    def __init__(self, *args: Any, lazy_commands: dict[str, LazyCommand] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            target = self.lazy_commands[cmd_name].target
            module, _, attribute = target.partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{target} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, without importing the commands not yet loaded."""
        rows = []
        for name in self.list_commands(ctx):
            limit = formatter.width - 6 - len(name)  # as click.Group lays it out
            if name not in self.commands:
                stand_in = click.Command(name, help=self.lazy_commands[name].short_help)
                rows.append((name, stand_in.get_short_help_str(limit)))
            elif not self.commands[name].hidden:
                rows.append((name, self.commands[name].get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
