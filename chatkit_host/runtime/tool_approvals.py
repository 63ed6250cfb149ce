"""`tools.NAME.approval`: the Agents SDK's tool approval, asked in the chat.

A tool whose `approval` says so gets the SDK's `needs_approval`; the run then stops before the call
with an interruption. The host keeps the run's state (`RunState`, as JSON) with the thread and asks
the user with ChatKit's form item — one Approve/Reject question per held call. The answer, on any
replica, restores the state, approves or rejects each call (a rejection reaches the model as the
call's output) and runs on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from agents import Agent, FunctionTool, RunContextWrapper, RunResultStreaming
from agents.run_state import RunState
from chatkit.types import (
    StructuredInputItem,
    StructuredInputMultipleChoice,
    StructuredInputMultipleChoiceOption,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
)

from chatkit_host.config.expressions import parse
from chatkit_host.config.models import ToolConfig

PENDING = "tool_approvals"
"""Thread metadata key: the run waiting for the user's approval of tool calls."""
APPROVE, REJECT = "Approve", "Reject"
REJECTED = "The user rejected this call of {tool}; it did not run. Do not call it again unless the user asks."


def require_approvals(agents: Mapping[str, Agent], tools: Mapping[str, ToolConfig]) -> None:
    """Give every function tool whose `approval` asks for it the SDK's `needs_approval`."""
    for agent in agents.values():
        for tool in agent.tools:
            config = tools.get(tool.name)
            if isinstance(tool, FunctionTool) and config is not None and config.approval not in (None, "never"):
                tool.needs_approval = True if config.approval == "always" else _condition(config.approval)


def _condition(text: str) -> Any:
    expression = parse(text)

    async def needs_approval(_ctx: RunContextWrapper[Any], arguments: dict[str, Any], _call_id: str) -> bool:
        return expression.holds({"arguments": arguments})

    return needs_approval


def ask(result: RunResultStreaming, agent: Agent, thread: ThreadMetadata,
        new_id: Callable[[], str]) -> list[ThreadStreamEvent]:
    """When the run (started by `agent`) stopped for approvals: keep its state with the thread and
    ask the user."""
    calls = list(result.interruptions)
    if not calls:
        return []
    item_id = new_id()
    state = result.to_state().to_json(context_serializer=lambda _context: {})
    thread.metadata[PENDING] = {"agent": agent.name, "item_id": item_id, "state": state}
    questions = [StructuredInputMultipleChoice(
        id=f"call_{index}", question=f"Allow {call.tool_name or 'this tool'}({_arguments(call)})?",
        options=[StructuredInputMultipleChoiceOption(value=APPROVE), StructuredInputMultipleChoiceOption(value=REJECT)],
    ) for index, call in enumerate(calls)]
    item = StructuredInputItem(id=item_id, thread_id=thread.id, created_at=datetime.now(), inputs=questions)
    return [ThreadItemDoneEvent(item=item)]


def _arguments(call: Any) -> str:
    raw = getattr(call.raw_item, "arguments", None)
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else {}
    except json.JSONDecodeError:
        return raw or ""
    return ", ".join(f"{key}={json.dumps(value)}" for key, value in parsed.items())


async def answered_run(thread: ThreadMetadata, last: ThreadItem | None, agents: Mapping[str, Agent],
                       context: Any) -> tuple[Agent, RunState[Any]] | None:
    """The run the thread's last item (an answered approval) resumes, with each call approved or
    rejected; None when there is none. Any other turn abandons a waiting run."""
    record = thread.metadata.pop(PENDING, None)
    if not isinstance(record, dict) or not isinstance(last, StructuredInputItem) or last.id != record.get("item_id") \
            or last.status == "pending" or record.get("agent") not in agents:
        return None
    agent = agents[record["agent"]]
    state = await RunState.from_json(agent, record["state"], context_override=RunContextWrapper(context=context))
    answers = {question.id: question.answer for question in last.inputs}
    for index, call in enumerate(state.get_interruptions()):
        answer = answers.get(f"call_{index}")
        approved = last.status == "answered" and answer is not None and not answer.skipped \
            and [v.strip().lower() for v in answer.values] == [APPROVE.lower()]
        if approved:
            state.approve(call)
        else:
            state.reject(call, rejection_message=REJECTED.format(tool=call.tool_name or "the tool"))
    return agent, state
