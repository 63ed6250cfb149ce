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


def _load_file(file_name: str, base_dir: Path) -> ModuleType:
    path = (base_dir / file_name).resolve()
    if not path.is_file():
        raise UnresolvedReference(f"file {file_name} not found", hint=f"paths are relative to {base_dir}")
    # One module name per file path, so two references to one file share their module.
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"chatkit_host_user_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise _broken(file_name, error) from None
    return module


def _broken(where: str, error: BaseException) -> UnresolvedReference:
    frames = traceback.extract_tb(error.__traceback__)
    last = frames[-1] if frames else None
    at = f" at {last.filename}:{last.lineno}" if last else ""
    return UnresolvedReference(
        f"importing '{where}' failed: {type(error).__name__}: {error}{at}",
        hint="the reference is right but the module raised while importing; fix the module",
    )
