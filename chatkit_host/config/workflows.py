"""The `workflows` section: named graphs of nodes that run agents, branch, loop and keep state.

A workflow says what an Agent Builder canvas says: agents with structured outputs, if/else on what
they returned, loops with a maximum, workflow-wide state, reshaped values and an end with what the
user sees. Conditions and values are CEL expressions (the language Agent Builder conditions are
written in), so a condition reads here exactly as it did there (#16).

Only the shape is checked here; names, branches, loops and the fields expressions read are checked
in `workflow_checks`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

NODE_KINDS = ("agent", "if", "while", "set_state", "transform", "approval", "end")
"""The keys that say what a node is; a node has exactly one."""

_KIND_OPTIONS = {"output": "agent", "show": "agent", "else": "if", "max": "while", "do": "while"}
"""Keys that belong to one kind of node."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Branch(_Strict):
    """One arm of an `if` node: where the run goes when the condition holds."""

    when: str = Field(min_length=1)
    """A CEL expression over `input_as_text`, `state`, `outputs` and `output`, e.g.
    `outputs.classify.category == "billing"`."""
    then: str
    """The node to run next when `when` holds."""


class EndNode(_Strict):
    """What the user sees when the workflow ends here."""

    message: str | None = None
    """A reply shown to the user: a jinja2 template over `input_as_text`, `state`, `outputs` and
    `output`, e.g. `Your ticket is {{ outputs.file.id }}.` Omit to end without a word."""


class ApprovalNode(_Strict):
    """Ask the user to approve or reject; the run waits for the answer (across restarts and
    replicas: the paused run is kept with the thread) and goes on at `approve` or `reject`."""

    question: str = Field(min_length=1)
    """What the user is asked: a jinja2 template over `input_as_text`, `state`, `outputs` and
    `output`, e.g. `Refund {{ outputs.refund.amount }} EUR?`"""
    approve: str
    """The node to run when the user approves."""
    reject: str
    """The node to run when the user rejects (or dismisses the question)."""


class WorkflowNode(_Strict):
    """One step of a workflow. Exactly one of `agent`, `if`, `while`, `set_state`, `transform`,
    `approval`, `end` says what it does."""

    agent: str | None = None
    """Run this agent on the conversation so far (the thread's history, the user's message and the
    replies of agents that ran before it in this turn)."""
    output: dict[str, Any] | None = None
    """With `agent`: a JSON Schema the agent's reply must fit (a structured output). Later nodes
    read its fields as `outputs.NODE.FIELD`. A structured reply is not shown to the user unless
    `show: true`."""
    show: bool | None = None
    """With `agent`: whether the user sees the agent's reply. Defaults to true, and to false with
    `output`."""
    if_: list[Branch] | None = Field(
        None, alias="if", min_length=1,
        description="Branches tried in order; the first whose `when` holds is taken.")
    else_: str | None = Field(
        None, alias="else",
        description="With `if`: the node to run when no branch holds (omit to end the workflow).")
    while_: str | None = Field(
        None, alias="while", min_length=1,
        description="A CEL condition checked before each round: while it holds (and `max` is not "
                    "reached) the run goes to `do`, else to `next`.")
    max: int | None = Field(None, ge=1, le=1000)
    """With `while`: the most rounds the loop runs; then the run goes on at `next` even if the
    condition still holds. Required: every loop ends."""
    do: str | None = None
    """With `while`: the first node of the loop's body. The body's last node has `next:` this
    `while` node, which checks the condition again."""
    set_state: dict[str, str] | None = None
    """State variable → CEL expression: the values are computed first, then stored (each sees the
    state as it was before the node)."""
    transform: dict[str, str] | None = None
    """Key → CEL expression: an object this node outputs (`outputs.NODE.KEY`), e.g. to reshape an
    agent's output for the nodes after it."""
    approval: ApprovalNode | None = None
    """Ask the user to approve or reject before the run goes on."""
    end: EndNode | None = None
    """End the workflow, optionally with a message for the user."""
    next: str | None = None
    """The node to run after this one (omit to end the workflow after it). Not for `if` and `end`."""
    title: str | None = None
    """The label of this step in the thread's workflow progress (defaults to one made from the node)."""

    @property
    def kind(self) -> str:
        """The one kind key given (`agent`, `if`, …)."""
        return next(kind for kind in NODE_KINDS if self.value_of(kind) is not None)

    def value_of(self, key: str) -> Any:
        """The value of a YAML key (`if`, `else`, `while` are keywords in Python)."""
        return getattr(self, f"{key}_" if key in ("if", "else", "while") else key)

    @model_validator(mode="after")
    def _one_kind_and_its_options(self) -> WorkflowNode:
        given = [kind for kind in NODE_KINDS if self.value_of(kind) is not None]
        if len(given) != 1:
            found = f"got {', '.join(given)}" if given else "got none"
            raise ValueError(f"a node has exactly one of {', '.join(NODE_KINDS)} ({found})")
        kind = given[0]
        for option, owner in _KIND_OPTIONS.items():
            if self.value_of(option) is not None and owner != kind:
                raise ValueError(f"`{option}` belongs to `{owner}` nodes, not `{kind}` nodes")
        if kind == "while" and (self.max is None or self.do is None):
            raise ValueError("a `while` node needs `max` (the most rounds) and `do` (the loop's first node)")
        if kind in ("if", "end", "approval") and self.next is not None:
            raise ValueError(f"an `{kind}` node has no `next`"
                             + (": its branches say where to go" if kind in ("if", "approval") else ""))
        return self

    def targets(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every node this one may go to, with the key path (under the node) that names it."""
        found: list[tuple[tuple[str | int, ...], str]] = []
        for index, branch in enumerate(self.if_ or []):
            found.append((("if", index, "then"), branch.then))
        if self.approval is not None:
            found += [(("approval", "approve"), self.approval.approve), (("approval", "reject"), self.approval.reject)]
        for key in ("else", "do", "next"):
            if (target := self.value_of(key)) is not None:
                found.append(((key,), target))
        return found


class Unresolved(_Strict):
    """Something an import could not translate: `validate` fails until it is acknowledged."""

    source: str
    """Where it is in the imported module, `exported.py:42`."""
    what: str
    """What it is and why it was not translated."""
    acknowledged: bool = False
    """Set to true once you have handled it (in YAML, in code, or decided it is not needed);
    until then `validate` and `serve` refuse the configuration. Or delete the entry."""


class WorkflowConfig(_Strict):
    """A workflow: nodes run one after another from `start`, branching and looping as they say."""

    description: str | None = None
    """What the workflow does (for people, and for an agent that calls it as a tool)."""
    state: dict[str, Any] = {}
    """State variables and their values when a run starts; nodes read them as `state.NAME` and
    `set_state` changes them."""
    start: str | None = None
    """The first node; defaults to the first node listed."""
    nodes: dict[str, WorkflowNode] = Field(min_length=1)
    """Nodes by name."""
    unresolved: list[Unresolved] = []
    """What an import left untranslated (written by `chatkit-host import agents-sdk`)."""

    @property
    def first(self) -> str:
        """The name of the node a run starts at."""
        return self.start or next(iter(self.nodes))
