"""`chatkit-host import agents-sdk`: an Agents SDK module (an Agent Builder export) → chatkit.yaml.

The module is read, never run (`source`); what maps becomes YAML and prompt files (`translate`,
`writing`); the rest stays in the module, and the checklist (`checklist`) lists it line by line.

May import: `config` and the foundation; the importer writes files and never builds a runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chatkit_host.importer.checklist import render_checklist
from chatkit_host.importer.source import read_module
from chatkit_host.importer.translate import translate
from chatkit_host.importer.writing import ExistingFiles, render_config, write_files

__all__ = ["ExistingFiles", "ImportResult", "NoAgents", "import_agents_sdk"]


class NoAgents(Exception):
    """The module has no module-level `NAME = Agent(...)`; nothing was written."""


@dataclass(frozen=True)
class ImportResult:
    written: list[Path]
    checklist: list[str]
    """`exported.py:42: runner function run_workflow(): not translated — …`, in source order."""
    from_code: list[str]
    """Agents declared by import path (each has at least one checklist line saying why)."""


def import_agents_sdk(source: Path, out_dir: Path, force: bool = False) -> ImportResult:
    """Write chatkit.yaml and `agents/*.md` for `source` into `out_dir`.

    Raises:
        SyntaxError: the module does not parse.
        ExistingFiles: a file would be overwritten and `force` is off; nothing was written.
        NoAgents: there is nothing to import.
    """
    from agents.models.default_models import get_default_model

    module = read_module(source)
    if not module.agents:
        raise NoAgents(source)
    translation = translate(module, out_dir, get_default_model())
    files = {
        "chatkit.yaml": render_config(translation.config, source.name, translation.from_code),
        **translation.prompts,
    }
    written = write_files(out_dir, files, force)
    return ImportResult(written, render_checklist(translation.checklist, source.name),
                        translation.from_code)
