"""The `workflows` section → graphs ready to run: agents cloned with their output schemas,
expressions parsed, end messages compiled. Built once per runtime, never changed afterwards, so a
run in flight keeps the graph it began with across a reload."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
from agents import Agent
from agents.agent_output import AgentOutputSchemaBase
from agents.exceptions import ModelBehaviorError
from jinja2.sandbox import SandboxedEnvironment
from jsonschema import Draft202012Validator

from chatkit_host.config.expressions import Expression, parse
from chatkit_host.config.workflows import WorkflowConfig

# End messages are written by the configuration's author; the values they are rendered with
# (the user's text, agents' outputs) are data, never compiled.
_MESSAGES = SandboxedEnvironment(autoescape=False)


class JsonOutput(AgentOutputSchemaBase):
    """A node's `output` JSON Schema as the agent's output type: the reply is parsed and checked."""

    def __init__(self, name: str, schema: Mapping[str, Any]) -> None:
        self._name, self._schema = name, dict(schema)
        self._validator = Draft202012Validator(self._schema)

    def is_plain_text(self) -> bool:
        return False

    def name(self) -> str:
        return self._name

    def json_schema(self) -> dict[str, Any]:
        return self._schema

    def is_strict_json_schema(self) -> bool:
        return False  # a hand-written schema need not meet strict mode's rules

    def validate_json(self, json_str: str) -> Any:
        try:
            value = json.loads(json_str)
        except json.JSONDecodeError as error:
            raise ModelBehaviorError(f"the reply is not JSON: {error}") from None
        problem = next(iter(self._validator.iter_errors(value)), None)
        if problem is not None:
            raise ModelBehaviorError(f"the reply does not fit the output schema: {problem.message}")
        return value


@dataclass(frozen=True)
class Workflow:
    """One workflow, ready to run."""

    name: str
    config: WorkflowConfig
    agents: Mapping[str, Agent] = field(default_factory=dict)
    """Node name → the agent it runs (a copy carrying the node's output schema)."""
    expressions: Mapping[tuple[str, str], Expression] = field(default_factory=dict)
    """(node, key) → parsed expression; keys are `if.N`, `while`, `set_state.VAR`, `transform.KEY`."""
    messages: Mapping[str, jinja2.Template] = field(default_factory=dict)
    """End node → its message template; approval node → its question."""


def build_workflows(config: Mapping[str, WorkflowConfig], agents: Mapping[str, Agent]) -> dict[str, Workflow]:
    """Every workflow of a checked configuration (the checks have parsed each expression once)."""
    return {name: _build(name, workflow, agents) for name, workflow in config.items()}


def _build(name: str, config: WorkflowConfig, agents: Mapping[str, Agent]) -> Workflow:
    node_agents: dict[str, Agent] = {}
    expressions: dict[tuple[str, str], Expression] = {}
    messages: dict[str, jinja2.Template] = {}
    for node_name, node in config.nodes.items():
        if node.agent is not None:
            agent = agents[node.agent]
            node_agents[node_name] = agent.clone(output_type=JsonOutput(f"{node_name}_output", node.output)) \
                if node.output is not None else agent
        for index, branch in enumerate(node.if_ or []):
            expressions[(node_name, f"if.{index}")] = parse(branch.when)
        if node.while_ is not None:
            expressions[(node_name, "while")] = parse(node.while_)
        for key in ("set_state", "transform"):
            for var, text in (node.value_of(key) or {}).items():
                expressions[(node_name, f"{key}.{var}")] = parse(text)
        if node.end is not None and node.end.message is not None:
            messages[node_name] = _MESSAGES.from_string(node.end.message)
        if node.approval is not None:
            messages[node_name] = _MESSAGES.from_string(node.approval.question)
    return Workflow(name, config, node_agents, expressions, messages)
