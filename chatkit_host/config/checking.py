"""What every semantic check uses: how a problem is located, did-you-mean hints, paths relative
to chatkit.yaml, import references and template syntax.

Messages may name agents, tools, providers and files (they are identifiers a person typed), but
never echo values such as tokens or keys, which may come from the environment.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from chatkit_host.config.positions import KeyPath, dotted
from chatkit_host.errors import ConfigProblem
from chatkit_host.refs import is_file_reference

_IDENT = r"[A-Za-z_]\w*"
_DOTTED = rf"{_IDENT}(?:\.{_IDENT})*"
_MODULE_REF = re.compile(rf"{_DOTTED}:{_DOTTED}")
_FILE_REF = re.compile(rf"[^:]+\.py:{_DOTTED}")


class ProblemAt(Protocol):
    """Makes a problem located at a key path of the YAML file."""

    def __call__(self, key_path: KeyPath, message: str, hint: str | None = None) -> ConfigProblem: ...


def suggest(name: str, known: Iterable[str], what: str, empty: str | None = None) -> str:
    """A hint for an unknown `name`: the closest of `known`, else `what: a, b`, else `empty`."""
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    if not known:
        return empty or f"there are no {what}"
    return f"{what}: " + ", ".join(known)


def resolve_path(base_dir: Path, value: str) -> Path:
    """`value` (relative to `base_dir`, or absolute) as a normalised absolute path."""
    return Path(os.path.normpath(base_dir / value))


def import_reference_hint(reference: str, what: str = "function") -> str | None:
    """None when `reference` looks like `module.path:attr` or `path/file.py:attr` (nothing is
    imported), else how to write it. What counts as a file reference is the runtime's rule
    (`refs.is_file_reference`)."""
    pattern = _FILE_REF if is_file_reference(reference) else _MODULE_REF
    if pattern.fullmatch(reference):
        return None
    module, _, attribute = reference.partition(":")
    if not attribute:
        hint = "name the function after a colon: package.module:function or ./file.py:function"
    elif "/" in module and not module.endswith(".py"):
        hint = "a file reference names a .py file: ./file.py:function"
    else:
        hint = "write package.module:function or ./file.py:function"
    return hint.replace("function", what)


def template_problems(
    environment: SandboxedEnvironment, source: str, path: KeyPath, problem: ProblemAt, file: Path | None
) -> list[ConfigProblem]:
    """A jinja2 syntax error, at the template file's own line, or at the inline text's key."""
    try:
        environment.parse(source)
    except TemplateSyntaxError as error:
        if file is not None:
            return [ConfigProblem(f"template syntax error: {error.message}", file=file,
                                  line=error.lineno, key=dotted(path))]
        return [problem(path, f"template syntax error on line {error.lineno} of the instructions: "
                              f"{error.message}")]
    return []
