"""A runner function's control flow (Agent Builder's `run_workflow`) → a `workflows:` entry.

Read statement by statement: `await Runner.run(agent, ...)` becomes an agent node, `if/elif/else` on
`result.final_output.FIELD` an `if` node with CEL conditions, `while`/`for _ in range(N)` a `while`
node, local counters state with `set_state` nodes, `conversation_history` bookkeeping nothing at all
(the host keeps that history). Every statement that does not translate — a guardrail call, an
approval, a computation — is kept as an `unresolved` entry with its line, and `validate` fails
until each is handled or acknowledged: nothing is dropped silently.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chatkit_host.importer.source import ExportedModule, RunnerDef, _is_runner_call, _name

DEFAULT_MAX = 10
"""The maximum given to a loop the code leaves unbounded (`while True:`); listed for review."""
_BOOKKEEPING = {"conversation_history", "workflow"}
"""Locals the host keeps for itself: the history, and the input (`workflow["input_as_text"]`)."""
_CEL_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
            ast.In: "in", ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}


class _NotTranslatable(Exception):
    """An expression with no CEL equivalent here; the message says which part."""


Exit = tuple[str, tuple[str | int, ...]]
"""A place still waiting for the next node: (node name, key path in it)."""


@dataclass
class Flow:
    """The workflow read from one runner function."""

    name: str
    function: str
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    unresolved: list[dict[str, Any]] = field(default_factory=list)
    input_checks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Agent key → host guardrail checks translated from the `guardrails` package's pipeline."""
    agent_nodes: int = 0
    """How many agent runs it has: one, and nothing else, is better served as a plain entry agent."""

    @property
    def is_plain_run(self) -> bool:
        return self.agent_nodes <= 1 and all("agent" in node for node in self.nodes.values()) \
            and not self.input_checks and not any(not item.get("acknowledged") for item in self.unresolved)

    def config(self) -> dict[str, Any]:
        return {**({"state": self.state} if self.state else {}), "nodes": self.nodes,
                **({"unresolved": self.unresolved} if self.unresolved else {})}


@dataclass
class _Loop:
    node: str
    breaks: list[Exit] = field(default_factory=list)


def read_flow(runner: RunnerDef, module: ExportedModule, agent_keys: dict[str, str]) -> Flow:
    """The workflow `runner` describes; agents are named by their chatkit.yaml keys."""
    name = runner.name.removeprefix("run_") or runner.name
    reader = _FlowReader(Flow(name, runner.name), module, agent_keys)
    if runner.run_config_keys:
        reader.note(runner.node, f"RunConfig({', '.join(runner.run_config_keys)}=…): the host traces every "
                    "turn itself, grouped by thread (observability.tracing)", acknowledged=True)
    exits = reader.block(runner.node.body, [])
    reader.finish(exits)
    return reader.flow


class _FlowReader:
    def __init__(self, flow: Flow, module: ExportedModule, agent_keys: dict[str, str]) -> None:
        self.flow, self.module, self.agent_keys = flow, module, agent_keys
        self.results: dict[str, tuple[str, str]] = {}
        """Local variable → (node, "parsed" | "text" | "run"): what `x.final_output` or `x["output_parsed"]` read."""
        self.loops: list[_Loop] = []
        self.pending_checks: list[dict[str, Any]] = []
        """Checks of a guardrails call made before any agent ran: the first agent gets them."""
        self.pipelines: dict[str, list[dict[str, Any]]] = {}
        """Variables holding a set-up guardrails pipeline → its checks."""
        self.guardrail_results: dict[str, bool] = {}
        """Variables holding a guardrails call's result → whether every check of it was translated."""

    # -- statements -------------------------------------------------------------------------

    def block(self, statements: list[ast.stmt], exits: list[Exit]) -> list[Exit]:
        for statement in statements:
            exits = self.statement(statement, exits)
        return exits

    def statement(self, node: ast.stmt, exits: list[Exit]) -> list[Exit]:
        handlers: dict[type, Callable[[Any, list[Exit]], list[Exit]]] = {
            ast.With: self.with_, ast.AsyncWith: self.with_, ast.If: self.if_, ast.While: self.while_,
            ast.For: self.for_, ast.Break: self.break_, ast.Continue: self.continue_,
            ast.Return: self.return_, ast.Pass: lambda _node, exits: exits,
            ast.Assign: self.assign, ast.AnnAssign: self.assign, ast.AugAssign: self.aug_assign,
            ast.Expr: self.expression,
        }
        if self.calls_guardrails(node) and not isinstance(node, (ast.If, ast.While, ast.For, ast.With, ast.AsyncWith)):
            return self.guardrails_call(node, exits)
        if isinstance(node, ast.If) and self.guardrail_trip(node):
            return exits
        handler = handlers.get(type(node))
        if handler is None:
            return self.unresolved(node, exits, "not translated")
        return handler(node, exits)

    def with_(self, node: ast.With | ast.AsyncWith, exits: list[Exit]) -> list[Exit]:
        # `with trace("…")`: the host traces each turn itself (observability.tracing).
        return self.block(node.body, exits)

    def expression(self, node: ast.Expr, exits: list[Exit]) -> list[Exit]:
        value = node.value
        if isinstance(value, ast.Constant):  # a docstring
            return exits
        call = value.value if isinstance(value, ast.Await) else value
        if isinstance(call, ast.Call) and _is_runner_call(call):
            return self.run(None, call, exits)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) \
                and _name(call.func.value) == "conversation_history" and call.func.attr in ("extend", "append") \
                and _only_new_items(call):
            return exits  # the export's bookkeeping: the host gives each agent the same history
        return self.unresolved(node, exits, "not translated")

    def assign(self, node: ast.Assign | ast.AnnAssign, exits: list[Exit]) -> list[Exit]:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        value = node.value
        if len(targets) != 1 or not isinstance(targets[0], ast.Name) or value is None:
            return self.unresolved(node, exits, "not translated")
        var = targets[0].id
        call = value.value if isinstance(value, ast.Await) else value
        if isinstance(call, ast.Call) and _is_runner_call(call):
            return self.run(var, call, exits)
        if var in _BOOKKEEPING:
            return exits  # `workflow = workflow_input.model_dump()`, `conversation_history = [...]`
        alias = self.result_alias(value)
        if alias is not None:
            self.results[var] = alias
            return exits
        try:
            literal = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError):
            literal = _NO_VALUE
        if literal is not _NO_VALUE and not self.flow.nodes and var not in self.flow.state:
            self.flow.state[var] = literal  # a counter or flag set before anything runs
            return exits
        return self.set_state(node, var, value, exits)

    def aug_assign(self, node: ast.AugAssign, exits: list[Exit]) -> list[Exit]:
        if not isinstance(node.target, ast.Name):
            return self.unresolved(node, exits, "not translated")
        var = node.target.id
        return self.set_state(node, var, ast.BinOp(ast.Name(var), node.op, node.value), exits)

    def set_state(self, node: ast.stmt, var: str, value: ast.expr, exits: list[Exit]) -> list[Exit]:
        try:
            expression = self.cel(value)
        except _NotTranslatable as why:
            whole = str(why) == ast.unparse(value)
            return self.unresolved(node, exits, "not translated" if whole else f"not translated: {why}")
        self.flow.state.setdefault(var, None)
        name = self.add(f"set_{var}", {"set_state": {var: expression}}, exits)
        return [(name, ("next",))]

    def run(self, var: str | None, call: ast.Call, exits: list[Exit]) -> list[Exit]:
        agent_var = _name(call.args[0]) if call.args else None
        key = self.agent_keys.get(agent_var or "")
        if key is None:
            return self.unresolved(call, exits, "runs an agent that is not a module-level `name = Agent(...)`")
        history = next((kw.value for kw in call.keywords if kw.arg == "input"), None)
        if history is not None and not _is_history(history):
            self.note(call, "input= is not the conversation history; the host gives the agent the conversation")
        agent = self.module.agents[agent_var or ""]
        node: dict[str, Any] = {"agent": key}
        if agent.output_schema is not None:
            node["output"] = agent.output_schema
        name = self.add(_node_name(var, key), node, exits)
        if self.pending_checks and self.flow.agent_nodes == 0:
            self.flow.input_checks.setdefault(key, []).extend(self.pending_checks)
            self.pending_checks = []
        self.flow.agent_nodes += 1
        if var is not None:
            self.results[var] = (name, "run")
        return [(name, ("next",))]

    def approval(self, node: ast.If, exits: list[Exit]) -> list[Exit] | None:
        """`if approval_request("Refund the order?"):` — a human approval — as an approval node."""
        test = node.test.value if isinstance(node.test, ast.Await) else node.test
        if not (isinstance(test, ast.Call) and "approv" in (_name(test.func) or "").lower() and test.args):
            return None
        question = ast.literal_eval(test.args[0]) if isinstance(test.args[0], ast.Constant) else None
        if not isinstance(question, str):
            return None
        name = self.add(f"approval_line_{node.lineno}", {"approval": {"question": question, "approve": None,
                                                                      "reject": None}}, exits)
        self.note(node, "a human approval: asked in the chat with Approve and Reject (approval node "
                  f"{name}); the function {_name(test.func)}() is not used", acknowledged=True)
        out = self.block(node.body, [(name, ("approval", "approve"))])
        return out + self.block(node.orelse, [(name, ("approval", "reject"))])

    def if_(self, node: ast.If, exits: list[Exit]) -> list[Exit]:
        if (approved := self.approval(node, exits)) is not None:
            return approved
        branches: list[tuple[str, list[ast.stmt]]] = []
        current: ast.If | None = node
        orelse: list[ast.stmt] = []
        try:
            while current is not None:
                branches.append((self.cel(current.test), current.body))
                orelse = current.orelse
                current = orelse[0] if len(orelse) == 1 and isinstance(orelse[0], ast.If) else None
        except _NotTranslatable as why:
            return self.unresolved(node, exits, f"the condition is not translated ({why}); its branches are left out")
        name = self.add(f"if_line_{node.lineno}", {"if": [{"when": when, "then": None} for when, _ in branches]}, exits)
        out: list[Exit] = []
        for index, (_, body) in enumerate(branches):
            out += self.block(body, [(name, ("if", index, "then"))])
        out += self.block(orelse, [(name, ("else",))])
        return out

    def while_(self, node: ast.While, exits: list[Exit]) -> list[Exit]:
        try:
            condition = self.cel(node.test)
        except _NotTranslatable as why:
            return self.unresolved(node, exits, f"the loop's condition is not translated ({why}); the loop is left out")
        self.note(node, f"the loop has no maximum in code; `max: {DEFAULT_MAX}` was chosen")
        return self.loop(node, condition, DEFAULT_MAX, exits)

    def for_(self, node: ast.For, exits: list[Exit]) -> list[Exit]:
        bound = _range_bound(node.iter)
        if bound is None or node.orelse:
            return self.unresolved(node, exits, "only `for _ in range(N):` loops translate")
        return self.loop(node, "true", bound, exits)

    def loop(self, node: ast.While | ast.For, condition: str, most: int, exits: list[Exit]) -> list[Exit]:
        name = self.add(f"loop_line_{node.lineno}", {"while": condition, "max": most, "do": None}, exits)
        self.loops.append(_Loop(name))
        body_exits = self.block(node.body, [(name, ("do",))])
        loop = self.loops.pop()
        self.link(body_exits, name)
        return [(name, ("next",)), *loop.breaks]

    def return_(self, node: ast.Return, exits: list[Exit]) -> list[Exit]:
        # The function's return value is the export's report to its caller; in ChatKit the user
        # has already seen the replies — unless it returns text of its own (`{"output_text": "…"}`),
        # which becomes an end message. A branch that returns at once still needs a node to name.
        text = _returned_text(node.value)
        if text is not None and exits:
            self.add(f"end_line_{node.lineno}", {"end": {"message": _as_template(text)}}, exits)
            return []
        self.finish(exits)
        return []

    def break_(self, node: ast.Break, exits: list[Exit]) -> list[Exit]:
        self.loops[-1].breaks += exits
        return []

    def continue_(self, node: ast.Continue, exits: list[Exit]) -> list[Exit]:
        self.link(exits, self.loops[-1].node)
        return []

    # -- nodes ------------------------------------------------------------------------------

    def add(self, name: str, node: dict[str, Any], exits: list[Exit]) -> str:
        unique, count = name, 2
        while unique in self.flow.nodes:
            unique, count = f"{name}_{count}", count + 1
        self.flow.nodes[unique] = node
        self.link(exits, unique)
        return unique

    def link(self, exits: list[Exit], target: str) -> None:
        for name, path in exits:
            holder: Any = self.flow.nodes[name]
            for part in path[:-1]:
                holder = holder[part]
            holder[path[-1]] = target

    def finish(self, exits: list[Exit]) -> None:
        """Branches still open at the function's end go to an `end` node (a `then` or `do` must
        name one); a `next` or `else` left out ends the workflow by itself."""
        open_branches = [(name, path) for name, path in exits if path[-1] in ("then", "do", "approve", "reject")]
        if open_branches and "done" in self.flow.nodes and "end" in self.flow.nodes["done"]:
            self.link(open_branches, "done")
        elif open_branches:
            self.add("done", {"end": {}}, open_branches)
        for node in self.flow.nodes.values():  # unfilled holes: nothing comes after
            for key in ("next", "else"):
                if node.get(key, "") is None:
                    del node[key]

    def unresolved(self, node: ast.AST, exits: list[Exit], why: str) -> list[Exit]:
        self.note(node, why, acknowledged=False)
        return exits

    # -- guardrails package ---------------------------------------------------------------

    def calls_guardrails(self, node: ast.AST) -> bool:
        return bool({_name(call.func) for call in ast.walk(node) if isinstance(call, ast.Call)}
                    & self.module.guardrail_names)

    def guardrails_call(self, node: ast.stmt, exits: list[Exit]) -> list[Exit]:
        """A call into the `guardrails` package: its pipeline's checks become the first agent's
        input guardrails where chatkit.yaml has the check; the rest are listed."""
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        checks = [check for name in names for check in self.pipeline(name)]
        target = None
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            first = node.targets[0] if isinstance(node, ast.Assign) else node.target
            target = first.id if isinstance(first, ast.Name) else None
        if not any(isinstance(n, ast.Await) for n in ast.walk(node)) and target is not None and checks:
            self.pipelines[target] = checks  # `guardrails = instantiate_guardrails(load_config_bundle(CONFIG))`
            self.note(node, "sets up the guardrails pipeline; its checks are translated where it runs",
                      acknowledged=True)
            return exits
        mapped = [translated for check in checks if (translated := _host_check(check)) is not None]
        missing = [str(check.get("name")) for check in checks if _host_check(check) is None]
        if target is not None:
            self.guardrail_results[target] = bool(checks) and not missing and not self.flow.agent_nodes
        if not checks:
            return self.unresolved(node, exits, "a check from the guardrails package whose pipeline the import "
                                   "cannot read — declare the checks under the agents' `guardrails`")
        listed = ", ".join(str(check.get("name")) for check in checks)
        if self.flow.agent_nodes or not mapped:
            where = "it runs after an agent" if self.flow.agent_nodes else "chatkit.yaml has none of its checks"
            return self.unresolved(node, exits, f"a check from the guardrails package ({listed}) not translated: "
                                   f"{where} — add `python` checks under the agents' `guardrails`, or keep it in code")
        self.pending_checks += mapped
        if missing:
            self.note(node, f"guardrails {', '.join(missing)} have no chatkit.yaml equivalent (the others became the "
                      "first agent's `guardrails.input`) — add a `python` check for them, or keep them in code")
        else:
            self.note(node, f"guardrails {listed} → the first agent's `guardrails.input`", acknowledged=True)
        return exits

    def pipeline(self, name: str) -> list[dict[str, Any]]:
        """The checks of a pipeline config constant, or of a variable set up from one."""
        if name in self.pipelines:
            return self.pipelines[name]
        config = self.module.dicts.get(name, {})
        checks = config.get("guardrails") if isinstance(config, dict) else None
        return [check for check in checks if isinstance(check, dict)] if isinstance(checks, list) else []

    def guardrail_trip(self, node: ast.If) -> bool:
        """`if <guardrails result tripped>: return …`: the host ends a turn whose check trips with
        the guardrails' message. Translated (listed as done) when every check of that call was."""
        read = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)} & set(self.guardrail_results)
        if not read or node.orelse or not all(isinstance(s, (ast.Return, ast.Expr, ast.Assign)) for s in node.body):
            return False
        done = all(self.guardrail_results[var] for var in read)
        self.note(node, "a tripped check ends the turn with `guardrails.message`" if done else
                  "what happens when a check trips: the host ends the turn with `guardrails.message`",
                  acknowledged=done)
        return True

    def note(self, node: ast.AST, why: str, acknowledged: bool = False) -> None:
        line = getattr(node, "lineno", 0)
        text = ast.get_source_segment("\n".join(self.module.source_lines), node) or ""
        first = text.strip().splitlines()[0] if text.strip() else ""
        self.flow.unresolved.append({
            "source": f"{self.module.path.name}:{line}", "what": f"{first} — {why}" if first else why,
            **({"acknowledged": True} if acknowledged else {}),
        })

    # -- expressions ------------------------------------------------------------------------

    def result_alias(self, value: ast.expr) -> tuple[str, str] | None:
        """`x = result.final_output`, `x = {"output_text": …, "output_parsed": result.final_output…}`."""
        target = self.read_result(value)
        if target is not None:
            return target
        if isinstance(value, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "output_parsed"
                                               for k in value.keys):
            for item in value.values:
                found = self.read_result(item)
                if found is not None:
                    return found[0], "export"
        return None

    def read_result(self, node: ast.expr) -> tuple[str, str] | None:
        """The node whose output `node` reads: `r.final_output`, `r.final_output.model_dump()`,
        `r.final_output_as(str)`."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("model_dump", "json", "dict", "model_dump_json"):
                return self.read_result(node.func.value)
            if node.func.attr == "final_output_as" and isinstance(node.func.value, ast.Name):
                run = self.results.get(node.func.value.id)
                return (run[0], "parsed") if run else None
        if isinstance(node, ast.Attribute) and node.attr == "final_output" and isinstance(node.value, ast.Name):
            run = self.results.get(node.value.id)
            return (run[0], "parsed") if run else None
        return None

    def cel(self, node: ast.expr) -> str:
        """`node` as a CEL expression (raises `_NotTranslatable`)."""
        if isinstance(node, ast.BoolOp):
            op = " && " if isinstance(node.op, ast.And) else " || "
            return "(" + op.join(self.cel(value) for value in node.values) + ")"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return f"!({self.cel(node.operand)})"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return f"-{self.cel(node.operand)}"
        if isinstance(node, ast.Compare):
            parts, left = [], node.left
            for comparison, right in zip(node.ops, node.comparators, strict=True):
                parts.append(self.compare(left, comparison, right))
                left = right
            return parts[0] if len(parts) == 1 else "(" + " && ".join(parts) + ")"
        if isinstance(node, ast.BinOp) and type(node.op) in _CEL_OPS:
            return f"{self.cel(node.left)} {_CEL_OPS[type(node.op)]} {self.cel(node.right)}"
        if isinstance(node, ast.Constant):
            return _cel_constant(node.value)
        if isinstance(node, (ast.List, ast.Tuple)):
            return "[" + ", ".join(self.cel(element) for element in node.elts) + "]"
        if isinstance(node, ast.Call) and _name(node.func) == "len" and len(node.args) == 1:
            return f"size({self.cel(node.args[0])})"
        return self.reference(node)

    def compare(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> str:
        if isinstance(op, (ast.Is, ast.IsNot)):
            symbol = "==" if isinstance(op, ast.Is) else "!="
            return f"{self.cel(left)} {symbol} {self.cel(right)}"
        if isinstance(op, ast.NotIn):
            return f"!({self.cel(left)} in {self.cel(right)})"
        if type(op) not in _CEL_OPS:
            raise _NotTranslatable(f"the operator {type(op).__name__}")
        return f"{self.cel(left)} {_CEL_OPS[type(op)]} {self.cel(right)}"

    def reference(self, node: ast.expr) -> str:
        """A name, attribute chain or subscript chain: a node's output, the input, or state."""
        path: list[str] = []
        current = node
        while True:
            if isinstance(current, ast.Attribute):
                path.insert(0, current.attr)
                current = current.value
            elif isinstance(current, ast.Subscript) and isinstance(current.slice, ast.Constant) \
                    and isinstance(current.slice.value, str):
                path.insert(0, current.slice.value)
                current = current.value
            else:
                break
        if not isinstance(current, ast.Name):
            raise _NotTranslatable(ast.unparse(node))
        root = current.id
        if root in ("workflow", "workflow_input") and path == ["input_as_text"]:
            return "input_as_text"
        if root in self.results:
            node_name, kind = self.results[root]
            if kind == "run" and path[:1] == ["final_output"]:
                path = path[1:]
            elif kind == "export" and path[:1] == ["output_parsed"]:
                path = path[1:]
            elif kind != "parsed":
                raise _NotTranslatable(ast.unparse(node))
            return ".".join(["outputs", node_name, *path])
        if root in self.flow.state and not path:
            return f"state.{root}"
        raise _NotTranslatable(ast.unparse(node))


_NO_VALUE = object()


def _returned_text(value: ast.expr | None) -> str | None:
    """`"text"` or `{"output_text": "text", …}`: text the export hands back as its answer."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    if isinstance(value, ast.Dict):
        for key, item in zip(value.keys, value.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == "output_text":
                return _returned_text(item)
    return None


def _as_template(text: str) -> str:
    """`text` as a jinja2 template that renders to exactly it."""
    return "{% raw %}" + text + "{% endraw %}" if any(m in text for m in ("{{", "{%", "{#")) else text


def _host_check(check: dict[str, Any]) -> dict[str, Any] | None:
    """A `guardrails` package check as a chatkit.yaml guardrail check, when there is one."""
    config = check.get("config")
    if not isinstance(config, dict):
        config = {}
    if check.get("name") == "Moderation":
        categories = [str(c).lower() for c in config.get("categories", [])]
        return {"moderation": {"categories": categories} if categories else {}}
    return None


def _cel_constant(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    raise _NotTranslatable(repr(value))


def _node_name(var: str | None, agent_key: str) -> str:
    if var is None:
        return agent_key
    for suffix in ("_result_temp", "_result", "_temp", "_output", "_run"):
        var = var.removesuffix(suffix)
    return var or agent_key


def _is_history(node: ast.expr) -> bool:
    """`[*conversation_history]`, `conversation_history` or `conversation_history.copy()`."""
    if isinstance(node, ast.List) and len(node.elts) == 1 and isinstance(node.elts[0], ast.Starred):
        return _name(node.elts[0].value) == "conversation_history"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return _name(node.func.value) == "conversation_history"
    return _name(node) == "conversation_history"


def _only_new_items(call: ast.Call) -> bool:
    """`conversation_history.extend([item.to_input_item() for item in result.new_items])`."""
    return bool(call.args) and "new_items" in ast.unparse(call.args[0]) and "to_input_item" in ast.unparse(call.args[0])


def _range_bound(node: ast.expr) -> int | None:
    if isinstance(node, ast.Call) and _name(node.func) == "range" and len(node.args) == 1:
        bound = node.args[0]
        if isinstance(bound, ast.Constant) and isinstance(bound.value, int) and bound.value >= 1:
            return bound.value
    return None
