"""A click group whose commands live in their own modules and are imported only when run.

`serve` should not pay for what `test`, `chat` or `import` bring in (the Litestar test client, the
importer's AST walk, a terminal client): each named command's module is imported on first use.
"""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """A group with commands given as ``name: "module:attribute"``, imported when looked up."""

    def __init__(self, *args: object, lazy_commands: dict[str, str] | None = None,
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            module, _, attribute = self.lazy_commands[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)
