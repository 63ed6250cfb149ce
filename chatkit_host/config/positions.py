"""Turn a YAML file into plain data while remembering where every key and value is written.

chatkit.yaml (`read_yaml`) and static entity lists (`read_document`) come through here, read by
`yaml_reader.compose_file` like every YAML file the host reads.

pyyaml's `safe_load` forgets positions and silently keeps the last of two equal keys. Here the node
tree is composed and turned into data by hand, so each key path (`("agents", "triage", "tools", 0)`)
maps to a line and column, and duplicate keys, unsupported tags and recursive aliases become
problems instead of surprises.

Data conventions a caller may rely on: mappings become `dict` with `str` keys (a key is always the
text it is written as, so `on:` is `"on"`, not `True`), sequences become `list`, and scalars the JSON
types (`str`, `int`, `float`, `bool`, `None`). Timestamps and binary scalars stay strings: the
configuration has no date fields, and a string is what a schema error can explain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, cast

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from chatkit_host.config.envvars import mask_references, unmask
from chatkit_host.config.yaml_reader import compose_file, compose_text, read_text
from chatkit_host.errors import ConfigError, ConfigProblem

KeyPath = tuple[str | int, ...]
"""Where a value is: mapping keys and list indexes from the top of the document."""

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_KEEP_AS_TEXT = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}
_INIT_HINT = "`chatkit-host init` makes a working one"


@dataclass(frozen=True)
class Mark:
    """A 1-based line and column."""

    line: int
    column: int

    @classmethod
    def of(cls, mark: yaml.Mark) -> Mark:
        return cls(mark.line + 1, mark.column + 1)


@dataclass(frozen=True)
class NodeProblem:
    """Something wrong with the document's structure, found while building its data."""

    path: KeyPath
    mark: Mark
    message: str
    hint: str | None = None
    value_lost: bool = False
    """Whether the value at `path` could not be built (it is None in the data)."""


def dotted(path: KeyPath) -> str:
    """`("agents", "triage", "handoffs", 0)` → `agents.triage.handoffs[0]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class Positions:
    """Where each key and value of one YAML document is written.

    Every lookup accepts any key path: a path that is not in the document (a default, a key
    that should have been there) falls back to its nearest written ancestor, so a problem always
    gets a line.
    """

    def __init__(self) -> None:
        self._keys: dict[KeyPath, Mark] = {}
        self._values: dict[KeyPath, Mark] = {}
        self._containers: set[KeyPath] = set()
        self._plain: set[KeyPath] = set()

    def key(self, path: KeyPath) -> Mark:
        """Where the key of `path` is written (its value's start for list items and the root)."""
        for prefix in _prefixes(path):
            if prefix in self._keys:
                return self._keys[prefix]
            if prefix in self._values:
                return self._values[prefix]
        return Mark(1, 1)

    def value(self, path: KeyPath) -> Mark:
        """Where the value of `path` starts."""
        for prefix in _prefixes(path):
            if prefix in self._values:
                return self._values[prefix]
        return Mark(1, 1)

    def at(self, path: KeyPath) -> Mark:
        """The best place to point at for a problem with `path`: a scalar's value, or the key that
        introduces a mapping or list (its first line is often just the first child)."""
        if path in self._values and path not in self._containers:
            return self._values[path]
        return self.key(path)

    def is_plain(self, path: KeyPath) -> bool:
        """Whether `path` is a string written without quotes or block indicators, i.e. a scalar
        whose type YAML guesses from its text."""
        return path in self._plain

    def _record(self, path: KeyPath, node: Node, key_node: Node | None) -> None:
        self._values[path] = Mark.of(node.start_mark)
        if key_node is not None:
            self._keys[path] = Mark.of(key_node.start_mark)
        if not isinstance(node, ScalarNode):
            self._containers.add(path)
        elif node.tag == _STR_TAG and node.style is None:
            self._plain.add(path)


def _prefixes(path: KeyPath) -> Iterator[KeyPath]:
    """`path` and then each ancestor, up to and including the root `()`."""
    for end in range(len(path), -1, -1):
        yield path[:end]


@dataclass
class Document:
    """A parsed YAML document: its data, where everything is, and what was wrong with it."""

    data: Any
    positions: Positions
    problems: list[NodeProblem] = field(default_factory=list)


def read_yaml(file: Path) -> Document:
    """Read and parse `file`, whose top level must be a mapping.

    Raises:
        ConfigError: the file cannot be read, is not YAML, is empty or is not a mapping.
    """
    text = read_text(file, "configuration file", _INIT_HINT)
    # `${VAR}`s are hidden from YAML while it parses, so `{ port: ${PORT:-8000} }` is a flow
    # mapping with one value, not a syntax error; same-length masks keep every column.
    masked = mask_references(text)
    document = _document(compose_text(masked, file), unmask if masked != text else str)
    if document is None or document.data is None:  # nothing, only comments, or a lone `---`
        _fail(ConfigProblem("the file is empty", file, hint=_INIT_HINT))
    if not isinstance(document.data, dict):
        mark = document.positions.value(())
        found = "a list" if isinstance(document.data, list) else "a single value"
        message = f"the top level must be a mapping of settings (agents:, models:, …), got {found}"
        _fail(ConfigProblem(message, file, mark.line, mark.column, hint=_INIT_HINT))
    return document


def _fail(problem: ConfigProblem) -> NoReturn:
    raise ConfigError(problem)


def read_document(file: Path, what: str = "file") -> Document | None:
    """`file` as data with positions; None when it holds no document (empty, only comments).

    Raises:
        ConfigError: as `yaml_reader.compose_file`.
    """
    return _document(compose_file(file, what))


def _document(root: Node | None, unmasked: Callable[[str], str] = str) -> Document | None:
    if root is None:
        return None
    builder = _Builder(unmasked)
    data = builder.build(root, (), None)
    return Document(data, builder.positions, builder.problems)


class _Builder:
    """Turns a composed node tree into data, recording positions and problems on the way."""

    def __init__(self, unmasked: Callable[[str], str]) -> None:
        self.unmasked = unmasked
        self.positions = Positions()
        self.problems: list[NodeProblem] = []
        self._constructor = SafeConstructor()
        self._active: set[int] = set()  # ids of nodes being built: an alias back to one is a cycle

    def build(self, node: Node, path: KeyPath, key_node: Node | None) -> Any:
        self.positions._record(path, node, key_node)
        if id(node) in self._active:
            self._problem(path, node, "an alias refers to a node that contains it", value_lost=True)
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, i), None) for i, item in enumerate(node.value)]
            return self._scalar(cast(ScalarNode, node), path)  # the one other kind of node
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: ScalarNode, path: KeyPath) -> Any:
        if node.tag in _KEEP_AS_TEXT:
            return node.value
        try:
            value = self._constructor.construct_object(node)
            return self.unmasked(value) if isinstance(value, str) else value
        except yaml.MarkedYAMLError as error:
            self._problem(path, node, str(error.problem), "remove the tag; plain YAML values are enough",
                          value_lost=True)
        except ValueError:  # `!!int abc`: the explicit tag does not fit the text
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            self._problem(path, node, f"the value does not fit its tag {tag}", value_lost=True)
        return None

    def _mapping(self, node: MappingNode, path: KeyPath) -> dict[str, Any]:
        entries = dict(self._merged(node, path))
        written: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            if not isinstance(key_node, ScalarNode):
                self._problem(path, key_node, "a key must be a plain name, not a list or mapping")
                continue
            name = self.unmasked(key_node.value)
            if name in written:
                first = Mark.of(written[name].start_mark)
                self._problem((*path, name), key_node, f"duplicate key '{name}'",
                              f"it is also set on line {first.line}; keep one of them")
            written[name] = key_node
            entries[name] = (key_node, value_node)
        return {name: self.build(value, (*path, name), key) for name, (key, value) in entries.items()}

    def _merged(self, node: MappingNode, path: KeyPath) -> dict[str, tuple[Node, Node]]:
        """Entries brought in by `<<: *anchor` keys, which the mapping's own keys override.

        Earlier sources win over later ones, and a source's own keys over what it merges, as the
        YAML merge-key specification says.
        """
        merged: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                continue
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, MappingNode) or id(source) in self._active:
                    self._problem(path, key_node, "'<<' can only merge mappings that do not contain it")
                    continue
                self._active.add(id(source))
                try:
                    entries = self._merged(source, path)
                finally:
                    self._active.discard(id(source))
                entries.update((self.unmasked(k.value), (k, v)) for k, v in source.value
                               if isinstance(k, ScalarNode) and k.tag != _MERGE_TAG)
                for name, pair in entries.items():
                    merged.setdefault(name, pair)
        return merged

    def _problem(
        self, path: KeyPath, node: Node, message: str, hint: str | None = None, value_lost: bool = False
    ) -> None:
        self.problems.append(NodeProblem(path, Mark.of(node.start_mark), message, hint, value_lost))
