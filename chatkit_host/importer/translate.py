"""What the importer read → chatkit.yaml, prompt files and the checklist.

An agent all of whose parts map is written out in full: its instructions become `agents/KEY.md`, its
function tools `python:` references into the module. An agent with a part that does not map (a
guardrail, computed instructions, an unknown tool…) is declared by import path instead, so nothing
about it is lost: the module stays its source, and the checklist says why. Model settings chatkit.yaml
has no key for are the one thing left out of a translated agent, each listed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chatkit_host.config.models import AgentConfig, ToolConfig
from chatkit_host.importer.checklist import Untranslated
from chatkit_host.importer.flow import read_flow
from chatkit_host.importer.source import AgentDef, ExportedModule, RunnerDef, ToolRef


@dataclass
class Translation:
    """The files an import writes (relative paths → text, YAML as data) and what it left out."""

    config: dict[str, Any]
    prompts: dict[str, str] = field(default_factory=dict)
    """`agents/KEY.md` → the instructions."""
    checklist: list[Untranslated] = field(default_factory=list)
    from_code: list[str] = field(default_factory=list)
    """Keys of the agents declared by import path."""


def translate(module: ExportedModule, out_dir: Path, default_model: str) -> Translation:
    """Translate `module` for a chatkit.yaml written into `out_dir`; `default_model` is the model
    the Agents SDK gives an agent that names none."""
    reference = module_reference(module.path, out_dir)
    keys = _agent_keys(module.agents.values())
    result = Translation(config={})
    agents: dict[str, Any] = {}
    tools: dict[str, Any] = {}
    flows = [flow for runner in module.runners
             if not (flow := read_flow(runner, module, keys)).is_plain_run]
    run_by_flows = {node["agent"] for flow in flows for node in flow.nodes.values() if "agent" in node}
    for agent in module.agents.values():
        hosted, hosted_gaps = _hosted_tools(agent)
        gaps = [*agent.gaps, *hosted_gaps, *_guardrail_gaps(agent)]
        if agent.output_schema is not None and keys[agent.var] not in run_by_flows:
            gaps.append(Untranslated(agent.line, f"agent {agent.var}: output_type=",
                                     "a structured output is a workflow node's `output`, and no workflow runs it"))
        key = keys[agent.var]
        if gaps:
            agents[key] = {"python": f"{reference}:{agent.var}"}
            result.from_code.append(key)
            where = f"the agent is served from the module (python: {reference}:{agent.var})"
            result.checklist += [_with_reason(gap, f"{gap.reason}; {where}") for gap in gaps]
            continue
        agents[key] = _agent_entry(agent, key, keys, result)
        if agent.guardrails:
            agents[key]["guardrails"] = {kind: [{"python": f"{reference}:{var}"} for var, _ in found]
                                         for kind, found in agent.guardrails.items()}
        tools.update(hosted)
        tools.update({tool.name: {"python": f"{reference}:{tool.label}"}
                      for tool in agent.tools if tool.kind == "function"})
        keep = f"to keep it, serve the agent from the module (python: {reference}:{agent.var})"
        result.checklist += [_with_reason(item, f"chatkit.yaml has no such setting; left out — {keep}")
                             for item in agent.dropped]
    for flow in flows:  # checks of the `guardrails` package's pipeline, run before the first agent
        for key, checks in flow.input_checks.items():
            guardrails = agents[key].setdefault("guardrails", {})
            guardrails["input"] = [*guardrails.get("input", []), *checks]
    entry = _entry(module, keys)
    result.config = {
        "version": 1,
        "models": {"default": _default_model(module, entry, default_model)},
        "agents": agents,
        **({"entry": flows[0].name} if flows else {"entry": keys[entry]} if entry else {}),
        **({"tools": tools} if tools else {}),
        **({"workflows": {flow.name: flow.config() for flow in flows}} if flows else {}),
    }
    translated = {flow.name for flow in flows}
    result.checklist += [_runner_item(runner, keys.get(runner.first_agent or ""))
                         for runner in module.runners if (runner.name.removeprefix("run_") or runner.name) not in translated]
    result.checklist += [Untranslated(int(item["source"].rpartition(":")[2]), f"{flow.function}()",
                                      f"{item['what']} (chatkit.yaml: workflows.{flow.name}.unresolved)")
                         for flow in flows for item in flow.unresolved if not item.get("acknowledged")]
    result.checklist += module.gaps
    return result


def module_reference(module_path: Path, out_dir: Path) -> str:
    """The module as a file reference from chatkit.yaml in `out_dir`: `./exported.py`."""
    relative = Path(os.path.relpath(module_path.resolve(), out_dir.resolve())).as_posix()
    return relative if relative.startswith("../") else f"./{relative}"


def _agent_keys(agents: Iterable[AgentDef]) -> dict[str, str]:
    """Variable → YAML key: the handoff name (`Billing agent` → `billing_agent`), which is the name
    the runtime maps handoffs written in code by; the variable when two agents share a name."""
    keys: dict[str, str] = {}
    for agent in agents:
        keys[agent.var] = agent.var if agent.key in keys.values() else agent.key
    return keys


def _agent_entry(agent: AgentDef, key: str, keys: dict[str, str], result: Translation) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if agent.instructions is not None:
        path = f"agents/{key}.md"
        result.prompts[path] = _as_template(agent.instructions)
        entry["instructions"] = path
    else:
        entry["instructions"] = ""  # the Agents SDK allows an agent without instructions
    if agent.model is not None:
        entry["model"] = agent.model
    if agent.settings:
        entry["model_settings"] = dict(agent.settings)
    if agent.tools:
        entry["tools"] = [tool.name for tool in agent.tools]
    if agent.handoffs:
        entry["handoffs"] = [keys[var] for var in agent.handoffs]
    if agent.handoff_description is not None:
        entry["handoff_description"] = agent.handoff_description
    return entry


def _as_template(text: str) -> str:
    """Instructions as a jinja2 template that renders to exactly `text` (plus a final newline)."""
    if any(mark in text for mark in ("{{", "{%", "{#")):
        text = "{% raw %}" + text + "{% endraw %}"
    return text if text.endswith("\n") else text + "\n"


def _guardrail_gaps(agent: AgentDef) -> list[Untranslated]:
    """The agent's guardrails, when chatkit.yaml has no `guardrails` for an agent to put them in."""
    if "guardrails" in AgentConfig.model_fields:
        return []
    return [Untranslated(line, f"agent {agent.var}: {kind} guardrail {var}", "chatkit.yaml has no guardrails")
            for kind, found in agent.guardrails.items() for var, line in found]


def _hosted_tools(agent: AgentDef) -> tuple[dict[str, Any], list[Untranslated]]:
    """The agent's hosted tools as chatkit.yaml `tools` entries, and those that do not fit."""
    entries: dict[str, Any] = {}
    gaps: list[Untranslated] = []
    for tool in agent.tools:
        if tool.kind != "hosted":
            continue
        entry = _hosted_entry(tool)
        try:
            ToolConfig.model_validate(entry)
        except ValidationError as error:
            gaps.append(Untranslated(tool.line, f"agent {agent.var}: tool {tool.label}",
                                     _hosted_misfit(tool, error)))
            continue
        entries[tool.name] = entry
    return entries, gaps


def _hosted_misfit(tool: ToolRef, error: ValidationError) -> str:
    if "hosted" not in ToolConfig.model_fields:
        return "chatkit.yaml has no hosted tools"
    unknown = sorted({str(e["loc"][-1]) for e in error.errors() if e["type"] == "extra_forbidden"})
    if unknown:
        return f"chatkit.yaml's hosted {tool.hosted_kind} has no option {', '.join(unknown)}"
    return f"its options do not fit chatkit.yaml's hosted {tool.hosted_kind}"


def _hosted_entry(tool: ToolRef) -> dict[str, Any]:
    if not tool.options:
        return {"hosted": tool.hosted_kind}
    return {"hosted": {"type": tool.hosted_kind, **tool.options}}


def _entry(module: ExportedModule, keys: dict[str, str]) -> str | None:
    """The agent the module's runner starts with; else the first no other agent hands off to."""
    for runner in module.runners:
        if runner.first_agent in keys:
            return runner.first_agent
    targets = {var for agent in module.agents.values() for var in agent.handoffs}
    return next((var for var in module.agents if var not in targets), next(iter(module.agents), None))


def _default_model(module: ExportedModule, entry: str | None, sdk_default: str) -> str:
    """The Agents SDK's default when some agent names no model (so it keeps the model it had),
    else the entry agent's model."""
    models = [agent.model for agent in module.agents.values()]
    if None in models or entry is None:
        return sdk_default
    return module.agents[entry].model or sdk_default


def _runner_item(runner: RunnerDef, entry_key: str | None) -> Untranslated:
    extras = f" (its RunConfig sets {', '.join(runner.run_config_keys)})" if runner.run_config_keys else ""
    runs = f"the entry agent ({entry_key})" if entry_key else "the entry agent"
    return Untranslated(
        runner.line, f"runner function {runner.name}()",
        f"not translated — chatkit-host runs {runs} on every turn with the thread's history; "
        f"what the function adds{extras} stays in the module, unused",
    )


def _with_reason(item: Untranslated, reason: str) -> Untranslated:
    return Untranslated(item.line, item.subject, reason)
