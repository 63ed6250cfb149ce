"""The one way the host reads a YAML file: bounded, composed into nodes that keep their positions.

chatkit.yaml, scripted-model scripts, conversation tests and static entity lists all come through
`compose_file`, so they share one wording for what can go wrong (not found, not UTF-8, too big,
not YAML) and one bound on what a small file may cost. The bounds exist because YAML aliases
multiply: nine nested aliases nine times each ("billion laughs") make a 500-byte file stand for
hundreds of millions of values, and building them took minutes and gigabytes (#18). Callers walk
the returned nodes (their lines and columns are the file's) and never re-expand aliases past the
bound checked here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode

from chatkit_host.errors import ConfigError, ConfigProblem

MAX_BYTES = 1024 * 1024
"""The largest YAML file the host reads: hand-written files are far smaller, and parsing one this
size already takes seconds."""

MAX_ALIASED_VALUES = 10_000
"""How many values aliases may bring in, over the whole file (an alias of a list of 3 scalars
brings in 4). Sharing a block of settings a few dozen times stays far below it."""


def compose_file(file: Path, what: str = "file", missing_hint: str | None = None) -> Node | None:
    """The node tree of the one YAML document in `file`; None when it holds none (empty, only
    comments).

    Raises:
        ConfigError: the file cannot be read, is too big, is not UTF-8, is not YAML, or its
            aliases expand past `MAX_ALIASED_VALUES`; one problem, with line and column when the
            YAML is at fault.
    """
    return compose_text(read_text(file, what, missing_hint), file)


def read_text(file: Path, what: str = "file", missing_hint: str | None = None) -> str:
    """The text of `file`, at most `MAX_BYTES` of UTF-8.

    Raises:
        ConfigError: as `compose_file` for reading.
    """
    try:
        with file.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        _fail(ConfigProblem(f"{what} not found", file, hint=missing_hint))
    except OSError as error:
        _fail(ConfigProblem(f"{what} cannot be read: {error.strerror}", file))
    if len(data) > MAX_BYTES:
        _fail(ConfigProblem(f"{what} is larger than {MAX_BYTES // 1024 // 1024} MiB",
                            file, hint="a YAML file the host reads is at most 1 MiB"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        _fail(ConfigProblem(f"not UTF-8 text (byte {error.start})", file))


def compose_text(text: str, file: Path) -> Node | None:
    """`compose_file` for text already read from `file`."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        _fail(syntax_problem(file, error))
    finally:
        loader.dispose()


def syntax_problem(file: Path, error: yaml.MarkedYAMLError) -> ConfigProblem:
    """A parser's error in its own words, at its line and column.

    Only the parser's words: `str(error)` would quote a snippet of the file, which may hold a
    secret.
    """
    message = f"invalid YAML: {error.problem}"
    if error.context and error.context_mark:
        message += f" ({error.context} on line {error.context_mark.line + 1})"
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
    hint = "indent with spaces; YAML does not allow tabs" if "'\\t'" in str(error.problem) else None
    if isinstance(error, _TooManyAliases):
        hint = f"aliases may bring in at most {MAX_ALIASED_VALUES:,} values; write the values out"
    return ConfigProblem(message, file, line, column, hint=hint)


class _TooManyAliases(ComposerError):
    pass


class _BoundedLoader(yaml.SafeLoader):
    """A composer that counts what each alias brings in, and stops at the alias that goes too far.

    The size of every node (itself and everything under it, aliases expanded) is known once it is
    composed, so the count costs one addition per alias, whatever the nesting.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}
        self._aliased = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            mark = self.peek_event().start_mark
            node = super().compose_node(parent, index)
            # A node still being composed (an alias inside its own anchor) has no size yet: the
            # data builders report the loop.
            self._aliased += self._sizes.get(id(node), 1)
            if self._aliased > MAX_ALIASED_VALUES:
                raise _TooManyAliases(None, None, "aliases expand to too many values", mark)
            return node
        node = super().compose_node(parent, index)
        if node is not None:
            self._sizes[id(node)] = 1 + sum(self._sizes.get(id(child), 1) for child in _children(node))
        return node


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _fail(problem: ConfigProblem) -> NoReturn:
    raise ConfigError(problem)
