"""Read an Agents SDK module without running it: its agents, tools, guardrails and runners.

The module is parsed with `ast`, never imported: an export may call models or read secrets at import
time, and the importer must work on a machine without its dependencies. Only what is written as
literals (or module-level constants) is read; anything computed is recorded as a gap, at its line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from chatkit_host.importer.checklist import Untranslated
from chatkit_host.runtime.code_agents import handoff_key

HOSTED_TOOLS = {
    "WebSearchTool": "web_search",
    "FileSearchTool": "file_search",
    "CodeInterpreterTool": "code_interpreter",
    "ImageGenerationTool": "image_generation",
}
"""Agents SDK hosted tool classes → the hosted tool kind chatkit.yaml names them by."""

RUNNER_METHODS = {"run", "run_streamed", "run_sync"}
SETTINGS = ("temperature", "top_p", "max_tokens", "tool_choice", "parallel_tool_calls")
"""`ModelSettings` keywords with a same-named key in chatkit.yaml's `model_settings`."""


@dataclass(frozen=True)
class ToolRef:
    """A tool an agent lists: a `@function_tool` function or a hosted tool."""

    kind: str  # "function" | "hosted"
    name: str
    """The YAML tool name: the function's (or `name_override`), or the hosted tool's variable."""
    line: int
    hosted_kind: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    """A hosted tool's keyword arguments (literals only)."""
    label: str = ""
    """How the checklist names it: `web_search_preview (WebSearchTool)`."""


@dataclass
class AgentDef:
    """A module-level `NAME = Agent(...)`, as far as its arguments are literals."""

    var: str
    line: int
    name: str
    instructions: str | None = None
    model: str | None = None
    handoff_description: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    tools: list[ToolRef] = field(default_factory=list)
    handoffs: list[str] = field(default_factory=list)
    """Variables of the agents it hands off to."""
    guardrails: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    """`input`/`output` → (variable, line) of each guardrail object it lists."""
    output_schema: dict[str, Any] | None = None
    """`output_type=` a module-level pydantic model, as a JSON Schema (a workflow node's `output`)."""
    gaps: list[Untranslated] = field(default_factory=list)
    """What about it does not map to chatkit.yaml: the agent then stays in code."""
    dropped: list[Untranslated] = field(default_factory=list)
    """Model settings chatkit.yaml has no key for: left out, the agent is translated all the same."""

    @property
    def key(self) -> str:
        """Its key in chatkit.yaml: the name a handoff to it uses (`Triage agent` → `triage_agent`)."""
        return handoff_key(self.name)


@dataclass(frozen=True)
class RunnerDef:
    """A function that runs agents itself (`Runner.run(...)`), like Agent Builder's `run_workflow`."""

    name: str
    line: int
    node: ast.FunctionDef | ast.AsyncFunctionDef = field(repr=False, compare=False)
    first_agent: str | None
    """Variable of the first agent it runs, when that is a plain name."""
    run_config_keys: tuple[str, ...]
    """Keywords its `RunConfig(...)` calls set, e.g. `trace_metadata`."""


@dataclass
class ExportedModule:
    """What the importer understood of one module."""

    path: Path
    agents: dict[str, AgentDef] = field(default_factory=dict)
    function_tools: dict[str, ToolRef] = field(default_factory=dict)
    hosted_tools: dict[str, ToolRef] = field(default_factory=dict)
    runners: list[RunnerDef] = field(default_factory=list)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Module-level pydantic models (`class X(BaseModel)`) → their JSON Schema, as far as read."""
    source_lines: list[str] = field(default_factory=list)
    dicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Module-level dict literals by variable (a `guardrails` pipeline config, …)."""
    guardrail_names: set[str] = field(default_factory=set)
    """Names imported from the `guardrails` package (openai-guardrails), whose calls are checks."""
    gaps: list[Untranslated] = field(default_factory=list)
    """Gaps outside any translated agent (agents built inside functions, …)."""


def read_module(path: Path) -> ExportedModule:
    """Parse `path` (raises `SyntaxError` for a module that does not parse)."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    reader = _Reader(ExportedModule(path=path, source_lines=text.splitlines()))
    for statement in tree.body:
        reader.statement(statement)
    reader.stray_agents(tree)
    reader.guardrail_helpers(tree)
    return reader.module


class _Reader:
    def __init__(self, module: ExportedModule) -> None:
        self.module = module
        self.constants: dict[str, str] = {}
        self.seen_agent_calls: set[int] = set()

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.function(node)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "guardrails":
            self.module.guardrail_names |= {alias.asname or alias.name for alias in node.names}
        elif isinstance(node, ast.ClassDef) and any(_name(base) == "BaseModel" for base in node.bases):
            self.module.models[node.name] = model_schema(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Name):
                self.assignment(targets[0].id, node.value)

    def assignment(self, var: str, value: ast.expr) -> None:
        text = literal_text(value, self.constants)
        if text is not None:
            self.constants[var] = text
        elif isinstance(value, ast.Dict) and isinstance(literal := _literal(value), dict):
            self.module.dicts[var] = literal  # e.g. a guardrails package config
        elif _called(value) == "Agent":
            assert isinstance(value, ast.Call)
            self.seen_agent_calls.add(id(value))
            self.module.agents[var] = self.agent(var, value)
        elif _called(value) in HOSTED_TOOLS:
            assert isinstance(value, ast.Call)
            self.module.hosted_tools[var] = self.hosted(var, value)
        elif _called(value) == "function_tool" and isinstance(value, ast.Call) and value.args:
            # `lookup = function_tool(lookup_order)`: the variable is the tool.
            self.module.function_tools[var] = ToolRef("function", var, value.lineno, label=var)

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            if _called(decorator) == "function_tool" or _name(decorator) == "function_tool":
                override = _keyword(decorator, "name_override") if isinstance(decorator, ast.Call) else None
                name = override.value if isinstance(override, ast.Constant) else node.name
                self.module.function_tools[node.name] = ToolRef("function", str(name), node.lineno,
                                                                label=node.name)
        runs = [call for call in ast.walk(node) if isinstance(call, ast.Call) and _is_runner_call(call)]
        if runs:
            first = runs[0].args[0] if runs[0].args else _keyword(runs[0], "starting_agent")
            keys = sorted({kw.arg for call in ast.walk(node)
                           if isinstance(call, ast.Call) and _called(call) == "RunConfig"
                           for kw in call.keywords if kw.arg})
            self.module.runners.append(RunnerDef(node.name, node.lineno, node, _name(first), tuple(keys)))

    def hosted(self, var: str, call: ast.Call) -> ToolRef:
        class_name = _called(call) or ""
        options = {kw.arg: _literal(kw.value) for kw in call.keywords if kw.arg}
        return ToolRef("hosted", var, call.lineno, HOSTED_TOOLS[class_name], options,
                       label=f"{var} ({class_name})")

    def agent(self, var: str, call: ast.Call) -> AgentDef:
        name = _keyword(call, "name") or (call.args[0] if call.args else None)
        agent = AgentDef(var, call.lineno, str(name.value) if _is_str(name) else var)
        gap = _GapMaker(agent)
        if name is not None and not _is_str(name):
            gap(name, "name", "is computed")
        for keyword in call.keywords:
            _AgentKeyword(self, agent, gap).read(keyword)
        return agent

    def guardrail_helpers(self, tree: ast.Module) -> None:
        """Module functions that call the `guardrails` package (an export's `run_and_apply_guardrails`)
        count as its calls too."""
        functions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for _ in range(len(functions)):  # helpers of helpers, up to any depth the module has
            found = {f.name for f in functions if any(isinstance(c, ast.Call) and _name(c.func) in
                                                      self.module.guardrail_names for c in ast.walk(f))}
            found -= {runner.name for runner in self.module.runners}
            if found <= self.module.guardrail_names:
                return
            self.module.guardrail_names |= found

    def stray_agents(self, tree: ast.Module) -> None:
        """`Agent(...)` calls the importer did not read (inside functions, in lists…)."""
        for node in ast.walk(tree):
            seen = id(node) in self.seen_agent_calls
            if isinstance(node, ast.Call) and _called(node) == "Agent" and not seen:
                self.module.gaps.append(Untranslated(
                    node.lineno, "Agent(...)",
                    "not translated — only module-level `name = Agent(...)` assignments are read; "
                    "serve it by import path (agents.NAME.python) if the host should run it"))


class _GapMaker:
    def __init__(self, agent: AgentDef) -> None:
        self.agent = agent

    def __call__(self, node: ast.AST, what: str, why: str) -> None:
        self.agent.gaps.append(Untranslated(getattr(node, "lineno", self.agent.line),
                                            f"agent {self.agent.var}: {what}", why))


class _AgentKeyword:
    """Reads one keyword of `Agent(...)` into `agent`, or records why it does not map."""

    def __init__(self, reader: _Reader, agent: AgentDef, gap: _GapMaker) -> None:
        self.reader, self.agent, self.gap = reader, agent, gap

    def read(self, keyword: ast.keyword) -> None:
        arg, value = keyword.arg, keyword.value
        constants = self.reader.constants
        if arg == "name":
            return
        if arg in ("instructions", "handoff_description", "model"):
            text = literal_text(value, constants)
            if text is None:
                self.gap(value, arg, _why_not_text(value))
            else:
                setattr(self.agent, arg, text)
        elif arg == "model_settings":
            self.settings(value)
        elif arg == "tools":
            for element in self.elements(value, arg):
                self.tool(element)
        elif arg == "handoffs":
            for element in self.elements(value, arg):
                if isinstance(element, ast.Name) and element.id in self.reader.module.agents:
                    self.agent.handoffs.append(element.id)
                else:
                    self.gap(element, f"handoff {ast.unparse(element)}",
                             "a handoff(...) object or an agent not defined as `name = Agent(...)`")
        elif arg == "output_type" and isinstance(value, ast.Name) and value.id in self.reader.module.models:
            self.agent.output_schema = self.reader.module.models[value.id]
        elif arg in ("input_guardrails", "output_guardrails"):
            kind = arg.split("_")[0]
            for element in self.elements(value, arg):
                if isinstance(element, ast.Name):
                    self.agent.guardrails.setdefault(kind, []).append((element.id, element.lineno))
                else:
                    self.gap(element, f"{kind} guardrail {ast.unparse(element)}",
                             "not a module-level guardrail (an @input_guardrail function or a variable)")
        else:
            self.gap(value, f"{arg}=", "has no chatkit.yaml equivalent")

    def elements(self, value: ast.expr, what: str) -> list[ast.expr]:
        if isinstance(value, (ast.List, ast.Tuple)) and not any(isinstance(e, ast.Starred) for e in value.elts):
            return list(value.elts)
        self.gap(value, f"{what}=", "is not a plain list")
        return []

    def tool(self, element: ast.expr) -> None:
        module = self.reader.module
        var = _name(element)
        if var in module.function_tools:
            self.agent.tools.append(module.function_tools[var])
        elif var in module.hosted_tools:
            self.agent.tools.append(module.hosted_tools[var])
        elif isinstance(element, ast.Call) and _called(element) in HOSTED_TOOLS:
            hosted = self.reader.hosted(_called(element) or "", element)
            self.agent.tools.append(hosted)
        else:
            self.gap(element, f"tool {ast.unparse(element)}",
                     "not a @function_tool function or a hosted tool")

    def settings(self, value: ast.expr) -> None:
        if not isinstance(value, ast.Call) or _called(value) != "ModelSettings" or value.args:
            self.gap(value, "model_settings=", "is not a ModelSettings(...) of literals")
            return
        for keyword in value.keywords:
            literal = _literal(keyword.value)
            if keyword.arg in SETTINGS and literal is not _UNKNOWN:
                self.agent.settings[keyword.arg] = literal
            elif keyword.arg == "reasoning":
                self.reasoning(keyword.value)
            else:
                self.drop(keyword.value, f"model_settings {ast.unparse(keyword)}")

    def reasoning(self, value: ast.expr) -> None:
        if not isinstance(value, ast.Call) or _called(value) != "Reasoning":
            self.gap(value, "model_settings reasoning=", "is not a Reasoning(...) of literals")
            return
        for keyword in value.keywords:
            if keyword.arg == "effort" and _is_str(keyword.value):
                self.agent.settings["reasoning_effort"] = keyword.value.value
            else:
                self.drop(keyword.value, f"model_settings reasoning {ast.unparse(keyword)}")

    def drop(self, node: ast.AST, what: str) -> None:
        self.agent.dropped.append(Untranslated(getattr(node, "lineno", self.agent.line),
                                               f"agent {self.agent.var}: {what}", ""))


# --- literals ---------------------------------------------------------------------------------

_UNKNOWN = object()


def literal_text(node: ast.expr | None, constants: dict[str, str]) -> str | None:
    """The text of a string literal, a module-level string constant, an f-string without
    placeholders, or `+` of those; None for anything computed."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.JoinedStr):
        parts = [literal_text(value, constants) for value in node.values]
        texts = [part for part in parts if part is not None]
        return "".join(texts) if len(texts) == len(parts) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = literal_text(node.left, constants), literal_text(node.right, constants)
        return None if left is None or right is None else left + right
    return None


def _why_not_text(node: ast.expr) -> str:
    if isinstance(node, ast.JoinedStr):
        return "an f-string with placeholders is computed at run time"
    if isinstance(node, ast.Name):
        return f"{node.id} is not a string constant (a function computes it at run time?)"
    return "is computed at run time"


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _UNKNOWN


def _is_str(node: ast.AST | None) -> TypeGuard[ast.Constant]:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _name(node: ast.AST | None) -> str | None:
    """`x` for a Name, `b` for an attribute `a.b`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _called(node: ast.AST) -> str | None:
    """The called name of a call (`Agent(...)`, `agents.Agent(...)`, `Agent[Ctx](...)` → `Agent`)."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    while isinstance(func, ast.Subscript):  # a generic: `Agent[MyContext](...)`
        func = func.value
    return _name(func)


def _keyword(call: ast.AST, name: str) -> ast.expr | None:
    if isinstance(call, ast.Call):
        return next((kw.value for kw in call.keywords if kw.arg == name), None)
    return None


def _is_runner_call(call: ast.Call) -> bool:
    func = call.func
    return (isinstance(func, ast.Attribute) and func.attr in RUNNER_METHODS
            and _name(func.value) == "Runner")


_JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "dict": "object"}


def model_schema(node: ast.ClassDef) -> dict[str, Any]:
    """A pydantic model's fields as a JSON Schema object: `str`, `int`, `float`, `bool`,
    `Literal[...]`, `list[...]` and `X | None` are read; any other annotation accepts anything."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            properties[statement.target.id] = _annotation_schema(statement.annotation)
            if statement.value is None:
                required.append(statement.target.id)
    return {"type": "object", "properties": properties, **({"required": required} if required else {})}


def _annotation_schema(node: ast.expr) -> dict[str, Any]:
    if isinstance(node, ast.Name) and node.id in _JSON_TYPES:
        return {"type": _JSON_TYPES[node.id]}
    if isinstance(node, ast.Subscript) and _name(node.value) == "Literal":
        values = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        literals = [_literal(value) for value in values]
        if all(value is not _UNKNOWN for value in literals):
            return {"enum": literals}
    if isinstance(node, ast.Subscript) and _name(node.value) in ("list", "List"):
        return {"type": "array", "items": _annotation_schema(node.slice)}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return {"anyOf": [_annotation_schema(node.left), _annotation_schema(node.right)]}
    if isinstance(node, ast.Constant) and node.value is None:
        return {"type": "null"}
    return {}
