"""The `state` section: per-thread app state with a schema, defaults and an optional context line.

Pure models. `properties` takes the same shorthand as a tool's `parameters` (`{hunger: integer,
name: string?}`), property schemas (`{hunger: {type: integer, minimum: 0, default: 5}}`) or a whole
JSON Schema object; every change to a thread's state is checked against it.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from chatkit_host.config.tools import Parameters, parameters_schema


class StateConfig(BaseModel):
    """Per-thread state: saved with the thread, changed by actions and tools, seen by every template
    as `{{ state }}`, and read by the page through `GET <server.path>/state?thread_id=…`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    properties: Parameters
    """The state's schema: `{name: string}` shorthand (`integer?` for optional), property schemas
    (with `default`s), or a whole JSON Schema object. A change that breaks it is refused."""
    initial: dict[str, Any] = {}
    """A new thread's state, on top of the properties' `default`s; it must fit the schema."""
    context: str | None = None
    """A template (seeing `state`, `user`, `thread`, `vars`) added to the model's input every turn,
    e.g. `The pet is {{ state.name }}; hunger {{ state.hunger }}/10.` Omit to show the model nothing."""

    @field_validator("properties")
    @classmethod
    def _valid_schema(cls, value: Parameters) -> Parameters:
        parameters_schema(value)
        return value

    @model_validator(mode="after")
    def _initial_fits(self) -> StateConfig:
        errors = state_errors(self.state_schema, self.first_state)
        if errors:
            raise ValueError("the initial state does not fit `properties`: " + "; ".join(errors))
        return self

    @property
    def state_schema(self) -> dict[str, Any]:
        """The JSON Schema every state must match."""
        return parameters_schema(self.properties)

    @property
    def first_state(self) -> dict[str, Any]:
        """A new thread's state: the properties' defaults, then `initial`."""
        properties = self.state_schema.get("properties", {})
        defaults = {name: spec["default"] for name, spec in properties.items()
                    if isinstance(spec, dict) and "default" in spec}
        return {**defaults, **self.initial}


def state_errors(schema: dict[str, Any], state: Any, root: str = "state") -> list[str]:
    """Every way `state` breaks `schema`, one line each (`hunger: 11 is greater than the maximum of 10`)."""
    errors = sorted(Draft202012Validator(schema).iter_errors(state), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'.'.join(str(p) for p in error.absolute_path) or root}: {error.message}" for error in errors[:5]]


class EffectConfig(BaseModel):
    """A client effect the page handles (ChatKit.js `onEffect`), sent by action steps and tools."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: Parameters = {}
    """The effect's data: `{name: string}` shorthand (`integer?` for optional), property schemas,
    or a whole JSON Schema object. Data that breaks it is not sent."""

    @field_validator("data")
    @classmethod
    def _valid_schema(cls, value: Parameters) -> Parameters:
        parameters_schema(value)
        return value

    @property
    def data_schema(self) -> dict[str, Any]:
        return parameters_schema(self.data)
