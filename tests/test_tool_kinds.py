"""The tool-kind registry is the whole story of a kind: every kind key has an entry that resolves."""

from __future__ import annotations

import importlib

import pytest

from chatkit_host.config.models import ToolConfig
from chatkit_host.config.tool_kinds import TOOL_KINDS


def test_every_kind_key_has_one_registry_entry_and_its_functions_exist() -> None:
    kind_keys = [name for name in ToolConfig.model_fields if name in TOOL_KINDS]
    assert sorted(kind_keys) == sorted(TOOL_KINDS)
    for name, kind in TOOL_KINDS.items():
        assert bool(kind.build) != bool(kind.wire), name  # built on its own, or wired to agents
        for reference in filter(None, (kind.build, kind.wire, kind.after)):
            module, _, attribute = reference.partition(":")
            assert callable(getattr(importlib.import_module(module), attribute)), reference


def test_a_tool_names_exactly_one_kind_and_the_message_lists_the_registry() -> None:
    with pytest.raises(ValueError) as error:
        ToolConfig.model_validate({"description": "nothing else"})
    assert f"a tool has exactly one of {', '.join(TOOL_KINDS)} (got none)" in str(error.value)
