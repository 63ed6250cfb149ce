"""Checks of the `forms` and `actions` sections, and of widget and form tools: what they name
(widgets, forms, tools, agents) and what their templates use."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel

from chatkit_host.config.checking import ProblemAt, suggest
from chatkit_host.config.models import ChatKitConfig
from chatkit_host.config.positions import KeyPath
from chatkit_host.config.tool_kinds import TOOL_KINDS, action_callable_kinds
from chatkit_host.config.widgets import (
    ACTION_TEMPLATE_VARIABLES,
    ActionRoute,
    AskStep,
    CallStep,
    RespondStep,
    ShowWidgetStep,
    UpdateWidgetStep,
    widget_names,
)
from chatkit_host.errors import ConfigProblem


def check_widgets_forms_actions(config: ChatKitConfig, base_dir: Path, problem: ProblemAt) -> list[ConfigProblem]:
    """Widget and form tools, and action steps, name declared widgets, forms, tools and agents;
    form question ids are unique; action templates parse. (Widget files are checked when built.)"""
    widgets = widget_names(config.widgets, base_dir)
    no_widgets = f"no widget files in {config.widgets.folder}"
    problems: list[ConfigProblem] = []

    def known(path: KeyPath, name: str, names: Iterable[str], what: str, empty: str) -> None:
        if name not in names:
            singular = what.split()[-1].rstrip("s")
            problems.append(problem(path, f"unknown {singular} '{name}'", suggest(name, names, what, empty)))

    for name, tool in config.tools.items():
        if tool.widget is not None:
            known(("tools", name, "widget"), tool.widget, widgets, "widgets", no_widgets)
        if tool.form is not None:
            known(("tools", name, "form"), tool.form, config.forms, "declared forms", "no forms are declared")
    for name, questions in config.forms.items():
        seen: set[str] = set()
        for index, question in enumerate(questions):
            if question.id in seen:
                problems.append(problem(("forms", name, index, "id"), f"question id '{question.id}' is used twice"))
            seen.add(question.id)
    environment = SandboxedEnvironment()
    for action, route in config.actions.items():
        for index, step in enumerate(route.do):
            path = ("actions", action, "do", index)
            if isinstance(step, CallStep):
                called = config.tools.get(step.call)
                if called is None:
                    known((*path, "call"), step.call, config.tools, "declared tools", "no tools are declared")
                elif not TOOL_KINDS[called.kind].actions_may_call:
                    problems.append(problem((*path, "call"), f"tool '{step.call}' is a {called.kind} tool; "
                                            f"actions call {' and '.join(action_callable_kinds())} tools",
                                            "show widgets with show_widget and ask forms with ask"))
            elif isinstance(step, (UpdateWidgetStep, ShowWidgetStep)):
                key = "update_widget" if isinstance(step, UpdateWidgetStep) else "show_widget"
                target = getattr(step, key)
                known((*path, key, "widget"), target.widget, widgets, "widgets", no_widgets)
            elif isinstance(step, RespondStep) and step.respond is not True:
                known((*path, "respond"), step.respond, config.agents, "known agents", "")
            elif isinstance(step, AskStep):
                known((*path, "ask"), step.ask, config.forms, "declared forms", "no forms are declared")
            for key_path, text in _step_templates(step, path):
                try:
                    template = environment.parse(text)
                except TemplateSyntaxError as error:
                    problems.append(problem(key_path, f"template syntax error: {error.message}"))
                    continue
                problems += [problem(key_path, message, hint)
                             for message, hint in _unknown_names(template, environment, route)]
    return problems


def _unknown_names(template: nodes.Template, environment: SandboxedEnvironment,
                   route: ActionRoute) -> list[tuple[str, str]]:
    """Names an action template uses that it will not have when it runs (the runtime's templates
    fail on anything undefined): unknown variables, and payload fields the payload's schema
    does not declare when it declares them all."""
    known = [*ACTION_TEMPLATE_VARIABLES, *environment.globals]
    found = [(f"unknown template variable '{name}'", suggest(name, ACTION_TEMPLATE_VARIABLES, "templates see"))
             for name in sorted(meta.find_undeclared_variables(template)) if name not in known]
    schema = route.payload_schema
    fields = list(schema.get("properties", {}))
    if schema.get("additionalProperties") is not False:
        return found
    for node in template.find_all((nodes.Getattr, nodes.Getitem)):
        field_name: object
        if isinstance(node, nodes.Getattr):
            field_name = node.attr
        elif isinstance(node, nodes.Getitem):
            field_name = getattr(node.arg, "value", None)
        else:
            continue
        if (isinstance(node.node, nodes.Name) and node.node.name == "payload"
                and isinstance(field_name, str) and field_name not in fields):
            found.append((f"the payload has no field '{field_name}'",
                          suggest(field_name, fields, "payload fields", "the payload has no fields")))
    return found


def _step_templates(step: BaseModel, path: KeyPath) -> list[tuple[KeyPath, str]]:
    """Every template string of an action step, with its key path."""
    found: list[tuple[KeyPath, str]] = []

    def walk(value: object, where: KeyPath) -> None:
        if isinstance(value, str):
            found.append((where, value))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*where, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*where, index))

    walk({key: value for key, value in step.model_dump(exclude_none=True).items()
          if key not in ("call", "respond", "ask")}, path)
    return [(where, text) for where, text in found if where[-1] != "widget"]
