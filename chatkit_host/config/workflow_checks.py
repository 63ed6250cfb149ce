"""Checks of the `workflows` section: names, branches, loops, expressions and what an import left.

Every problem is collected (none stops the others) and located at the key that causes it: an
unknown node at the `next`/`then`/`else`/`do` naming it, a loop without a `while` at the node that
closes it, an expression over a field the output schema lacks at that expression.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from chatkit_host.config.expressions import VARIABLES, ExpressionError, parse
from chatkit_host.config.checking import ProblemAt, suggest
from chatkit_host.config.positions import KeyPath
from chatkit_host.config.workflows import WorkflowConfig, WorkflowNode
from chatkit_host.errors import ConfigProblem

_TEMPLATES = SandboxedEnvironment()

if TYPE_CHECKING:
    from chatkit_host.config.models import ChatKitConfig


def check_workflows(config: ChatKitConfig, problem: ProblemAt) -> list[ConfigProblem]:
    """Every problem of every workflow, and of names shared between workflows and agents."""
    problems: list[ConfigProblem] = check_tool_approvals(config, problem)
    problems += check_unasked_approvals(config, problem)
    for name, tool in config.tools.items():
        if tool.workflow is not None and tool.workflow not in config.workflows:
            problems.append(problem(("tools", name, "workflow"), f"unknown workflow '{tool.workflow}'",
                                    suggest(tool.workflow, config.workflows, "known workflows",
                                            "no workflows are declared")))
    for name, workflow in config.workflows.items():
        at = _At(("workflows", name), problem)
        if name in config.agents:
            problems.append(at((), f"'{name}' names an agent too; `entry` and tools could not tell them apart",
                               "rename the workflow"))
        problems += _names(workflow, config, at, suggest)
        problems += _loops(workflow, at)
        problems += _expressions(workflow, at, suggest)
        problems += _unresolved(workflow, at)
    return problems


APPROVAL_KINDS = ("python", "http", "agent", "workflow")
"""Tool kinds whose calls the host runs, so it can hold them for the user's approval."""


def check_tool_approvals(config: ChatKitConfig, problem: ProblemAt) -> list[ConfigProblem]:
    """`tools.NAME.approval` is `always`, `never` or a condition over `arguments`, on a kind the
    host runs itself."""
    problems: list[ConfigProblem] = []
    for name, tool in config.tools.items():
        if tool.approval is None:
            continue
        at = ("tools", name, "approval")
        if tool.kind not in APPROVAL_KINDS:
            problems.append(problem(at, f"a {tool.kind} tool cannot wait for approval",
                                    f"approval works with {', '.join(APPROVAL_KINDS)} tools"))
        elif tool.approval not in ("always", "never"):
            try:
                expression = parse(tool.approval)
            except ExpressionError as error:
                problems.append(problem(at, f"neither always, never nor a condition that parses: {error}",
                                        "e.g. `arguments.amount > 100`"))
                continue
            for chain in expression.paths:
                if chain[0] != "arguments":
                    problems.append(problem(at, f"unknown name '{chain[0]}'", "a condition reads `arguments`"))
    return problems


def check_unasked_approvals(config: ChatKitConfig, problem: ProblemAt) -> list[ConfigProblem]:
    """An approval is asked only in the turn's own agent run: a tool that wants one, given to an
    agent a workflow node or an agent tool runs, would hold its call with nobody asked (#16)."""
    inner: dict[str, tuple[str, ...]] = {
        node.agent: ("workflows", workflow, "nodes", node_name, "agent")
        for workflow, spec in config.workflows.items()
        for node_name, node in spec.nodes.items() if node.agent}
    inner.update({tool.agent: ("tools", name, "agent")
                  for name, tool in config.tools.items() if tool.agent is not None})
    problems: list[ConfigProblem] = []
    for agent_name, where in inner.items():
        agent = config.agents.get(agent_name)
        for index, tool_name in enumerate(agent.tools if agent is not None else []):
            tool = config.tools.get(tool_name)
            if tool is not None and tool.approval not in (None, "never"):
                problems.append(problem(
                    ("agents", agent_name, "tools", index),
                    f"tool '{tool_name}' waits for approval, but agent '{agent_name}' also runs inside "
                    f"{'.'.join(str(part) for part in where[:2])}, where nobody would be asked",
                    "give that step an agent without the tool, or ask with an `approval` node before it"))
    return problems


class _At:
    """Problems at key paths under one workflow."""

    def __init__(self, base: KeyPath, problem: ProblemAt) -> None:
        self.base, self.problem = base, problem

    def __call__(self, path: KeyPath, message: str, hint: str | None = None) -> ConfigProblem:
        return self.problem((*self.base, *path), message, hint)


def _names(workflow: WorkflowConfig, config: ChatKitConfig, at: _At, suggest: Callable[..., str]) -> list[ConfigProblem]:
    nodes = list(workflow.nodes)
    problems: list[ConfigProblem] = []
    if workflow.start is not None and workflow.start not in workflow.nodes:
        problems.append(at(("start",), f"unknown node '{workflow.start}'", suggest(workflow.start, nodes, "nodes")))
    for name, node in workflow.nodes.items():
        for path, target in node.targets():
            if target not in workflow.nodes:
                problems.append(at(("nodes", name, *path), f"branches to nowhere: unknown node '{target}'",
                                   suggest(target, nodes, "nodes")))
        if node.agent is not None and node.agent not in config.agents:
            problems.append(at(("nodes", name, "agent"), f"unknown agent '{node.agent}'",
                               suggest(node.agent, config.agents, "known agents")))
        if node.output is not None:
            problems += _schema_problems(node.output, at, ("nodes", name, "output"))
        templates = [(("end", "message"), node.end.message if node.end else None),
                     (("approval", "question"), node.approval.question if node.approval else None)]
        for path, text in templates:
            try:
                _TEMPLATES.parse(text or "")
            except TemplateSyntaxError as error:
                problems.append(at(("nodes", name, *path), f"template does not parse: {error.message}"))
    reached = _reachable(workflow, workflow.first if workflow.first in workflow.nodes else None)
    for name in workflow.nodes:
        if name not in reached and workflow.first in workflow.nodes:
            problems.append(at(("nodes", name), f"node '{name}' is never reached from '{workflow.first}'",
                               "point a `next`, `then`, `else` or `do` at it, or remove it"))
    return problems


def _schema_problems(schema: dict[str, Any], at: _At, path: KeyPath) -> list[ConfigProblem]:
    if schema.get("type", "object") != "object":
        return [at(path, "an output schema describes an object", "give it `type: object` and `properties`")]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        return [at((*path, *error.absolute_path), f"not a valid JSON Schema: {error.message}")]
    return []


def _reachable(workflow: WorkflowConfig, start: str | None) -> set[str]:
    seen: set[str] = set()
    stack = [start] if start is not None else []
    while stack:
        name = stack.pop()
        if name in seen or name not in workflow.nodes:
            continue
        seen.add(name)
        stack += [target for _, target in workflow.nodes[name].targets()]
    return seen


def _loops(workflow: WorkflowConfig, at: _At) -> list[ConfigProblem]:
    """Every cycle passes through a `while` (which has a maximum), and every `while` body comes back."""
    problems: list[ConfigProblem] = []
    for name, node in workflow.nodes.items():
        if node.kind == "while" and node.do in workflow.nodes and name not in _reachable(workflow, node.do):
            problems.append(at(("nodes", name, "do"), f"the loop's body never comes back to '{name}'",
                               f"end the body with `next: {name}`"))
    for path, closing in _cycles_without_while(workflow):
        problems.append(at(("nodes", *path),
                           f"a loop with no exit or maximum: '{closing}' goes back to a node before it "
                           "without passing a `while` node",
                           "make the loop a `while` node with `max`, and end its body with `next:` it"))
    return problems


def _cycles_without_while(workflow: WorkflowConfig) -> Iterator[tuple[KeyPath, str]]:
    """The edges that close a cycle in the graph without its `while` nodes."""
    nodes = {name: node for name, node in workflow.nodes.items() if node.kind != "while"}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str) -> Iterator[tuple[KeyPath, str]]:
        state[name] = 1
        for path, target in nodes[name].targets():
            if target not in nodes:
                continue
            if state.get(target) == 1:
                yield (name, *path), name
            elif target not in state:
                yield from visit(target)
        state[name] = 2

    for name in nodes:
        if name not in state:
            yield from visit(name)


def _expressions(workflow: WorkflowConfig, at: _At, suggest: Callable[..., str]) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    known_state = set(workflow.state)
    for node in workflow.nodes.values():
        known_state |= set(node.set_state or {})
    for name, node in workflow.nodes.items():
        for path, text in _node_expressions(node):
            try:
                expression = parse(text)
            except ExpressionError as error:
                problems.append(at(("nodes", name, *path), f"the expression does not parse: {error}",
                                   "CEL, e.g. `outputs.classify.category == \"billing\"`"))
                continue
            for chain in expression.paths:
                found = _read_problem(chain, workflow, known_state, suggest)
                if found is not None:
                    problems.append(at(("nodes", name, *path), *found))
    return problems


def _node_expressions(node: WorkflowNode) -> list[tuple[KeyPath, str]]:
    found: list[tuple[KeyPath, str]] = [(("if", i, "when"), b.when) for i, b in enumerate(node.if_ or [])]
    if node.while_ is not None:
        found.append((("while",), node.while_))
    for key in ("set_state", "transform"):
        found += [((key, name), text) for name, text in (node.value_of(key) or {}).items()]
    return found


def _read_problem(chain: tuple[str, ...], workflow: WorkflowConfig, known_state: set[str],
                  suggest: Callable[..., str]) -> tuple[str, str] | None:
    """Why reading `chain` cannot work, as (message, hint); None when it can."""
    root = chain[0]
    if root not in VARIABLES:
        return f"unknown name '{root}'", suggest(root, VARIABLES, "an expression reads")
    if root == "state" and len(chain) > 1 and chain[1] not in known_state:
        return (f"unknown state variable '{chain[1]}'",
                suggest(chain[1], sorted(known_state), "state variables", "declare it under `state:`"))
    if root != "outputs" or len(chain) < 2:
        return None
    producers = {n: node for n, node in workflow.nodes.items() if node.kind in ("agent", "transform")}
    node = producers.get(chain[1])
    if node is None:
        return (f"'{chain[1]}' is not an agent or transform node, so it has no output",
                suggest(chain[1], producers, "nodes with outputs"))
    if len(chain) < 3:
        return None
    if node.kind == "agent" and node.output is None:
        return (f"node '{chain[1]}' replies with text, which has no field '{chain[2]}'",
                "give the node an `output` schema with that property")
    fields = _fields(node)
    if fields is not None and chain[2] not in fields:
        where = "output schema" if node.kind == "agent" else "transform"
        return (f"node '{chain[1]}' outputs no field '{chain[2]}'",
                suggest(chain[2], fields, f"its {where} has", f"its {where} has no fields"))
    return None


def _fields(node: WorkflowNode) -> list[str] | None:
    """The fields a node's output has, or None when they are not known (a text reply has none)."""
    if node.transform is not None:
        return list(node.transform)
    assert node.output is not None
    properties: Any = node.output.get("properties")
    return list(properties) if isinstance(properties, dict) else None


def _unresolved(workflow: WorkflowConfig, at: _At) -> list[ConfigProblem]:
    return [
        at(("unresolved", index), f"not translated: {item.source}: {item.what}",
           "handle it, then delete this entry or set `acknowledged: true`")
        for index, item in enumerate(workflow.unresolved) if not item.acknowledged
    ]
