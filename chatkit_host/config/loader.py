"""Load chatkit.yaml: parse, fill `${VAR}`s, validate, check, and make paths absolute.

`load_config` either returns a `LoadedConfig` everything downstream can trust, or raises one
`ConfigError` listing every problem it found, each at its file, line and column. Messages name
keys, types and allowed values but never a configured value: values may be secrets from the
environment.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from chatkit_host.config.agent_checks import agent_code_files
from chatkit_host.config.checking import resolve_path
from chatkit_host.config.checks import check_config
from chatkit_host.config.entity_checks import entity_files
from chatkit_host.config.envvars import expand_tree
from chatkit_host.config.models import INSTRUCTIONS_FILE, ChatKitConfig
from chatkit_host.config.positions import KeyPath, Positions, dotted, read_yaml
from chatkit_host.config.schema_errors import pydantic_issues, schema_issues
from chatkit_host.config.widgets import widget_files
from chatkit_host.errors import ConfigError, ConfigProblem


@dataclass(frozen=True)
class LoadedConfig:
    """A configuration that passed every check, with its paths made absolute.

    Attributes:
        config: The validated configuration; instruction files and `scripted`/`record` paths
            are absolute.
        path: The absolute path of the YAML file.
        base_dir: The folder relative paths in the YAML are resolved against (the YAML's own).
        files: Every file the configuration is read from: the YAML, instruction files,
            scripted-model scripts (not `record`, which is written to), `.py` files agents
            come from and the widget files. Watch these to reload.
        instructions: Agent name → template source; files were read once, here. Agents from
            code without `instructions` have no entry.
        auth_tokens: Bearer token → user id, from either form of `auth.tokens`.
        positions: Where each key and value of the YAML is written.
    """

    config: ChatKitConfig
    path: Path
    base_dir: Path
    files: frozenset[Path]
    instructions: dict[str, str]
    auth_tokens: dict[str, str]
    positions: Positions = field(repr=False, compare=False)

    def problem(self, key_path: KeyPath, message: str, hint: str | None = None) -> ConfigProblem:
        """A problem at `key_path` of the YAML (or its nearest written ancestor), for errors found
        after loading, such as a tool that fails to import. Keep configured values out of it."""
        return _locate(self.path, self.positions, key_path, message, hint)


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Load and check the configuration at `path`, filling `${VAR}`s from `environ`
    (`os.environ` when None).

    Raises:
        ConfigError: with every problem found, in file order.
    """
    path = Path(os.path.abspath(path))
    document = read_yaml(path)
    expanded = expand_tree(document.data, os.environ if environ is None else environ,
                           document.positions.is_plain)
    where = _Locator(path, document.positions, expanded.values)
    problems = [ConfigProblem(p.message, path, p.mark.line, p.mark.column, dotted(p.path), p.hint)
                for p in document.problems]
    problems += [where.problem(p.path, p.message, p.hint) for p in expanded.problems]
    where.reported += [p.path for p in document.problems if p.value_lost]
    where.reported += [p.path for p in expanded.problems]
    config, invalid = _validate(expanded.data, where)
    problems += invalid
    if config is None:
        where.fail(problems)
    checked = check_config(config, path.parent, where.problem)
    problems += where.fresh(checked.problems)
    if problems:
        where.fail(problems)
    scripted = [resolve_path(path.parent, p.scripted) for p in config.models.providers.values() if p.scripted]
    return LoadedConfig(
        config=_with_absolute_paths(config, path.parent),
        path=path,
        base_dir=path.parent,
        files=frozenset({path, *checked.instruction_files.values(), *scripted,
                         *agent_code_files(config, path.parent), *entity_files(config, path.parent),
                         *widget_files(config.widgets, path.parent)}),
        instructions=checked.instructions,
        auth_tokens=checked.auth_tokens,
        positions=document.positions,
    )


def _validate(data: Any, where: _Locator) -> tuple[ChatKitConfig | None, list[ConfigProblem]]:
    """The config, and the schema's and the models' problems with it.

    With problems, the config (when there is one) is built from the data without the values they
    are about, defaults in their place: enough for the semantic checks to report other mistakes
    in the same pass. It is never handed out.
    """
    problems: list[ConfigProblem] = []
    cuts: list[KeyPath] = []
    issues = schema_issues(data)
    while True:  # ends: every round cuts a new value out, or returns
        problems += where.fresh(where.problem(i.path, i.message, i.hint, i.at_key) for i in issues)
        new_cuts = _cuts([issue.path for issue in issues])
        if new_cuts is None:
            return None, problems
        cuts += new_cuts
        where.reported += new_cuts
        usable = _without(data, cuts)
        try:
            return ChatKitConfig.model_validate(usable), problems
        except ValidationError as error:
            # A model error next to a cut value is likely caused by the cut: not reported.
            issues = [issue for issue in pydantic_issues(usable, error)
                      if not any(_related(issue.path, cut) for cut in cuts)]
            if not issues:
                return None, problems


def _related(path: KeyPath, other: KeyPath) -> bool:
    return path[: len(other)] == other or other[: len(path)] == path


_STAND_INS: dict[KeyPath, Any] = {
    ("agents",): {"instructions": "stand-in"},
    ("tools",): {"python": "chatkit_host:stand_in"},
    ("models", "providers"): {},
    ("forms",): [{"id": "stand_in", "question": "stand-in"}],
}
"""Mappings whose keys are names other parts of the file refer to, and a valid value that keeps
such a name declared while its own value is broken."""


def _cuts(paths: list[KeyPath]) -> list[KeyPath] | None:
    """What to drop from the data to leave out `paths`, or None when dropping would make checks lie.

    A whole list goes (dropping one item would shift the indexes checks report), and a named agent,
    tool, provider or form is replaced by a stand-in (`_stand_in`) rather than dropped: references
    to it would look unknown. A path that holds a whole named mapping cannot go.
    """
    cuts = []
    for path in paths:
        cut = next((path[:i] for i, part in enumerate(path) if isinstance(part, int)), path)
        named = [mapping for mapping in _STAND_INS if cut[: len(mapping)] == mapping]
        if not cut or any(len(cut) <= len(mapping) for mapping in named) \
                or any(mapping[: len(cut)] == cut for mapping in _STAND_INS):
            return None
        cuts.append(cut)
    return cuts


def _stand_in(cut: KeyPath) -> Any:
    """What replaces the value at `cut`: a stand-in for a named entry, else nothing."""
    for mapping, value in _STAND_INS.items():
        if len(cut) == len(mapping) + 1 and cut[: len(mapping)] == mapping:
            return copy.deepcopy(value)
    return _DROP


_DROP = object()


def _without(data: dict[str, Any], cuts: list[KeyPath]) -> dict[str, Any]:
    """A copy of `data` without the values at `cuts` (or with their stand-ins)."""
    data = copy.deepcopy(data)
    for cut in cuts:
        parent: Any = data
        for part in cut[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and cut[-1] in parent:
            stand_in = _stand_in(cut)
            if stand_in is _DROP:
                del parent[cut[-1]]
            else:
                parent[cut[-1]] = stand_in
    return data


class _Locator:
    """Locates problems at key paths of one YAML file, and raises them."""

    def __init__(self, path: Path, positions: Positions, secrets: Mapping[str, str]) -> None:
        self.path, self.positions = path, positions
        # Short values would mangle ordinary words; secrets are longer than this.
        self.secrets = {value: name for value, name in secrets.items() if len(value) >= 6}
        # Paths already reported (unset variable, bad tag, invalid value): a problem under one of
        # them is a knock-on effect, such as a wrong type, and is not reported again.
        self.reported: list[KeyPath] = []

    def problem(self, key_path: KeyPath, message: str, hint: str | None = None,
                at_key: bool = False) -> ConfigProblem:
        return _locate(self.path, self.positions, key_path, message, hint, at_key)

    def fresh(self, problems: Iterable[ConfigProblem]) -> list[ConfigProblem]:
        keys = [dotted(path) for path in self.reported]
        return [p for p in problems if not any(_under(p.key or "", key) for key in keys)]

    def fail(self, problems: list[ConfigProblem]) -> NoReturn:
        """Raise every distinct problem, this file's in file order first, then other files'.

        A value from the environment that a message does quote (a name in `unknown agent '…'`)
        is shown as the `${VAR}` it came from: it might be a secret in the wrong place.
        """
        unique = [self._scrub(p) for p in dict.fromkeys(problems)]
        unique.sort(key=lambda p: (p.file != self.path, str(p.file), p.line or 0, p.column or 0))
        raise ConfigError(unique)

    def _scrub(self, problem: ConfigProblem) -> ConfigProblem:
        message, hint = problem.message, problem.hint
        for value, name in sorted(self.secrets.items(), key=lambda item: -len(item[0])):
            message = message.replace(value, f"${{{name}}}")
            hint = hint.replace(value, f"${{{name}}}") if hint else hint
        return replace(problem, message=message, hint=hint)


def _under(key: str, ancestor: str) -> bool:
    return key == ancestor or key.startswith((f"{ancestor}.", f"{ancestor}["))


def _locate(file: Path, positions: Positions, key_path: KeyPath, message: str,
            hint: str | None = None, at_key: bool = False) -> ConfigProblem:
    mark = positions.key(key_path) if at_key else positions.at(key_path)
    return ConfigProblem(message, file, mark.line, mark.column, dotted(key_path) or None, hint)


def _with_absolute_paths(config: ChatKitConfig, base_dir: Path) -> ChatKitConfig:
    """`config` with instruction files, scripted/record paths and static folders absolute (models are frozen)."""

    def absolute(value: str) -> str:
        return str(resolve_path(base_dir, value))

    agents = {
        name: agent.model_copy(update={"instructions": absolute(agent.instructions)})
        if agent.instructions and INSTRUCTIONS_FILE.fullmatch(agent.instructions) else agent
        for name, agent in config.agents.items()
    }
    providers = {
        name: provider.model_copy(update={key: absolute(value) for key in ("scripted", "record")
                                          if (value := getattr(provider, key)) is not None})
        for name, provider in config.models.providers.items()
    }
    models = config.models.model_copy(update={"providers": providers})
    widgets = config.widgets.model_copy(update={"folder": absolute(config.widgets.folder)})
    server = config.server.model_copy(
        update={"static": {url: absolute(folder) for url, folder in config.server.static.items()}})
    return config.model_copy(update={"agents": agents, "models": models, "widgets": widgets, "server": server})
