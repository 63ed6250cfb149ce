"""The `widgets`, `forms` and `actions` sections of chatkit.yaml: rich UI declared, not coded.

Pure models, plus `widget_files`, which only lists the widget folder (the files are read and checked
by `runtime/widgets.py`). An action's `payload` takes the same shorthand as a tool's `parameters`
(`{order_id: string, note: string?}`), validated by `config.tools.parameters_schema`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chatkit_host.config.tools import Parameters, parameters_schema

WIDGET_SUFFIXES = (".widget", ".json")
"""A widget file is a Widget Studio export (`.widget`) or a static widget tree (`.json`)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WidgetsConfig(_Strict):
    """Where widget files are: every `NAME.widget` and `NAME.json` there is the widget `NAME`."""

    folder: str = "widgets"
    """The widget folder, relative to chatkit.yaml. A missing folder means no widgets."""


class FormQuestion(_Strict):
    """One question of a form: multiple choice (`choices`) or free text (`freeform: true`)."""

    id: str = Field(pattern=r"^[A-Za-z_][\w-]*$")
    """The answer's key, unique within the form."""
    question: str = Field(min_length=1)
    """What the user is asked."""
    choices: list[str] | None = Field(None, min_length=1)
    """The options shown (the user may still type an answer of their own)."""
    multiple: bool = False
    """With `choices`: the user may pick more than one."""
    freeform: bool = False
    """A free-text answer instead of choices."""
    description: str | None = None
    """With `freeform`: supporting text shown under the question."""
    optional: bool = False
    """The user may submit the form without answering this question (it reaches the model as skipped)."""

    @model_validator(mode="after")
    def _one_shape(self) -> FormQuestion:
        if (self.choices is None) == (not self.freeform):
            raise ValueError("a question has either `choices` or `freeform: true`")
        if self.multiple and self.choices is None:
            raise ValueError("`multiple` goes with `choices`")
        if self.description is not None and not self.freeform:
            raise ValueError("`description` goes with `freeform: true`")
        return self


Form = Annotated[list[FormQuestion], Field(min_length=1)]
"""A form: its questions, in the order they are shown."""


class EffectSpec(_Strict):
    """A client effect and its data."""

    name: str
    """Name of an effect declared in `effects`."""
    data: dict[str, Any] | str = {}
    """Its data (templates, like widget data); checked against the effect's declared `data`."""


class WidgetData(_Strict):
    """A widget and the data it is rendered with."""

    widget: str
    """Name of a widget in the widget folder."""
    data: dict[str, Any] | str = {}
    """The widget's data: a mapping whose strings are templates, or one template such as
    `"{{ result }}"`. A string that is a single `{{ expression }}` keeps the expression's type."""
    copy_text: str | None = None
    """Text copied when the user copies the widget (a template)."""


class _Step(_Strict):
    if_: str | None = Field(None, alias="if", description=(
        "A condition (a jinja expression over `payload`, `state`, `sender`, `result`, `user`, "
        "`thread`): the step runs only when it is true, e.g. `not state.pet_name`."))
    """A condition (a jinja expression over `payload`, `state`, `sender`, `result`, `user`,
    `thread`): the step runs only when it is true, e.g. `not state.pet_name`."""


class CallStep(_Step):
    """Call a tool (a `python` or `http` one); its output is `result` in later steps."""

    call: str
    """Name of a tool from the `tools` section."""
    arguments: dict[str, Any] | str | None = None
    """The tool's arguments (templates, like widget data); defaults to the payload."""


class UpdateWidgetStep(_Step):
    """Re-render the widget the action came from; the thread keeps the new one."""

    update_widget: WidgetData
    """The widget and data to render in place of the sender."""


class ShowWidgetStep(_Step):
    """Stream a new widget into the thread."""

    show_widget: WidgetData
    """The widget and data to show."""


class HiddenContextStep(_Step):
    """Add context the model sees on its next turn but the user never does."""

    hidden_context: str
    """A template, e.g. `The user cancelled order {{ payload.order_id }}.`"""


class RespondStep(_Step):
    """Run an agent to answer now; it becomes the thread's current agent."""

    respond: Literal[True] | str
    """An agent name, or `true` for the agent the conversation is with."""


class AskStep(_Step):
    """Ask the user a form; the agent answers once it is submitted. Must be the last step."""

    ask: str
    """Name of a form from the `forms` section."""


class SayStep(_Step):
    """Add an assistant message to the thread, with no model call."""

    say: str
    """The message (a template), e.g. `{{ payload.name }} it is! Nice to meet you.`"""


class EffectStep(_Step):
    """Send the page a client effect (ChatKit's `onEffect`); it is not kept in the thread."""

    effect: EffectSpec
    """The effect: a name from `effects` and its data."""


class SetStateStep(_Step):
    """Change the thread's state (top-level properties; the others keep their values)."""

    set_state: dict[str, Any] | str
    """The properties to set (values are templates, like widget data), or one template giving a
    mapping. A change that breaks the state's schema fails the action and saves nothing."""


class SetTitleStep(_Step):
    """Set the thread's title."""

    set_title: str
    """The new title (a template), e.g. `{{ payload.name }}'s chat`."""


ActionStep = (CallStep | UpdateWidgetStep | ShowWidgetStep | HiddenContextStep | RespondStep | AskStep
              | SayStep | EffectStep | SetStateStep | SetTitleStep)
STREAMING_ONLY_STEPS = (ShowWidgetStep, RespondStep, AskStep, SayStep, EffectStep)
"""Steps that stream to the client: not allowed in an action declared `streaming: false`."""


ACTION_TEMPLATE_VARIABLES = ("payload", "result", "results", "state", "sender", "user", "thread", "request")
"""What an action step's templates see (`runtime/actions.py` fills them); `validate` reports any
other name."""


class ActionRoute(_Strict):
    """What the server does when a widget sends an action of this type."""

    payload: Parameters = {}
    """The payload's schema (payloads come from the browser: anything else is refused):
    `{order_id: string}` shorthand (`integer?` for optional), property schemas, or a JSON Schema.
    Values of a widget `Form` arrive here under their input names."""
    do: list[ActionStep] = Field(min_length=1)
    """The steps, in order: `call`, `update_widget`, `show_widget`, `hidden_context`, `say`,
    `effect`, `set_state`, `set_title`, `respond`, `ask`; any of them with an `if` condition."""
    streaming: bool = True
    """`false`: the widget sends it with `streaming: false` and gets the updated widget back at
    once (`threads.sync_custom_action`); only `call`, `update_widget`, `hidden_context`,
    `set_state` and `set_title` steps."""

    @field_validator("payload")
    @classmethod
    def _valid_payload(cls, value: Parameters) -> Parameters:
        parameters_schema(value)
        return value

    @model_validator(mode="after")
    def _steps_fit(self) -> ActionRoute:
        if any(isinstance(step, AskStep) for step in self.do[:-1]):
            raise ValueError("`ask` must be the last step: the action waits for the answers")
        if not self.streaming and any(isinstance(step, STREAMING_ONLY_STEPS) for step in self.do):
            raise ValueError("an action with `streaming: false` takes only call, update_widget, "
                             "hidden_context, set_state and set_title steps")
        return self

    @property
    def payload_schema(self) -> dict[str, Any]:
        return parameters_schema(self.payload)


def widget_folder(config: WidgetsConfig, base_dir: Path) -> Path:
    """The widget folder as an absolute path."""
    return Path(os.path.normpath(base_dir / config.folder))


def widget_files(config: WidgetsConfig, base_dir: Path) -> list[Path]:
    """Every widget file in the folder, sorted (none when the folder does not exist)."""
    folder = widget_folder(config, base_dir)
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.suffix in WIDGET_SUFFIXES and path.is_file())


def widget_names(config: WidgetsConfig, base_dir: Path) -> list[str]:
    """The names of the widgets in the folder (file names without suffix)."""
    return list(dict.fromkeys(path.stem for path in widget_files(config, base_dir)))
