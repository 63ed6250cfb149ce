"""Import references from chatkit.yaml: ``package.module:attr`` or ``./file.py:attr``.

The errors tell "your reference is wrong" (no such module or attribute) apart from "your module is
broken" (it raised while importing), because the fixes differ.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any


class UnresolvedReference(Exception):
    """A reference that cannot be resolved; ``hint`` says how to fix it."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


def is_file_reference(ref: str) -> bool:
    """True for ``./tools.py:fn`` style references (a path, not a module name)."""
    module = ref.partition(":")[0]
    return module.endswith(".py") or "/" in module


def resolve(ref: str, base_dir: Path) -> Any:
    """Return the object ``ref`` names; file paths are relative to ``base_dir``."""
    module_name, sep, attr_path = ref.partition(":")
    if not sep or not module_name or not attr_path:
        raise UnresolvedReference(
            f"'{ref}' is not an import reference", hint="write it as package.module:name"
        )
    module = _load_file(module_name, base_dir) if is_file_reference(ref) else _import(module_name)
    obj: Any = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            known = sorted(n for n in dir(obj) if not n.startswith("_"))[:12]
            raise UnresolvedReference(
                f"module '{module_name}' has no attribute '{attr_path}'",
                hint=f"it defines: {', '.join(known)}" if known else None,
            ) from None
    return obj


def _import(module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            raise UnresolvedReference(
                f"no module named '{module_name}'",
                hint="check the spelling, or that the package is installed in this environment",
            ) from None
        raise _broken(module_name, error) from None
    except Exception as error:
        raise _broken(module_name, error) from None


_SOURCE_DIGEST = "__chatkit_host_source__"
"""Module attribute: a digest of the source a file module was executed from."""


def _load_file(file_name: str, base_dir: Path) -> ModuleType:
    path = (base_dir / file_name).resolve()
    try:
        source = path.read_bytes()
    except OSError:
        raise UnresolvedReference(
            f"file {file_name} not found", hint=f"paths are relative to {base_dir}"
        ) from None
    # One module name per file path, so two references to one file share their module.
    name = f"chatkit_host_user_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:10]}"
    digest = hashlib.sha1(source).hexdigest()
    previous = sys.modules.get(name)
    if previous is not None and getattr(previous, _SOURCE_DIGEST, None) == digest:
        return previous
    # A changed file runs again, into a fresh module (hot reload, issue 5): the previous module
    # object is left as it was, so a runtime still finishing its streams keeps the functions it
    # began with. Compiled from the bytes just read, not from __pycache__, whose timestamps are
    # whole seconds and would hand back stale code after two quick edits.
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec
    module = importlib.util.module_from_spec(spec)
    setattr(module, _SOURCE_DIGEST, digest)
    sys.modules[name] = module
    try:
        exec(compile(source, str(path), "exec", dont_inherit=True), module.__dict__)
    except Exception as error:
        if previous is None:
            del sys.modules[name]
        else:
            sys.modules[name] = previous
        raise _broken(file_name, error) from None
    return module


def referenced_files(config: Any, base_dir: Path) -> frozenset[Path]:
    """The existing source files of the `./file.py:attr` references in ``config``.

    ``config`` is a pydantic model or plain data; references are the values of `python` keys at any
    depth, so a new section that takes an import reference is covered without a change here.
    """
    files = (
        (base_dir / ref.partition(":")[0]).resolve()
        for ref in _references(config) if is_file_reference(ref)
    )
    return frozenset(path for path in files if path.is_file())


def referenced_modules(config: Any) -> frozenset[str]:
    """The module names of the ``package.module:attr`` references in ``config``."""
    return frozenset(
        ref.partition(":")[0] for ref in _references(config) if not is_file_reference(ref)
    )


def _references(tree: Any) -> list[str]:
    if hasattr(tree, "model_dump"):
        tree = tree.model_dump()
    if isinstance(tree, dict):
        return [
            ref
            for key, value in tree.items()
            for ref in ([value] if key == "python" and isinstance(value, str) else _references(value))
        ]
    if isinstance(tree, list):
        return [ref for value in tree for ref in _references(value)]
    return []


def _broken(where: str, error: BaseException) -> UnresolvedReference:
    frames = traceback.extract_tb(error.__traceback__)
    last = frames[-1] if frames else None
    at = f" at {last.filename}:{last.lineno}" if last else ""
    text = str(error)
    if isinstance(error, SyntaxError) and error.filename:  # its traceback ends in the compiler
        at, text = f" at {error.filename}:{error.lineno}", error.msg
    return UnresolvedReference(
        f"importing '{where}' failed: {type(error).__name__}: {text}{at}",
        hint="the reference is right but the module raised while importing; fix the module",
    )
