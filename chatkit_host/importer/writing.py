"""Write an import's files: chatkit.yaml and the prompts, never over existing files unless forced."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

_OFFLINE_HINT = """\
# To answer offline (tests, demos), let a scripted model stand in for every plain model name:
#   models: { providers: { openai: { scripted: demo.yaml } } }
"""


def render_config(config: Mapping[str, Any], source_name: str, from_code: list[str]) -> str:
    """chatkit.yaml's text: a header saying where it came from, then the config."""
    header = [
        f"# Imported from {source_name} by `chatkit-host import agents-sdk`.",
        "# Agents written out here are yours to edit; the module stays the source for the rest",
    ]
    if from_code:
        header.append(f"# (served from it by import path: {', '.join(from_code)}).")
    else:
        header[-1] += "."
    body = yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(header) + "\n" + _OFFLINE_HINT + body


class ExistingFiles(Exception):
    """Files an import would overwrite; nothing was written."""

    def __init__(self, paths: list[Path]):
        super().__init__(", ".join(str(p) for p in paths))
        self.paths = paths


def write_files(out_dir: Path, files: Mapping[str, str], force: bool) -> list[Path]:
    """Write `files` (paths relative to `out_dir`); without `force`, write nothing when any exists."""
    targets = {out_dir / name: text for name, text in files.items()}
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        raise ExistingFiles(existing)
    for path, text in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(targets)
