"""A thread's app state during one turn or action: read once, checked on every change, saved.

Changes are checked against the `state` schema as they are made, so a change that breaks it is
refused (`StateRefused`) before anything is written; `save()` writes the state only when it changed.
Actions save at the point their other writes happen, so a failed action leaves the state as it was;
tools save once they return.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from chatkit_host.config.state import StateConfig, state_errors
from chatkit_host.context import RequestContext
from chatkit_host.storage.store import SQLStore
from chatkit_host.storage.thread_state import load_thread_state, save_thread_state, stored_states

logger = logging.getLogger("chatkit_host.state")


class StateRefused(Exception):
    """A change that would break the state's schema; ``message`` is safe to show the client."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class StateView(dict[str, Any]):
    """`{{ state.NAME }}` in a template: a property not set (an optional one) renders empty rather
    than failing the template, as its value is not known when the template is written."""

    def __missing__(self, key: str) -> str:
        return ""


class ThreadState:
    """One thread's state as a turn or action sees and changes it."""

    def __init__(self, config: StateConfig, store: SQLStore, thread_id: str, context: RequestContext,
                 saved: dict[str, Any] | None):
        self.config, self.store, self.thread_id, self.context = config, store, thread_id, context
        # A thread saved before a property was added gets that property's first value.
        self._value = {**config.first_state, **(saved or {})}
        self._saved = copy.deepcopy(saved)

    @classmethod
    async def load(cls, config: StateConfig, store: SQLStore, thread_id: str, context: RequestContext) -> ThreadState:
        return cls(config, store, thread_id, context, await load_thread_state(store, thread_id, context))

    @property
    def value(self) -> dict[str, Any]:
        """A copy of the current state (changing it changes nothing: use `change`)."""
        return copy.deepcopy(self._value)

    def view(self) -> StateView:
        return StateView(self.value)

    def change(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Set the top-level properties in `changes`; raises `StateRefused` (and changes nothing)
        when the result breaks the schema. Returns the new state."""
        proposed = {**self._value, **copy.deepcopy(dict(changes))}
        errors = state_errors(self.config.state_schema, proposed)
        if errors:
            logger.warning("refused a state change on thread %s: %s", self.thread_id, "; ".join(errors))
            raise StateRefused("state change refused: " + "; ".join(errors))
        self._value = proposed
        return self.value

    async def save(self) -> None:
        """Write the state if it changed since it was read or last saved."""
        if self._value != self._saved:
            await save_thread_state(self.store, self.thread_id, self._value, self.context)
            self._saved = copy.deepcopy(self._value)


async def stored_misfits(store: SQLStore, config: StateConfig, shown: int = 3,
                         page: int = 500) -> tuple[int, list[str]]:
    """How many saved thread states do not fit `config` as a thread reads them (the saved values
    over the new defaults), and why for the first `shown` of them (`thr_1: hunger: …`)."""
    count, after = 0, None
    examples: list[str] = []
    schema, first = config.state_schema, config.first_state
    while True:
        rows = await stored_states(store, after, page)
        for thread_id, saved in rows:
            errors = state_errors(schema, {**first, **saved})
            if errors:
                count += 1
                if len(examples) < shown:
                    examples.append(f"{thread_id}: {'; '.join(errors)}")
        if len(rows) < page:
            return count, examples
        after = rows[-1][0]
