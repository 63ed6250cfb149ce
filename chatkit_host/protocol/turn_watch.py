"""One turn's events, timed and guarded.

Times the turn and its first event (from the request's start) for the metrics, and turns a guardrail
tripwire into what the user should see: the SDK has already streamed removals for every item the turn
produced (`stream_ids.FreshItemIds` maps them to the ids the store holds); here the user's blocked
message is removed too, the trip is logged and counted, and
the turn ends with a `CustomStreamError`, which the SDK sends as an error event carrying the
configured message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

from agents import (
    Agent,
    InputGuardrailTripwireTriggered,
    ModelBehaviorError,
    OutputGuardrailTripwireTriggered,
)
from chatkit.errors import CustomStreamError
from chatkit.types import ThreadItemRemovedEvent, ThreadMetadata, ThreadStreamEvent, UserMessageItem

from chatkit_host.config.guardrails import GuardrailsConfig
from chatkit_host.observability import logs as request_log, metrics
from chatkit_host.observability.logs import FIELDS
from chatkit_host.runtime.build import Runtime
from chatkit_host.runtime.guardrails import check_label, tripwire_message

logger = logging.getLogger("chatkit_host.guardrails")
_turn_logger = logging.getLogger("chatkit_host.protocol.turn_watch")

UNUSABLE_ANSWER = "The assistant's answer was not in the expected format. Please try again."
"""The error event's message when the model's answer breaks its agent's output schema."""


async def watch_turn(
    events: AsyncIterator[ThreadStreamEvent],
    runtime: Runtime,
    agent: Agent,
    thread: ThreadMetadata,
    input_message: UserMessageItem | None,
) -> AsyncIterator[ThreadStreamEvent]:
    """``events``, timed; a guardrail tripwire becomes removals and a `CustomStreamError`."""
    record = request_log.current()
    started = record.started if record is not None else time.perf_counter()
    request_log.note(thread=thread.id)
    first_event: float | None = None
    try:
        async for event in events:
            if first_event is None:
                first_event = time.perf_counter() - started
            yield event
    except InputGuardrailTripwireTriggered as trip:
        guardrail = trip.guardrail_result.guardrail
        config = _guardrails_of(runtime, agent.name)
        _tripped(agent.name, "input", check_label(guardrail), thread)
        if input_message is not None:
            # Kept, the blocked text would reach the model next turn and trip the check again.
            yield ThreadItemRemovedEvent(item_id=input_message.id)
        raise CustomStreamError(tripwire_message(guardrail, config)) from None
    except OutputGuardrailTripwireTriggered as trip:
        result = trip.guardrail_result
        name = result.agent.name
        _tripped(name, "output", check_label(result.guardrail), thread)
        raise CustomStreamError(
            tripwire_message(result.guardrail, _guardrails_of(runtime, name))
        ) from None
    except ModelBehaviorError as error:
        # The model broke its contract (an answer its output schema cannot parse): one line in the
        # log, not a traceback, and an error the user can act on (#18).
        request_log.note(outcome="error")
        _turn_logger.warning("the model's answer could not be used",
                       extra={FIELDS: {"agent": agent.name, "thread": thread.id,
                                       "error": _first_line(str(error), 200)}})
        raise CustomStreamError(UNUSABLE_ANSWER, allow_retry=True) from None
    finally:
        metrics.turn_finished(agent.name, time.perf_counter() - started, first_event)


def _first_line(text: str, limit: int) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _guardrails_of(runtime: Runtime, agent: str) -> GuardrailsConfig | None:
    spec = runtime.config.agents.get(agent)
    return spec.guardrails if spec is not None else None


def _tripped(agent: str, stage: str, check: str, thread: ThreadMetadata) -> None:
    request_log.note(outcome="guardrail")
    metrics.guardrail_tripped(agent, stage, check)
    logger.warning(
        "guardrail tripped",
        extra={FIELDS: {"agent": agent, "stage": stage, "check": check, "thread": thread.id}},
    )
