"""Throwaway chatkit-host projects for tests: a chatkit.yaml, prompts and a scripted model."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from chatkit_host.cli import main

REPO = Path(__file__).resolve().parent.parent

DEMO_SCRIPT = {
    "replies": [
        {"when": ["order"], "steps": [
            {"call": "lookup_order", "arguments": {"order_id": "A-1001"}},
            {"say": "Order status: {{ tool_output }}"},
        ]},
        {"when": ["refund"], "steps": [
            {"call": "transfer_to_billing", "arguments": {}},
            {"say": "Billing here, turn {{ turn }}."},
        ]},
        {"steps": [{"say": "Echo {{ turn }}: {{ user_text }}"}]},
    ],
}

TOOLS_PY = '''
def lookup_order(order_id: str) -> dict:
    """Look up an order.

    Args:
        order_id: The order id.
    """
    return {"order_id": order_id, "status": "shipped"}
'''


def base_config() -> dict[str, Any]:
    """A small valid config: two agents, a python tool, a handoff, the scripted model (recording)."""
    return {
        "version": 1,
        "store": {"url": "sqlite:///data/chatkit.db"},
        "models": {
            "default": "demo/offline",
            "providers": {"demo": {"scripted": "demo.yaml", "record": "calls.jsonl"}},
        },
        "agents": {
            "triage": {
                "instructions": "agents/triage.md",
                "tools": ["lookup_order"],
                "handoffs": ["billing"],
            },
            "billing": {"instructions": "You are billing for {{ vars.company }}."},
        },
        "tools": {"lookup_order": {"python": "./tools.py:lookup_order"}},
        "vars": {"company": "Acme"},
    }


def write_project(
    root: Path,
    config: Mapping[str, Any] | None = None,
    script: Mapping[str, Any] | None = None,
    files: Mapping[str, str] | None = None,
) -> Path:
    """Write a project into ``root``; returns the chatkit.yaml path."""
    root.mkdir(parents=True, exist_ok=True)
    contents = {
        "demo.yaml": yaml.safe_dump(copy.deepcopy(dict(script or DEMO_SCRIPT)), sort_keys=False),
        "agents/triage.md": "You are triage for {{ vars.company }}; the user is {{ user }}.\n",
        "tools.py": TOOLS_PY,
        **(files or {}),
    }
    for name, text in contents.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    path = root / "chatkit.yaml"
    path.write_text(yaml.safe_dump(dict(config or base_config()), sort_keys=False))
    return path


def recorded_calls(root: Path) -> list[dict[str, Any]]:
    """The scripted model's recorded calls (one per model call), oldest first."""
    import json

    path = root / "calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def invoke_cli(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> Result:
    """`chatkit-host ARGS` in this process, run from the folder ``cwd`` as a user would."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)
    finally:
        os.chdir(old)
