"""Agents SDK `Agent` objects from the user's code, served with every host feature (issue 8).

`agents.X.python: ./exported.py:triage_agent` names an object the user's module built. The host never
changes that object (the module may use it elsewhere): it serves a clone carrying what chatkit.yaml
adds — tools, handoffs, and instructions, model or settings when the YAML gives them.

Handoffs written in code point at the user's own objects. Each one is swapped for the agent chatkit.yaml
declares in its place, so the YAML's tools and settings still hold after a handoff; an agent reached only
through code is copied (still never changed) so its own handoffs get the same treatment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agents import Agent, Handoff, ModelSettings, Tool
from agents.models.interface import Model, ModelProvider

from chatkit_host.refs import UnresolvedReference, resolve
from chatkit_host.runtime.coalesce import coalescing
from chatkit_host.runtime.models import resolve_model


def handoff_key(agent_name: str) -> str:
    """The name the Agents SDK gives a handoff to `agent_name`, after `transfer_to_`
    (`Billing agent` → `billing_agent`): the key chatkit.yaml declares such an agent under."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", re.sub(r"\s", "_", agent_name)).lower()


class CodeAgentError(Exception):
    """A `python:` agent reference that does not name an Agent; ``hint`` says how to fix it."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


def load_agent(reference: str, base_dir: Path) -> Agent[Any]:
    """The `Agent` object `reference` names (imports the module; paths relative to `base_dir`)."""
    try:
        target = resolve(reference, base_dir)
    except UnresolvedReference as error:
        raise CodeAgentError(error.message, error.hint) from None
    if not isinstance(target, Agent):
        raise CodeAgentError(
            f"'{reference}' is a {type(target).__name__}, not an Agents SDK Agent",
            hint="name an object built with Agent(...), e.g. ./exported.py:triage_agent",
        )
    return target


def clone_agent(
    name: str,
    original: Agent[Any],
    *,
    instructions: Callable[..., str] | None,
    model: Model,
    settings: ModelSettings | None,
    tools: list[Tool],
    handoff_description: str | None,
) -> Agent[Any]:
    """A copy of `original` named `name` (the name the host stores a conversation's agent by),
    with `tools` after its own and the YAML's overrides; lists are new, so nothing is shared."""
    return original.clone(
        name=name,
        instructions=instructions if instructions is not None else original.instructions,
        handoff_description=handoff_description or original.handoff_description,
        model=model,
        model_settings=original.model_settings.resolve(settings),
        tools=[*original.tools, *tools],
        handoffs=list(original.handoffs),
    )


def code_model(yaml_model: str | None, original: Agent[Any], default: str,
               providers: Mapping[str, ModelProvider]) -> Model:
    """The YAML's model, else the code's: a plain name (`gpt-4.1`) goes through the host's providers
    (so an `openai` provider declared `scripted` answers for it), a Model object is kept, and none
    at all means `models.default`."""
    if yaml_model is not None:
        return resolve_model(yaml_model, providers)
    if isinstance(original.model, Model):
        return original.model
    return resolve_model(original.model or default, providers)


def wire_handoffs(
    agents: dict[str, Agent[Any]],
    originals: Mapping[str, Agent[Any]],
    yaml_handoffs: Mapping[str, list[str]],
) -> dict[str, Agent[Any]]:
    """Give every built agent its handoffs: its code's (each swapped for the declared agent in its
    place) then its YAML's. Returns the agents reached only through code, by their own names.

    A code handoff target is replaced by the declared agent built from that very object, else by
    the declared agent whose key is the target's handoff name (`Billing agent` → `billing_agent`).
    `Handoff` objects (custom tool names, input filters) are kept as written.
    """
    stand_ins: dict[int, Agent[Any]] = {id(original): agents[name] for name, original in originals.items()}
    reached: dict[str, Agent[Any]] = {}

    def stand_in(target: Agent[Any] | Handoff[Any, Any]) -> Agent[Any] | Handoff[Any, Any]:
        if not isinstance(target, Agent):
            return target
        if id(target) in stand_ins:
            return stand_ins[id(target)]
        key = handoff_key(target.name)
        if key in agents:
            return agents[key]
        copy = target.clone(handoffs=[])
        stand_ins[id(target)] = copy
        reached.setdefault(target.name, copy)
        copy.handoffs = [stand_in(next_target) for next_target in target.handoffs]
        return copy

    for name, agent in agents.items():
        wired = [stand_in(target) for target in agent.handoffs]
        wired += [agents[other] for other in yaml_handoffs.get(name, []) if other in agents]
        agent.handoffs = list({id(target): target for target in wired}.values())
    return reached


class HostModelProvider(ModelProvider):
    """Resolves model names the SDK finds on agents at run time (a code agent reached through a
    handoff says `gpt-4.1`) through the host's providers, so one config decides every model."""

    def __init__(self, providers: Mapping[str, ModelProvider], default: str, coalesce_ms: float = 0):
        self.providers, self.default, self.coalesce_ms = providers, default, coalesce_ms

    def get_model(self, model_name: str | None) -> Model:
        return coalescing(resolve_model(model_name or self.default, self.providers), self.coalesce_ms)
