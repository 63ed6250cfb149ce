"""Widget files → widgets the host renders: loaded by absolute path, data validated, sandboxed.

The SDK's `WidgetTemplate` renders with a plain jinja2 environment, never checks the widget's
`jsonSchema`, and resolves a relative path from the calling module. Here every file of the widget
folder is read once, at build time, by its absolute path; a broken one is a located config problem
(never a crash); data is validated against the schema before rendering; and templates render in a
sandbox, since widget data often comes from a model or a browser.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from chatkit.widgets import DynamicWidgetRoot, WidgetRoot
from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError

from chatkit_host.errors import ConfigProblem

# autoescape off: the template writes JSON (`{{ value | tojson }}`), not HTML.
TEMPLATES = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)

SUPPORTED_VERSIONS = ("1.0",)


class WidgetError(Exception):
    """Data that does not fit a widget, or a template that renders no valid widget.

    Attributes:
        errors: One line per problem, e.g. `user.name: 'name' is a required property`.
    """

    def __init__(self, widget: str, reason: str, errors: list[str]):
        self.widget, self.reason, self.errors = widget, reason, errors
        super().__init__(f"widget '{widget}': {reason}: " + "; ".join(errors))


NOT_SHOWN = "The widget was not shown"
"""How a widget tool's output begins when the widget did not appear (the model reads why)."""

@dataclass(frozen=True)
class HostWidget:
    """One widget: a Widget Studio template (`.widget`) or a static tree (`.json`).

    Attributes:
        name: The file name without suffix, by which chatkit.yaml refers to it.
        file: Its absolute path.
        title: The name Widget Studio gave it (the file name for a static tree).
        data_schema: The JSON Schema its data must match (`{}` for a static tree: no data).
    """

    name: str
    file: Path
    title: str
    data_schema: dict[str, Any]
    template: jinja2.Template | None = field(default=None, repr=False)
    tree: WidgetRoot | None = field(default=None, repr=False)

    def data_errors(self, data: Any) -> list[str]:
        """Every way `data` breaks the widget's schema (empty when it fits)."""
        if self.template is None:
            return [] if not data else ["a static widget takes no data"]
        validator = Draft202012Validator(self.data_schema)
        errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
        return [f"{_where(error.absolute_path)}: {error.message}" for error in errors[:10]]

    def render(self, data: Mapping[str, Any] | None = None) -> WidgetRoot:
        """The widget rendered with `data`; raises `WidgetError` with every problem found."""
        data = dict(data or {})
        errors = self.data_errors(data)
        if errors:
            raise WidgetError(self.name, "the data does not match the widget's jsonSchema", errors)
        if self.template is None:
            assert self.tree is not None
            return self.tree.model_copy(deep=True)
        try:
            text = self.template.render(**data)
        except jinja2.TemplateError as error:
            raise WidgetError(self.name, "the template failed", [str(error)]) from None
        return parse_tree(self.name, text)


@dataclass(frozen=True)
class WidgetLibrary:
    """The widgets of one configuration, by name."""

    widgets: Mapping[str, HostWidget] = field(default_factory=dict)

    def __getitem__(self, name: str) -> HostWidget:
        return self.widgets[name]

    def __contains__(self, name: object) -> bool:
        return name in self.widgets


def widget_json(widget: WidgetRoot) -> dict[str, Any]:
    """A widget as the JSON the client gets (no null fields)."""
    return widget.model_dump(mode="json", exclude_none=True)


def parse_tree(name: str, text: str) -> WidgetRoot:
    """A widget tree from JSON text, validated as the SDK's `DynamicWidgetRoot`."""
    try:
        tree = json.loads(text)
    except json.JSONDecodeError as error:
        raise WidgetError(name, "the template did not render JSON",
                          [f"{error.msg} at line {error.lineno}, column {error.colno} of the output"]) from None
    try:
        return DynamicWidgetRoot.model_validate(tree)
    except ValidationError as error:
        raise WidgetError(name, "invalid widget tree", _tree_errors(error)) from None


def load_widgets(folder: Path, files: list[Path]) -> tuple[WidgetLibrary, list[ConfigProblem]]:
    """Load `files` (from `folder`); each broken one is a problem at its file, and is left out."""
    widgets: dict[str, HostWidget] = {}
    problems: list[ConfigProblem] = []
    for file in files:
        if file.stem in widgets:
            problems.append(ConfigProblem(
                f"two widget files are named '{file.stem}' ({widgets[file.stem].file.name} and {file.name})",
                file=file, hint="rename one of them"))
            continue
        try:
            widgets[file.stem] = _load(file)
        except _Broken as broken:
            problems.append(ConfigProblem(broken.message, file=file, line=broken.line, key=broken.key))
    return WidgetLibrary(widgets), problems


class _Broken(Exception):
    def __init__(self, message: str, line: int | None = None, key: str | None = None):
        self.message, self.line, self.key = message, line, key


_COMPILED: dict[tuple[Path, str], HostWidget] = {}
"""Widgets already compiled, by file and content digest. Compiling a template and checking its schema
is most of a reload's build time, and a reload usually changes one file of many; a `HostWidget` is
immutable, so runtimes can share it. A cache of files, not state: a second process builds its own."""
_COMPILED_MAX = 2048


def _load(file: Path) -> HostWidget:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise _Broken(f"cannot read the widget file: {error}") from None
    key = (file, hashlib.sha256(text.encode()).hexdigest())
    if key not in _COMPILED:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        _COMPILED[key] = _compile(file, text)
    return _COMPILED[key]


def _compile(file: Path, text: str) -> HostWidget:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise _Broken(f"not JSON: {error.msg} (column {error.colno})", error.lineno) from None
    if file.suffix == ".json":
        try:
            tree = parse_tree(file.stem, text)
        except WidgetError as error:
            raise _Broken(f"{error.reason}: " + "; ".join(error.errors)) from None
        return HostWidget(file.stem, file, file.stem, {}, tree=tree)
    return _load_template(file, text, document)


def _load_template(file: Path, text: str, document: Any) -> HostWidget:
    if not isinstance(document, dict):
        raise _Broken("a .widget file is a JSON object (a Widget Studio export)")
    missing = [key for key in ("version", "name", "template") if key not in document]
    if missing:
        raise _Broken("not a Widget Studio export: missing " + ", ".join(f"'{k}'" for k in missing))
    if document["version"] not in SUPPORTED_VERSIONS:
        raise _Broken(f"unsupported widget version {json.dumps(document['version'])} "
                      f"(supported: {', '.join(SUPPORTED_VERSIONS)})", _line_of(text, "version"), "version")
    if not isinstance(document["template"], str):
        raise _Broken("'template' is not a string", _line_of(text, "template"), "template")
    schema = document.get("jsonSchema") or {}
    try:
        if not isinstance(schema, dict):
            raise SchemaError("the schema is not a JSON object")
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise _Broken(f"invalid jsonSchema: {error.message}", _line_of(text, "jsonSchema"), "jsonSchema") from None
    try:
        template = TEMPLATES.from_string(document["template"])
    except TemplateSyntaxError as error:
        raise _Broken(f"template syntax error on line {error.lineno} of the template: {error.message}",
                      _line_of(text, "template"), "template") from None
    return HostWidget(file.stem, file, str(document["name"]), schema, template=template)


def _line_of(text: str, key: str) -> int | None:
    match = re.search(rf'^\s*"{re.escape(key)}"\s*:', text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _where(path: Any) -> str:
    where = ""
    for part in path:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where or "data"


def _tree_errors(error: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in detail['loc']) or 'root'}: {detail['msg']}"
            for detail in error.errors(include_input=False)[:5]]
