"""Semantic checks: what a schema cannot say about a configuration.

Names must refer to declared things (agents, tools, providers), files must exist, templates must
parse, tool import paths and the auth token string must be well formed. Every check collects all
of its problems; none stops at the first. Each section's checks live beside it, in
`SECTION_checks.py`; what they share is `checking.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chatkit_host.config.action_checks import check_widgets_forms_actions
from chatkit_host.config.agent_checks import check_agent_code, check_agent_references, read_instructions
from chatkit_host.config.auth_checks import check_auth
from chatkit_host.config.checking import ProblemAt as ProblemAt
from chatkit_host.config.checking import resolve_path as resolve_path
from chatkit_host.config.checking import suggest as suggest
from chatkit_host.config.composer_checks import check_composer
from chatkit_host.config.entity_checks import check_entities
from chatkit_host.config.model_checks import check_model_references, check_scripted_files, check_transcription
from chatkit_host.config.models import ChatKitConfig
from chatkit_host.config.server_checks import check_static
from chatkit_host.config.tool_checks import check_converters, check_tool_kinds, check_tools
from chatkit_host.config.workflow_checks import check_workflows
from chatkit_host.errors import ConfigProblem


@dataclass(frozen=True)
class Checked:
    """What the checks found, and what they read on the way (so nothing is read twice)."""

    problems: list[ConfigProblem]
    instructions: dict[str, str]
    """Agent name → template source."""
    instruction_files: dict[str, Path]
    """Agent name → absolute path, for agents whose instructions are a file."""
    auth_tokens: dict[str, str]
    """Token → user id."""


def check_config(config: ChatKitConfig, base_dir: Path, problem: ProblemAt) -> Checked:
    """Run every semantic check on a schema-valid `config` whose paths are relative to `base_dir`."""
    instructions, files, instruction_problems = read_instructions(config, base_dir, problem)
    tokens, token_problems = check_auth(config, problem)
    problems = [
        *check_agent_references(config, problem),
        *check_model_references(config, problem),
        *check_tools(config, problem),
        *check_tool_kinds(config, problem),
        *check_converters(config, problem),
        *check_transcription(config, problem),
        *check_widgets_forms_actions(config, base_dir, problem),
        *check_agent_code(config, problem),
        *check_scripted_files(config, base_dir, problem),
        *check_entities(config, base_dir, problem),
        *check_static(config, base_dir, problem),
        *check_workflows(config, problem),
        *check_composer(config, problem),
        *instruction_problems,
        *token_problems,
    ]
    return Checked(problems, instructions, files, tokens)
