"""The package's layers import downwards only, as the README's "How it is built" draws them.

A module may import its own layer and any layer below it, never one above: the configuration
knows nothing of the runtime, the protocol server nothing of HTTP. An upward import is the first
step to a cycle and to a layer that can no longer be read on its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import chatkit_host

PACKAGE = Path(chatkit_host.__file__).parent

# Highest first. Each entry is a module or package under chatkit_host; a module in a layer may
# import from its own entry and from every entry after it.
LAYERS: list[set[str]] = [
    {"__init__", "__main__", "cli", "commands"},
    {"conversations", "importer", "testing", "tools"},
    {"web", "reload"},
    {"host"},
    {"protocol"},
    {"runtime"},
    {"observability", "auth"},
    {"storage"},
    {"config"},
    {"errors", "refs", "context", "heap"},
]


def _layer_of(top: str) -> int:
    for index, names in enumerate(LAYERS):
        if top in names:
            return index
    raise AssertionError(f"chatkit_host.{top} belongs to no layer: add it to LAYERS in {__file__}")


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] != "chatkit_host" or len(parts) < 2:
                continue
            if (PACKAGE / parts[1]).is_dir() or (PACKAGE / f"{parts[1]}.py").exists():
                found.append((node.lineno, parts[1]))
    return found


def test_every_import_points_down_the_layers() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        own = _layer_of(relative.parts[0].removesuffix(".py"))
        for line, target in _imports(path):
            if _layer_of(target) < own:
                upward.append(f"chatkit_host/{relative}:{line} imports chatkit_host.{target}")
    assert upward == []


def test_every_package_says_what_it_holds_and_may_import() -> None:
    silent = [
        str(init.parent.relative_to(PACKAGE))
        for init in PACKAGE.glob("*/__init__.py")
        if "May import" not in (ast.get_docstring(ast.parse(init.read_text())) or "")
    ]
    assert silent == []
