"""Cross-references of the app features: `if` conditions compile, effects are declared, state
changes have a `state` to change. Reported with file, line and a fix, like the loader's checks."""

from __future__ import annotations

from jinja2 import TemplateSyntaxError

from chatkit_host.config.checking import suggest
from chatkit_host.config.loader import LoadedConfig
from chatkit_host.config.positions import KeyPath
from chatkit_host.config.widgets import EffectStep, SetStateStep
from chatkit_host.errors import ConfigProblem
from chatkit_host.runtime.widgets import TEMPLATES

_NO_STATE = "declare the thread's state in a top-level `state:` section"


def app_problems(loaded: LoadedConfig) -> list[ConfigProblem]:
    """Every problem of action conditions, effects and state changes, in the order they appear."""
    config = loaded.config
    problems: list[ConfigProblem] = []

    def effect_known(path: KeyPath, name: str) -> None:
        if name not in config.effects:
            problems.append(loaded.problem(path, f"unknown effect '{name}'",
                                           suggest(name, config.effects, "declared effects",
                                                   "declare it in a top-level `effects:` section")))

    for action, route in config.actions.items():
        for index, step in enumerate(route.do):
            path = ("actions", action, "do", index)
            if step.if_ is not None:
                try:
                    TEMPLATES.compile_expression(step.if_)
                except TemplateSyntaxError as error:
                    problems.append(loaded.problem((*path, "if"), f"not a jinja expression: {error.message}"))
            if isinstance(step, EffectStep):
                effect_known((*path, "effect", "name"), step.effect.name)
            if isinstance(step, SetStateStep) and config.state is None:
                problems.append(loaded.problem((*path, "set_state"), "this thread has no state", _NO_STATE))
    for name, tool in config.tools.items():
        if tool.effect is not None:
            effect_known(("tools", name, "effect", "name"), tool.effect.name)
        if tool.set_state is not None and config.state is None:
            problems.append(loaded.problem(("tools", name, "set_state"), "this thread has no state", _NO_STATE))
        if tool.data_from is not None and tool.data_from not in config.tools:
            problems.append(loaded.problem(("tools", name, "data_from"), f"unknown tool '{tool.data_from}'",
                                           suggest(tool.data_from, config.tools, "declared tools")))
    return problems
