"""`${VAR}` references in configuration values, filled from an environment passed in.

Syntax, in string values (never in keys):

- `${NAME}`: the variable's value; a problem when it is not set (set but empty is fine). The
  reference is then left as written, so the value keeps its type and only the one problem shows.
- `${NAME:-default}`: the variable's value, or `default` when it is unset or empty (as in a shell).
  The default is literal text up to the first `}`; references do not nest.
- `$${`: a literal `${`. A `$` anywhere else is literal too.

A reference may be written anywhere a value may, inside flow mappings and lists too
(`server: { port: ${PORT:-8000} }`): its braces, commas and colons are not YAML's.

A plain (unquoted) value that is exactly one reference is re-typed the way YAML types plain text,
so `port: ${PORT:-8000}` is the integer 8000 and `enabled: ${ON:-true}` a boolean. Quoting keeps a
string a string: `api_key: "${KEY}"` stays a string even when the key is all digits.

Everything here is pure: no `os.environ`, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

if TYPE_CHECKING:
    from chatkit_host.config.positions import KeyPath

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# One alternative per token, in priority order: escape, reference, and a `${` that starts neither.
_TOKEN = re.compile(rf"\$\$\{{|\$\{{({_NAME})(?::-([^}}]*))?\}}|\$\{{")
_WHOLE = re.compile(rf"\$\{{{_NAME}(?::-[^}}]*)?\}}")
_KEEP_AS_TEXT = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}
_IN_TEXT = re.compile(rf"\$\{{{_NAME}(?::-[^}}\n]*)?\}}")
# YAML's flow indicators and comment/key marks, and the private-use characters that stand in for
# them inside references while the text is parsed.
_SIGNIFICANT = "{}[],#:"
_STAND_INS = "".join(chr(0xE000 + index) for index in range(len(_SIGNIFICANT)))
_MASK = str.maketrans(_SIGNIFICANT, _STAND_INS)
_UNMASK = str.maketrans(_STAND_INS, _SIGNIFICANT)


def mask_references(text: str) -> str:
    """`text` with the YAML-significant characters of each `${...}` replaced by stand-ins of the
    same length, so a reference parses as plain text wherever it is written (in a flow mapping,
    after a `#`) and every line and column stays where it was. `unmask` puts them back.

    A text that already holds a stand-in character is returned as it is.
    """
    if any(char in text for char in _STAND_INS):
        return text
    return _IN_TEXT.sub(lambda match: match.group(0).translate(_MASK), text)


def unmask(text: str) -> str:
    """A string parsed from masked text, as it was written."""
    return text.translate(_UNMASK)


@dataclass(frozen=True)
class Expansion:
    """The result of expanding one string."""

    text: str
    """The string with every reference replaced (but unset variables without default)."""
    missing: tuple[str, ...] = ()
    """Variables that are unset and have no default, in order of first use."""
    malformed: bool = False
    """Whether some `${` starts no valid reference (it is left as written)."""
    whole: bool = False
    """Whether the string was exactly one reference (so its result may be re-typed)."""
    used: tuple[tuple[str, str], ...] = ()
    """(name, value) of each variable whose value was put in."""


@dataclass(frozen=True)
class EnvProblem:
    """A reference that could not be filled, at the key path of its value."""

    path: KeyPath
    message: str
    hint: str


def expand(text: str, environ: Mapping[str, str]) -> Expansion:
    """Replace the references in `text` with values from `environ`."""
    missing: list[str] = []
    used: list[tuple[str, str]] = []
    malformed = False

    def replace(match: re.Match[str]) -> str:
        nonlocal malformed
        token, name, default = match.group(0), match.group(1), match.group(2)
        if token == "$${":
            return "${"
        if name is None:
            malformed = True
            return token
        value = environ.get(name)
        if default is not None and not value:
            return default
        if value is None:
            if name not in missing:
                missing.append(name)
            return token
        used.append((name, value))
        return value

    expanded = _TOKEN.sub(replace, text)
    whole = _WHOLE.fullmatch(text) is not None
    return Expansion(expanded, tuple(missing), malformed, whole, tuple(used))


def retype(text: str) -> Any:
    """`text` typed as YAML types a plain scalar: `8000` → 8000, `true` → True, `` → None.

    Only scalars: a value like `[a, b]` stays the string it is, as do dates.
    """
    tag = Resolver().resolve(yaml.ScalarNode, text, (True, False))
    if tag in _KEEP_AS_TEXT:
        return text
    return SafeConstructor().construct_object(yaml.ScalarNode(tag, text))


@dataclass(frozen=True)
class ExpandedTree:
    """Data with every reference filled, and what it took."""

    data: Any
    problems: list[EnvProblem]
    values: dict[str, str]
    """Each environment value put in → the variable it came from (not defaults: they are in the
    file). Values like these must not appear in messages."""


def expand_tree(data: Any, environ: Mapping[str, str], is_plain: Callable[[KeyPath], bool]) -> ExpandedTree:
    """Expand every string value in `data` (a new structure is returned; `data` is not changed).

    `is_plain(path)` tells whether the string at `path` was written unquoted, which decides
    whether a whole-reference value is re-typed.
    """
    problems: list[EnvProblem] = []
    values: dict[str, str] = {}

    def walk(value: Any, path: KeyPath) -> Any:
        if isinstance(value, dict):
            return {key: walk(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, (*path, index)) for index, item in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value
        result = expand(value, environ)
        problems.extend(_problems(result, path))
        values.update((text, name) for name, text in result.used)
        retyped = result.whole and not result.missing and is_plain(path)
        return retype(result.text) if retyped else result.text

    return ExpandedTree(walk(data, ()), problems, values)


def _problems(result: Expansion, path: KeyPath) -> list[EnvProblem]:
    problems = [
        EnvProblem(path, f"environment variable {name} is not set",
                   f"set it, or give a default with ${{{name}:-...}}")
        for name in result.missing
    ]
    if result.malformed:
        problems.append(EnvProblem(path, "malformed environment reference: use ${NAME} or "
                                   "${NAME:-default}", "write $${ for a literal ${"))
    return problems
