"""Forms → the SDK's structured-input items, the tools that ask them, and answer checks.

A form is asked by streaming a pending `StructuredInputItem`; the run (or action) then ends, and the
SDK resumes the conversation when the client submits answers (`threads.add_structured_input`). The
default converter hands the answered, skipped or partly answered item to the model.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agents import FunctionTool
from chatkit.types import (
    StructuredInputFreeform,
    StructuredInputItem,
    StructuredInputMultipleChoice,
    StructuredInputMultipleChoiceOption,
    StructuredInputSubmission,
    ThreadItemDoneEvent,
)

from chatkit_host.config.widgets import FormQuestion

if TYPE_CHECKING:
    from chatkit_host.runtime.tool_kinds import ToolSpec

WAITING = "The form is shown to the user. Their answers arrive with their next message; stop here."


@dataclass(frozen=True)
class FormBook:
    """The forms of one configuration, by name."""

    forms: Mapping[str, Sequence[FormQuestion]] = field(default_factory=dict)

    def item(self, name: str, item_id: str, thread_id: str) -> StructuredInputItem:
        """A pending structured-input item asking the form `name`."""
        return StructuredInputItem(
            id=item_id, thread_id=thread_id, created_at=datetime.now(),
            inputs=[_input(question) for question in self.forms[name]],
        )

    def missing_answers(self, item: StructuredInputItem, submission: StructuredInputSubmission) -> list[str]:
        """Ids of questions that are not optional yet left unanswered in an `answered` submission.

        The item does not say which form it asks; the form with the same question ids does. (A form
        changed since it was asked matches none, and then every question counts as optional.)
        """
        if submission.status == "skipped":
            return []  # the user dismissed the whole form: the model hears it was skipped
        ids = [question.id for question in item.inputs]
        form = next((qs for qs in self.forms.values() if [q.id for q in qs] == ids), None)
        if form is None:
            return []
        answers = submission.answers
        return [q.id for q in form if not q.optional
                and (q.id not in answers or answers[q.id].skipped or not any(v.strip() for v in answers[q.id].values))]


def _input(question: FormQuestion) -> StructuredInputMultipleChoice | StructuredInputFreeform:
    if question.choices is not None:
        return StructuredInputMultipleChoice(
            id=question.id, question=question.question, multiple=question.multiple,
            options=[StructuredInputMultipleChoiceOption(value=choice) for choice in question.choices],
        )
    return StructuredInputFreeform(id=question.id, question=question.question, description=question.description)


def form_tool(name: str, form: str, questions: Sequence[FormQuestion], description: str | None) -> FunctionTool:
    """A tool that asks `form`. It takes no arguments; its output tells the model to stop (the
    agent is also built to stop at it: its kind `pauses`, see `config/tool_kinds.py`)."""
    asked = "; ".join(q.question for q in questions)

    async def invoke(_ctx: Any, _arguments: str) -> str:
        return WAITING

    return FunctionTool(
        name=name,
        description=description or f"Ask the user with a form ({asked}) and wait for the answers.",
        params_json_schema={"type": "object", "properties": {}, "required": [], "additionalProperties": False},
        on_invoke_tool=invoke,
    )


def build_form_tool(spec: ToolSpec) -> FunctionTool:
    """`form: NAME`: the tool that asks the form."""
    form = spec.config.form
    assert form is not None
    return form_tool(spec.name, form, spec.forms.forms[form], spec.config.description)


def ask_after(tool: FunctionTool, spec: ToolSpec) -> FunctionTool:
    """The form tool, asking its form once its call is kept in the thread."""
    assert spec.config.form is not None
    return then_ask(tool, spec.forms, spec.config.form)


def then_ask(tool: FunctionTool, book: FormBook, form: str) -> FunctionTool:
    """Stream the form's item after `tool` ran (and after its call was kept in the thread), so the
    thread reads: question, tool call, form, answers."""
    invoke: Callable[..., Any] = tool.on_invoke_tool

    async def invoke_then_ask(ctx: Any, arguments: str) -> Any:
        output = await invoke(ctx, arguments)
        agent_context = ctx.context
        item = book.item(form, agent_context.generate_id("message"), agent_context.thread.id)
        await agent_context.stream(ThreadItemDoneEvent(item=item))
        return output

    return dataclasses.replace(tool, on_invoke_tool=invoke_then_ask)


def describe_missing(missing: list[str]) -> str:
    names = ", ".join(json.dumps(question) for question in missing)
    return (f"question(s) {names} need an answer; only optional questions may be left out "
            "(or skip the whole form)")
