"""CEL expressions of workflows: parsed once, read for the names they use, evaluated on JSON data.

CEL (`cel-python`, pure Python) rather than a jinja expression: Agent Builder's if/else and while
conditions are CEL, so an imported condition reads as its author wrote it, and CEL has no side
effects, no attribute access into Python objects and always terminates — user-written conditions
are safe to run on the request path. The library is imported on first use: a configuration without
workflows never pays its start-up (about half a second to build the grammar).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

VARIABLES = ("input_as_text", "state", "outputs", "output")
"""The names an expression may start from."""


class ExpressionError(Exception):
    """An expression that does not parse, or that failed to evaluate."""


@dataclass(frozen=True)
class Expression:
    """A parsed CEL expression and the member paths it reads (`("outputs", "classify", "kind")`)."""

    text: str
    paths: tuple[tuple[str, ...], ...]
    _program: Any

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        """The value, as plain JSON data (`dict`, `list`, `str`, numbers, `bool`, `None`)."""
        import celpy

        activation = {name: celpy.json_to_cel(value) for name, value in variables.items()}
        try:
            value = self._program.evaluate(activation)
        except Exception as error:  # celpy raises its own error types, and Python ones from builtins
            raise ExpressionError(f"{self.text!r}: {error}") from None
        if isinstance(value, celpy.CELEvalError):
            raise ExpressionError(f"{self.text!r}: {value.args[0] if value.args else value}")
        return to_json(value)

    def holds(self, variables: Mapping[str, Any]) -> bool:
        value = self.evaluate(variables)
        if not isinstance(value, bool):
            raise ExpressionError(f"{self.text!r} gave {type(value).__name__}, not true or false")
        return value


def parse(text: str) -> Expression:
    """Parse `text` (raises `ExpressionError` with the parser's message)."""
    import celpy

    environment = _environment()
    try:
        tree = environment.compile(text)
    except celpy.CELParseError as error:
        raise ExpressionError(" ".join(str(error).split())) from None
    return Expression(text, tuple(_paths(tree)), environment.program(tree))


@cache
def _environment() -> Any:
    import celpy

    return celpy.Environment()


def _paths(tree: Any) -> list[tuple[str, ...]]:
    """Member chains rooted at a plain name, longest only: `outputs.a.b` gives ("outputs", "a", "b")."""
    chains: list[tuple[str, ...]] = []

    def chain(node: Any) -> tuple[str, ...] | None:
        if getattr(node, "data", None) == "member" and len(node.children) == 1:
            return chain(node.children[0])
        if getattr(node, "data", None) == "primary" and len(node.children) == 1:
            inner = node.children[0]
            if getattr(inner, "data", None) == "ident":
                return (str(inner.children[0]),)
            return None
        if getattr(node, "data", None) == "member_dot":
            head = chain(node.children[0])
            return None if head is None else (*head, str(node.children[1]))
        return None

    def walk(node: Any) -> None:
        found = chain(node) if getattr(node, "data", None) in ("member_dot", "primary") else None
        if found is not None:
            chains.append(found)
            return
        for child in getattr(node, "children", []):
            walk(child)

    walk(tree)
    return chains


def to_json(value: Any) -> Any:
    """A CEL value as plain JSON data."""
    import celpy

    if isinstance(value, celpy.celtypes.BoolType):
        return bool(value)
    if isinstance(value, (celpy.celtypes.IntType, celpy.celtypes.UintType)):
        return int(value)
    if isinstance(value, celpy.celtypes.DoubleType):
        return float(value)
    if isinstance(value, celpy.celtypes.StringType):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    return None if value is None or isinstance(value, celpy.celtypes.NullType) else str(value)
