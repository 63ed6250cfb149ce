"""One turn of a workflow: nodes run from `start`, each agent on the conversation so far.

The conversation an agent sees is what an exported `run_workflow` builds: the thread's history,
then the new items of every agent that ran before it in this turn (`result.new_items`, structured
outputs included). What the user sees — and so what later turns read back from the thread — is only
what nodes show: replies of agents with `show` on, and end messages. A structured output stays
inside the run unless its node shows it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agents import Agent, RunConfig, Runner, TResponseInputItem
from chatkit.agents import AgentContext, ResponseStreamConverter, stream_agent_response
from chatkit.store import Store, StoreItemType
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    WorkflowItem,
)

from chatkit_host.config.expressions import ExpressionError
from chatkit_host.config.workflows import WorkflowNode
from chatkit_host.runtime.usage import USAGE_HOOKS
from chatkit_host.runtime.workflows.approval import Resumption, approval_item, pause
from chatkit_host.runtime.workflows.graph import Workflow
from chatkit_host.runtime.workflows.progress import Progress

logger = logging.getLogger("chatkit_host.workflows")

RAN = "workflow"
"""Thread metadata key: the workflow the last turn ran and the nodes it went through, in order."""
MAX_STEPS = 1000
"""Nodes one turn may run. Every cycle passes a `while` with a maximum, so only a bug gets here."""


class WorkflowFailed(Exception):
    """A node could not go on (an expression failed on the values it got); said to the log, and to
    the user as a plain error."""


@dataclass
class WorkflowTurn:
    """What a workflow run needs from the turn that starts it."""

    thread: ThreadMetadata
    store: Store[Any]
    request_context: Any
    history: list[TResponseInputItem]
    """The model input for the thread so far, ending with the user's message."""
    user_text: str
    run_config: RunConfig
    converter: Callable[[Agent], ResponseStreamConverter]
    """The stream converter for an agent's run (generated images, …)."""
    record: bool = True
    """Keep the nodes that ran in the thread's metadata (not for a workflow an agent calls)."""
    new_context: Callable[[], AgentContext[Any]] | None = None
    """A fresh agent context for each agent run (the host's, sharing the thread's state); the
    SDK's plain one when None."""

    def new_id(self, kind: StoreItemType) -> str:
        return self.store.generate_item_id(kind, self.thread, self.request_context)


async def run_workflow(workflow: Workflow, turn: WorkflowTurn,
                       resume: Resumption | None = None) -> AsyncIterator[ThreadStreamEvent]:
    """Run `workflow` for one turn, streaming what the user sees and the workflow's progress;
    with `resume`, go on from the approval a paused run asked."""
    run = _Run(workflow, turn)
    start = workflow.config.first
    if resume is not None:
        run.restore(resume.record)
        start = resume.node
    async for event in run.events(start):
        yield event


class _Run:
    def __init__(self, workflow: Workflow, turn: WorkflowTurn) -> None:
        self.workflow, self.turn = workflow, turn
        self.state: dict[str, Any] = dict(workflow.config.state)
        self.outputs: dict[str, Any] = {}
        self.output: Any = None
        self.rounds: dict[str, int] = {}
        self.path: list[str] = []
        self.added: list[Any] = []
        """Items this run's agents added to the conversation (the export's `new_items`)."""
        self.progress = Progress(turn.thread.id, lambda: turn.new_id("workflow"))

    def snapshot(self, node: str, item_id: str) -> dict[str, Any]:
        return {"workflow": self.workflow.name, "node": node, "item_id": item_id, "state": self.state,
                "outputs": self.outputs, "output": self.output, "rounds": self.rounds, "path": self.path,
                "added": self.added, "user_text": self.turn.user_text}

    def restore(self, record: dict[str, Any]) -> None:
        self.state, self.outputs, self.output = record["state"], record["outputs"], record["output"]
        self.rounds, self.path, self.added = record["rounds"], record["path"], record["added"]
        self.turn.user_text = record["user_text"]
        self.turn.history = [*self.turn.history, *self.added]

    @property
    def variables(self) -> dict[str, Any]:
        return {"input_as_text": self.turn.user_text, "state": self.state, "outputs": self.outputs,
                "output": self.output}

    async def events(self, start: str) -> AsyncIterator[ThreadStreamEvent]:
        name: str | None = start
        try:
            while name is not None:
                if len(self.path) >= MAX_STEPS:
                    raise WorkflowFailed(f"ran {MAX_STEPS} nodes in one turn")
                self.path.append(name)
                if self.turn.record:
                    self.turn.thread.metadata[RAN] = {"name": self.workflow.name, "nodes": list(self.path)}
                node = self.workflow.config.nodes[name]
                if node.agent is not None:
                    async for event in self.agent(name, node):
                        yield event
                    name = node.next
                elif node.approval is not None:
                    for event in self.ask(name):
                        yield event
                    return  # the run waits for the answer (approval.py)
                else:
                    name, events = self.step(name, node)
                    for event in events:
                        yield event
        except ExpressionError as error:
            logger.warning("workflow %s stopped at node %s: %s", self.workflow.name, self.path[-1], error)
            raise WorkflowFailed(f"node '{self.path[-1]}': {error}") from None
        # Not in a `finally`: a generator closed because the client left must not yield again.
        for event in self.progress.close():
            yield event

    def step(self, name: str, node: WorkflowNode) -> tuple[str | None, list[ThreadStreamEvent]]:
        """Run a node that is not an agent; where to go next, and the events that show it."""
        expression = self.workflow.expressions
        if node.if_ is not None:
            for index, branch in enumerate(node.if_):
                if expression[(name, f"if.{index}")].holds(self.variables):
                    return branch.then, self.progress.step(node.title or f"{name}: {branch.then}")
            return node.else_, self.progress.step(node.title or f"{name}: {node.else_ or 'end'}")
        if node.while_ is not None:
            rounds = self.rounds.get(name, 0)
            assert node.max is not None
            if rounds < node.max and expression[(name, "while")].holds(self.variables):
                self.rounds[name] = rounds + 1
                return node.do, self.progress.step(node.title or f"{name}: round {rounds + 1}")
            self.rounds.pop(name, None)  # entered again later, the loop starts over
            why = "stopped at its maximum" if rounds >= node.max else "done"
            return node.next, self.progress.step(node.title or f"{name}: {why} after {rounds} round(s)")
        if node.set_state is not None:
            values = {var: expression[(name, f"set_state.{var}")].evaluate(self.variables) for var in node.set_state}
            self.state.update(values)
            return node.next, self.progress.step(node.title) if node.title else []
        if node.transform is not None:
            self.output = self.outputs[name] = {
                key: expression[(name, f"transform.{key}")].evaluate(self.variables) for key in node.transform
            }
            return node.next, self.progress.step(node.title) if node.title else []
        return None, self.end(name)

    def end(self, name: str) -> list[ThreadStreamEvent]:
        template = self.workflow.messages.get(name)
        if template is None:
            return []
        text = template.render(self.variables)
        item = AssistantMessageItem(
            id=self.turn.new_id("message"), thread_id=self.turn.thread.id, created_at=datetime.now(),
            content=[AssistantMessageContent(text=text)],
        )
        return [*self.progress.close(), ThreadItemDoneEvent(item=item)]

    def ask(self, name: str) -> list[ThreadStreamEvent]:
        if not self.turn.record:
            raise WorkflowFailed(f"node '{name}' asks for approval, which a workflow called as a tool cannot")
        question = self.workflow.messages[name].render(self.variables)
        item = approval_item(self.turn.new_id("message"), self.turn.thread.id, question)
        pause(self.turn.thread, self.snapshot(name, item.id))
        return [*self.progress.close(), ThreadItemDoneEvent(item=item)]

    async def agent(self, name: str, node: WorkflowNode) -> AsyncIterator[ThreadStreamEvent]:
        agent = self.workflow.agents[name]
        shown = node.show if node.show is not None else node.output is None
        if shown:
            task = None
            for event in self.progress.close():  # the reply reads after the steps that led to it
                yield event
        else:
            task, events = self.progress.start(node.title or agent.name)
            for event in events:
                yield event
        turn = self.turn
        context = turn.new_context() if turn.new_context is not None else AgentContext(
            thread=turn.thread, store=turn.store, request_context=turn.request_context)
        result = Runner.run_streamed(agent, list(turn.history), context=context,
                                     run_config=turn.run_config, hooks=USAGE_HOOKS)
        hidden: set[str] = set()
        try:
            async for event in stream_agent_response(context, result, converter=turn.converter(agent)):
                if self._passes(event, shown, hidden):
                    yield event
        except BaseException:
            result.cancel()  # stop means stop: no more model or tool calls
            raise
        new_items = [item.to_input_item() for item in result.new_items]
        self.added += new_items
        turn.history = [*turn.history, *new_items]
        self.output = self.outputs[name] = result.final_output
        if task is not None:
            for event in self.progress.finish(task):
                yield event

    def _passes(self, event: ThreadStreamEvent, shown: bool, hidden: set[str]) -> bool:
        """Whether an event of an agent's stream reaches the user.

        The SDK closes the workflow item it finds last in the thread when a message starts: an
        item this run closed already is not closed twice. A hidden agent's messages never leave.
        """
        if isinstance(event, (ThreadItemAddedEvent, ThreadItemDoneEvent)):
            item = event.item
            if isinstance(item, WorkflowItem) and item.workflow.type == "custom":
                return isinstance(event, ThreadItemAddedEvent) or (shown and item.id not in self.progress.closed)
            if not shown and item.type == "assistant_message":
                hidden.add(item.id)
                return False
        if isinstance(event, ThreadItemUpdatedEvent) and event.item_id in hidden:
            return False
        return True
