"""Load chatkit.yaml: parse, fill `${VAR}`s, validate, check, and make paths absolute.

`load_config` either returns a `LoadedConfig` everything downstream can trust, or raises one
`ConfigError` listing every problem it found, each at its file, line and column. Messages name
keys, types and allowed values but never a configured value: values may be secrets from the
environment.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as JsonSchemaError
from pydantic import ValidationError

from chatkit_host.config.checks import (
    agent_code_files, check_config, entity_files, resolve_path, suggest,
)
from chatkit_host.config.envvars import expand_tree
from chatkit_host.config.models import INSTRUCTIONS_FILE, ChatKitConfig, json_schema
from chatkit_host.config.positions import KeyPath, Positions, dotted, read_yaml
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
    issues = _schema_issues(data)
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
            issues = [issue for issue in _pydantic_issues(usable, error)
                      if not any(_related(issue.path, cut) for cut in cuts)]
            if not issues:
                return None, problems


def _related(path: KeyPath, other: KeyPath) -> bool:
    return path[: len(other)] == other or other[: len(path)] == path


_NAMED = (("agents",), ("tools",), ("models", "providers"), ("forms",))
"""Mappings whose keys are names other parts of the file refer to."""


def _cuts(paths: list[KeyPath]) -> list[KeyPath] | None:
    """What to drop from the data to leave out `paths`, or None when dropping would make checks lie.

    A whole list goes (dropping one item would shift the indexes checks report), and a path that
    is, or holds, a named agent, tool or provider cannot go: references to it would look unknown.
    """
    cuts = []
    for path in paths:
        cut = next((path[:i] for i, part in enumerate(path) if isinstance(part, int)), path)
        if not cut or cut == ("models",) or any(_names_or_holds(cut, named) for named in _NAMED):
            return None
        cuts.append(cut)
    return cuts


def _names_or_holds(cut: KeyPath, named: KeyPath) -> bool:
    """Whether `cut` is the mapping `named` or one entry of it."""
    return cut[: len(named)] == named and len(cut) <= len(named) + 1


def _without(data: dict[str, Any], cuts: list[KeyPath]) -> dict[str, Any]:
    """A copy of `data` without the values at `cuts`."""
    data = copy.deepcopy(data)
    for cut in cuts:
        parent = data
        for part in cut[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(cut[-1], None)
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
    """`config` with instruction files and scripted/record paths absolute (models are frozen)."""

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
    return config.model_copy(update={"agents": agents, "models": models, "widgets": widgets})


# --- Schema and model errors, in plain words ---------------------------------------------------
# jsonschema's and pydantic's own messages quote the offending value, so none of them is used
# as is: each message is rebuilt from the kind of error and the schema alone.

_TYPE_NAMES = {"string": "a string", "integer": "an integer", "number": "a number",
               "boolean": "true or false", "object": "a mapping", "array": "a list", "null": "empty"}
_BOUNDS = {"minimum": "at least", "maximum": "at most",
           "exclusiveMinimum": "greater than", "exclusiveMaximum": "less than"}
_SIZES = {"minLength": ("at least", "characters long"), "maxLength": ("at most", "characters long"),
          "minItems": ("at least", "items"), "maxItems": ("at most", "items"),
          "minProperties": ("at least", "entries"), "maxProperties": ("at most", "entries")}


@dataclass(frozen=True)
class _Issue:
    """A problem found in the data, before it is given a line: `at_key` points at the key."""

    path: KeyPath
    message: str
    hint: str | None = None
    at_key: bool = False


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json_schema())


def _schema_issues(data: Any) -> list[_Issue]:
    """Every way `data` breaks the JSON Schema of chatkit.yaml."""
    return [issue for error in _relevant(_validator().iter_errors(data)) for issue in _issues(error)]


def _relevant(errors: Iterable[JsonSchemaError]) -> list[JsonSchemaError]:
    """`errors` without type errors where the allowed values are listed anyway (`mode: 5`)."""
    errors = list(errors)
    listed = {tuple(e.absolute_path) for e in errors if e.validator in ("enum", "const")}
    return [e for e in errors if not (e.validator == "type" and tuple(e.absolute_path) in listed)]


def _issues(error: JsonSchemaError) -> list[_Issue]:
    path = tuple(error.absolute_path)
    kind, expected, instance = error.validator, error.validator_value, error.instance
    if kind in ("anyOf", "oneOf"):
        return _alternatives(error)
    if kind == "additionalProperties" and expected is False:
        allowed = list(error.schema.get("properties", {}))
        return [_Issue((*path, key), f"unknown key '{key}'", suggest(key, allowed, "allowed keys"), True)
                for key in instance if key not in allowed]
    if kind == "required":
        return [_Issue(path, f"'{key}' is required") for key in expected if key not in instance]
    if kind == "type":
        return [_type_issue(path, [_either(_types(error))], instance)]
    return [_Issue(path, _constraint(kind, expected))]


def _type_issue(path: KeyPath, shapes: list[str], instance: Any) -> _Issue:
    # Quoting helps `model: 4`, not `titles: 5`, where a string is one shape among others.
    quote = shapes == ["a string"] and isinstance(instance, (int, float, bool))
    return _Issue(path, f"expected {' or '.join(shapes)}, got {_type_name(instance)}",
                  "quote it to make it a string" if quote else None)


def _constraint(kind: str, expected: Any) -> str:
    """A sentence for a constraint on a value of the right type."""
    if kind == "enum":
        return "must be one of: " + ", ".join(_literal(value) for value in expected)
    if kind == "const":
        return f"must be {_literal(expected)}"
    if kind in _BOUNDS:
        return f"must be {_BOUNDS[kind]} {expected}"
    if kind in _SIZES:
        if expected == 1 and kind.startswith("min"):
            return "must not be empty"
        bound, unit = _SIZES[kind]
        return f"must be {bound} {expected} {unit}"
    if kind == "pattern":
        return f"does not match the expected format (the pattern {expected})"
    return f"is not valid here (it breaks the schema's '{kind}' rule)"


def _alternatives(error: JsonSchemaError) -> list[_Issue]:
    """Explain the alternative the value was most likely meant to be, not all of them.

    An alternative whose type the value has is the one meant; when none has, the message lists
    what each would take. `null` alternatives are not mentioned: leaving a key out does that.
    """
    path = tuple(error.absolute_path)
    branches: dict[int, list[JsonSchemaError]] = {}
    for sub in error.context or []:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    mismatched = {index for index, errors in branches.items()
                  if any(_types(e) for e in errors if not e.relative_path)}
    shapes = [shape for i in sorted(mismatched) if (shape := _shape(branches[i]))]
    fitting = [errors for i, errors in branches.items() if i not in mismatched]
    if not fitting:
        return [_type_issue(path, shapes or ["empty"], error.instance)]
    issues = [issue for sub in _relevant(min(fitting, key=len)) for issue in _issues(sub)]
    if shapes:  # `titles: foo` is told about `{agent: NAME}` too
        also = f"it may also be {' or '.join(shapes)}"
        issues = [_Issue(i.path, i.message, also, i.at_key) if i.path == path and not i.hint else i
                  for i in issues]
    return issues


def _shape(errors: list[JsonSchemaError]) -> str | None:
    """What a mismatched alternative takes, in words: its values if it lists them, else its type."""
    for error in errors:
        if not error.relative_path and error.validator == "enum":
            return "one of: " + ", ".join(_literal(value) for value in error.validator_value)
        if not error.relative_path and error.validator == "const":
            return _literal(error.validator_value)
    types = [t for e in errors if not e.relative_path for t in _types(e) if t != "null"]
    return _either(types) if types else None


def _types(error: JsonSchemaError) -> list[str]:
    """The JSON types a `type` error wanted (none for other errors)."""
    if error.validator != "type":
        return []
    wanted = error.validator_value
    return [wanted] if isinstance(wanted, str) else list(wanted)


def _pydantic_issues(data: Any, error: ValidationError) -> list[_Issue]:
    """Model-validator and other errors pydantic finds after the schema passed."""
    issues = []
    for detail in error.errors(include_url=False, include_input=False):
        path = _data_path(data, detail["loc"])
        kind, message = detail["type"], detail["msg"]
        if kind == "value_error":  # our validators' messages, written without values
            message = str(detail.get("ctx", {}).get("error", message))
        elif kind in ("byte_size", "byte_size_unit"):  # pydantic quotes the unit it could not read
            issues.append(_Issue(path, "must be a size such as 4MB, 512KB or a number of bytes",
                                 "units are B, KB, MB, GB, TB and KiB, MiB, GiB, TiB"))
            continue
        issues.append(_Issue(path, message[:1].lower() + message[1:]))
    return issues


def _data_path(data: Any, loc: tuple[int | str, ...]) -> KeyPath:
    """The key path in `data` that pydantic's `loc` means: loc also names union members."""
    path: list[str | int] = []
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            continue
        path.append(part)
    return tuple(path)


def _either(types: list[str]) -> str:
    names = list(dict.fromkeys(_TYPE_NAMES.get(t, t) for t in types))
    return " or ".join(names)


def _type_name(value: Any) -> str:
    """What a value is, in words, without saying what it is exactly."""
    for kind, name in ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"),
                       (dict, "a mapping"), (list, "a list")):
        if isinstance(value, kind):
            return name
    return "nothing" if value is None else f"a {type(value).__name__}"


def _literal(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
