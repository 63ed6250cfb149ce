"""`chatkit-host init --template NAME`: a project started from one of the example apps.

The examples live once, in the repository's `examples/` folder. A wheel carries them as
`chatkit_host/templates/NAME` (pyproject.toml maps the folder there); a source checkout reads
`examples/NAME` beside the package. Either way the files are the same ones the suite tests.
"""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

TEMPLATES = ("airline", "pet")
"""The example apps `init --template` can start from."""

LEFT_OUT = {".chatkit", "__pycache__", "serve.log"}
"""What running an example leaves in its folder: data, not source."""

_REPO_SCHEMA = "$schema=../../schemas/chatkit.schema.json"
_PROJECT_SCHEMA = "$schema=./chatkit.schema.json"


def template_folder(name: str) -> Traversable:
    """Where the example ``name`` is: inside the installed package, or in the source checkout."""
    packaged = resources.files("chatkit_host") / "templates" / name
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "examples" / name


def template_files(name: str) -> dict[str, bytes]:
    """Relative path → content of every file of the example, its schema modeline made local."""
    files: dict[str, bytes] = {}

    def walk(folder: Traversable, prefix: str) -> None:
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name in LEFT_OUT or entry.name.endswith(".pyc"):
                continue
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            else:
                files[prefix + entry.name] = entry.read_bytes()

    walk(template_folder(name), "")
    # In the repository the example points at schemas/; a project gets its own copy beside it.
    files["chatkit.yaml"] = files["chatkit.yaml"].replace(_REPO_SCHEMA.encode(), _PROJECT_SCHEMA.encode())
    return files
