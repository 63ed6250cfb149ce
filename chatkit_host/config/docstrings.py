"""Field docstrings as the JSON Schema's descriptions, read only when a schema is written.

Every config field is documented by the string under it. Pydantic's `use_attribute_docstrings`
would read them at class creation, walking the interpreter's frames and modules for each class: on
Python 3.11 about 55 ms of every start, for text that only `chatkit-host schema`, `init` and the
reference use. Here each module's source is parsed once, when a schema is generated.
"""

from __future__ import annotations

import ast
import inspect
import sys
from functools import cache

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema


class DocumentedSchema(GenerateJsonSchema):
    """Pydantic's JSON Schema generator, with each field's docstring as its `description`
    (a `description` given to `Field` wins), as `use_attribute_docstrings` would have it."""

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        json_schema = super().model_schema(schema)
        properties = json_schema.get("properties", {})
        for name, text in field_docstrings(schema["cls"]).items():
            field = properties.get(name)
            if field is not None and "description" not in field:
                # Pydantic drops a description its `$ref` target already has; so do we.
                properties[name] = self.handle_ref_overrides({**field, "description": text})
        return json_schema


def field_docstrings(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> the docstring under it, from the model and the models it inherits from."""
    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if issubclass(cls, BaseModel) and cls is not BaseModel:
            docs.update(_class_docstrings(cls.__module__, cls.__qualname__))
    return {name: text for name, text in docs.items() if name in model.model_fields}


@cache
def _class_docstrings(module: str, qualname: str) -> dict[str, str]:
    node = _classes(module).get(qualname)
    if node is None:
        return {}
    docs = {}
    for statement, following in zip(node.body, node.body[1:]):
        if (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            docs[statement.target.id] = inspect.cleandoc(following.value.value)
    return docs


@cache
def _classes(module: str) -> dict[str, ast.ClassDef]:
    """The classes defined in ``module``'s source, by qualified name."""
    try:
        tree = ast.parse(inspect.getsource(sys.modules[module]))
    except (OSError, TypeError, KeyError):  # no source to read: no descriptions
        return {}
    found: dict[str, ast.ClassDef] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for statement in body:
            if isinstance(statement, ast.ClassDef):
                found[prefix + statement.name] = statement
                visit(statement.body, f"{prefix}{statement.name}.")

    visit(tree.body, "")
    return found
