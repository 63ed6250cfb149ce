"""Walking YAML files node by node, so every problem has its line and column.

Every YAML file is read by `yaml_reader.compose_file` (one bound, one wording for what can go
wrong); scripted-model files and conversation tests are then walked here, while chatkit.yaml and
static entity lists are turned into data with positions by `positions.py`. A walker collects
problems as it goes and returns placeholders after one, so a single pass reports everything wrong
with a file.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

from chatkit_host.errors import ConfigError, ConfigProblem


class NodeReader:
    """Base for a file's reader: problems located at nodes, and mappings with known keys."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[ConfigProblem] = []

    def problem(self, node: yaml.Node | None, key: str | None, message: str,
                hint: str | None = None) -> None:
        mark = node.start_mark if node is not None else None
        self.problems.append(ConfigProblem(
            message, file=self.path, line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None, key=key, hint=hint,
        ))

    def fields(self, node: yaml.MappingNode, where: str | None,
               allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
        """The mapping's value nodes by key; unknown keys are reported with a did-you-mean."""
        found: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            name = str(key_node.value)
            if name in allowed:
                found[name] = value_node
            else:
                hint = did_you_mean(name, allowed, f"expected one of: {', '.join(allowed)}")
                self.problem(key_node, join_key(where, name), f"unknown key '{name}'", hint)
        return found

    def raise_problems(self) -> None:
        """Raise every problem found, in file order; nothing when there is none."""
        if self.problems:
            raise ConfigError(sorted(self.problems, key=lambda p: (p.line or 0, p.column or 0)))


def node_value(node: yaml.Node) -> Any:
    """The plain data a node stands for, as `yaml.safe_load` would build it."""
    return yaml.SafeLoader("").construct_object(node, deep=True)


def did_you_mean(name: str, choices: tuple[str, ...], otherwise: str | None) -> str | None:
    close = difflib.get_close_matches(name, choices, n=1)
    return f"did you mean '{close[0]}'?" if close else otherwise


def join_key(where: str | None, name: str) -> str:
    """`replies[0]` + `steps` → `replies[0].steps`."""
    return f"{where}.{name}" if where else name
