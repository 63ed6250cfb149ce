"""An offline, deterministic model that answers from a script file (see `script.py`).

Declared in chatkit.yaml as `models: { providers: { demo: { scripted: demo.yaml } } }`, it lets the
shipped example and every test run with no network and no API key, through the same Agents SDK
runner and ChatKit streaming code as a real model.

What a caller may rely on:

- The answer depends on the model input only, never on state kept between calls, so any replica
  answers the same. The turn starts at the latest message the user typed (ChatKit's converter also
  sends hidden context, quoted text, @-mention context, widgets and forms as user-role messages;
  those are recognised by their openings and skipped); the step within the turn is the number of
  `function_call_output` and `image_generation_call` items after it.
- Past the last step, a final `say` repeats and a final `call` or `image` is followed by an empty
  message: every turn ends.
- An `image` step streams a hosted `image_generation_call` the way the Responses API does:
  `response.output_item.added` (status in_progress, no result), `…image_generation_call.in_progress`
  and `.generating`, one `…image_generation_call.partial_image` per partial image
  (`partial_image_b64`, 0-based `partial_image_index`), `.completed`, `response.output_item.done`
  with `result` (a base64 PNG, `image.py`), then `response.completed`. Each call gets a fresh
  `ig_…` id, because the host names the stored image after it. The runner does not execute a
  hosted call; it calls the model again, which then plays the next step.
- Like the SDK's Chat Completions path, output items (messages and function calls) carry
  `FAKE_RESPONSES_ID` and there is no reusable response id: a streamed response's id is the fake
  id, an unstreamed one has none. A call with `previous_response_id` or `conversation_id` raises
  `UserError` (after it is recorded).
- With `record`, each call appends one JSON line: model, instructions, input, tools (handoffs
  included), previous_response_id and the tool_choice it was asked to make.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, cast

from agents.agent_output import AgentOutputSchemaBase
from agents.exceptions import UserError
from agents.handoffs import Handoff
from agents.items import ModelResponse, TResponseInputItem, TResponseStreamEvent
from agents.model_settings import ModelSettings
from agents.models.fake_id import FAKE_RESPONSES_ID
from agents.models.interface import Model, ModelProvider, ModelTracing
from agents.tool import Tool
from agents.tracing import AgentSpanData, TurnSpanData, generation_span, get_current_span
from agents.usage import Usage
from openai.types.responses import (
    Response,
    ResponseImageGenCallCompletedEvent,
    ResponseImageGenCallGeneratingEvent,
    ResponseImageGenCallInProgressEvent,
    ResponseImageGenCallPartialImageEvent,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseInProgressEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseUsage,
)
from openai.types.responses.response_output_item import ImageGenerationCall
from openai.types.responses.response_prompt_param import ResponsePromptParam
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from chatkit_host.runtime.scripted.chain import ChainState, decode_state, encode_state
from chatkit_host.runtime.scripted.image import scripted_png
from chatkit_host.runtime.scripted.script import ImageStep, Script, load_script, render_arguments

__all__ = ["Script", "ScriptedProvider", "ScriptedReplyModel", "load_script"]


@dataclass(frozen=True)
class _Turn:
    """What the script needs to know about the model input."""

    user_text: str
    turn: int
    """1-based: how many user messages (runs of them) the input holds."""
    tool_outputs: list[str]
    """Outputs of the function calls since the turn's user message, oldest first."""
    input_words: int
    steps_done: int = 0
    """Steps the turn has played: its function call outputs plus its hosted image calls."""


class _Answer(NamedTuple):
    """One model call's result: the output item, its text as stream deltas, and its usage."""

    item: ResponseOutputMessage | ResponseFunctionToolCall | ImageGenerationCall
    deltas: list[str]
    """Text deltas of a message; the base64 partial images of an image generation call."""
    usage: Usage
    response_id: str | None = None
    """Set when the model chains responses: the id the next call may pass back."""


class ScriptedReplyModel(Model):
    """A `Model` that plays a `Script`: one step per call, chosen from the input alone."""

    def __init__(
        self,
        script: Script,
        model_name: str = "scripted",
        record: Path | None = None,
        chains: bool = False,
    ):
        """`record`: a JSON-lines file each call is appended to (a path the caller resolved).

        `chains`: behave like the Responses API — every response has an id, and a call may pass
        `previous_response_id` with only the new input items. The id itself carries the turn's
        state (see `chain.py`), so no replica needs to remember anything.
        """
        self.script = script
        self.model_name = model_name
        self.record = record
        self.chains = chains

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        self._record(system_instructions, input, tools, handoffs, previous_response_id, model_settings)
        self._check_server_state(previous_response_id, conversation_id)
        answer = self._answer(system_instructions, input, previous_response_id)
        with _generation_span(self.model_name, tracing, input, answer):
            pass
        # Without chaining there is no response id: like the Chat Completions path.
        return ModelResponse(output=[answer.item], usage=answer.usage, response_id=answer.response_id)

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        self._record(system_instructions, input, tools, handoffs, previous_response_id, model_settings)
        self._check_server_state(previous_response_id, conversation_id)
        answer = self._answer(system_instructions, input, previous_response_id)
        with _generation_span(self.model_name, tracing, input, answer):
            first_delta = True
            for event in _stream_events(answer, self.model_name):
                if isinstance(event, (ResponseTextDeltaEvent, ResponseImageGenCallPartialImageEvent)):
                    # Pause between deltas (and partial images), so a caller can cancel mid-message.
                    if not first_delta and self.script.delay_ms:
                        await asyncio.sleep(self.script.delay_ms / 1000)
                    first_delta = False
                yield event

    def _check_server_state(self, previous_response_id: str | None, conversation_id: str | None) -> None:
        if self.chains and conversation_id is None:
            return
        _refuse_server_state(previous_response_id, conversation_id)

    def _answer(
        self,
        instructions: str | None,
        input: str | list[TResponseInputItem],
        previous_response_id: str | None = None,
    ) -> _Answer:
        turn = _read_turn(input)
        if previous_response_id is not None:
            turn = _continue_turn(decode_state(previous_response_id), turn)
        index = turn.steps_done
        step = self.script.step_for(turn.user_text, turn.turn, index)
        variables = _variables(turn)
        input_words = turn.input_words + _words(instructions or "")
        # A hosted call is a step done by this very response: no output will come back to count.
        done = index + 1 if step is not None and step.image is not None else index
        response_id = encode_state(ChainState(turn.user_text, turn.turn, done)) if self.chains else None
        if step is not None and step.image is not None:
            call, partials = _image_call(step.image)
            return _Answer(call, partials, _usage(input_words, 0), response_id)
        if step is not None and step.call is not None:
            function_call = _function_call(step.call, render_arguments(step.arguments, variables))
            usage = _usage(input_words, _words(f"{function_call.name} {function_call.arguments}"))
            return _Answer(function_call, [], usage, response_id)
        text = step.say.render(variables) if step is not None and step.say is not None else ""
        message = _message(text, unique=self.chains)
        return _Answer(message, _chunks(text, self.script.stream), _usage(input_words, _words(text)), response_id)

    def _record(
        self,
        instructions: str | None,
        input: str | list[TResponseInputItem],
        tools: list[Tool],
        handoffs: list[Handoff],
        previous_response_id: str | None,
        model_settings: ModelSettings | None = None,
    ) -> None:
        if self.record is None:
            return
        line = {
            "model": self.model_name,
            "instructions": instructions,
            "input": _items(input),
            "tools": [tool.name for tool in tools] + [handoff.tool_name for handoff in handoffs],
            "previous_response_id": previous_response_id,
            "tool_choice": model_settings.tool_choice if model_settings is not None else None,
        }
        data = (json.dumps(line, default=_jsonable) + "\n").encode()
        # One write to an O_APPEND descriptor lands whole at the end of the file, so lines that
        # several processes append at once do not interleave.
        descriptor = os.open(self.record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, data)
        finally:
            os.close(descriptor)


class ScriptedProvider(ModelProvider):
    """Serves one `ScriptedReplyModel` per model name; every name plays the same script."""

    def __init__(self, script: Script, record: Path | None = None, chains: bool = False):
        self.script = script
        self.record = record
        self.chains = chains
        self._models: dict[str, ScriptedReplyModel] = {}

    def get_model(self, model_name: str | None) -> Model:
        name = model_name or "scripted"
        if name not in self._models:
            self._models[name] = ScriptedReplyModel(
                self.script, model_name=name, record=self.record, chains=self.chains
            )
        return self._models[name]


def _stream_events(answer: _Answer, model: str) -> Iterator[TResponseStreamEvent]:
    """The normalized Responses stream events of one answer, as a real model sends them."""
    numbers = itertools.count()
    item = answer.item
    response = Response(
        id=answer.response_id or FAKE_RESPONSES_ID,
        created_at=time.time(),
        model=model,
        object="response",
        output=[],
        tool_choice="auto",
        tools=[],
        parallel_tool_calls=False,
        status="in_progress",
    )
    yield ResponseCreatedEvent(
        type="response.created", response=response, sequence_number=next(numbers)
    )
    yield ResponseInProgressEvent(
        type="response.in_progress", response=response, sequence_number=next(numbers)
    )
    if isinstance(item, ResponseFunctionToolCall):
        started: Any = item.model_copy(update={"arguments": "", "status": "in_progress"})
    elif isinstance(item, ImageGenerationCall):
        started = item.model_copy(update={"result": None, "status": "in_progress"})
    else:
        started = item.model_copy(update={"content": [], "status": "in_progress"})
    yield ResponseOutputItemAddedEvent(
        type="response.output_item.added",
        item=started,
        output_index=0,
        sequence_number=next(numbers),
    )
    if isinstance(item, ResponseFunctionToolCall):
        yield from _arguments_events(item, numbers)
    elif isinstance(item, ImageGenerationCall):
        yield from _image_events(item, answer.deltas, numbers)
    else:
        yield from _text_events(item, answer.deltas, numbers)
    yield ResponseOutputItemDoneEvent(
        type="response.output_item.done", item=item, output_index=0, sequence_number=next(numbers)
    )
    completed = response.model_copy(
        update={"output": [item], "status": "completed", "usage": _response_usage(answer.usage)}
    )
    yield ResponseCompletedEvent(
        type="response.completed", response=completed, sequence_number=next(numbers)
    )


def _arguments_events(
    call: ResponseFunctionToolCall, numbers: Iterator[int]
) -> Iterator[TResponseStreamEvent]:
    where: dict[str, Any] = {"item_id": call.id, "output_index": 0}
    yield ResponseFunctionCallArgumentsDeltaEvent(
        type="response.function_call_arguments.delta",
        delta=call.arguments,
        sequence_number=next(numbers),
        **where,
    )
    # Validated from a dict: `name` is a field in some openai releases and an extra in others.
    yield ResponseFunctionCallArgumentsDoneEvent.model_validate(
        {
            "type": "response.function_call_arguments.done",
            "name": call.name,
            "arguments": call.arguments,
            "sequence_number": next(numbers),
            **where,
        }
    )


def _image_events(
    call: ImageGenerationCall, partials: list[str], numbers: Iterator[int]
) -> Iterator[TResponseStreamEvent]:
    where: dict[str, Any] = {"item_id": call.id, "output_index": 0}
    yield ResponseImageGenCallInProgressEvent(
        type="response.image_generation_call.in_progress", sequence_number=next(numbers), **where
    )
    yield ResponseImageGenCallGeneratingEvent(
        type="response.image_generation_call.generating", sequence_number=next(numbers), **where
    )
    for index, partial in enumerate(partials):
        yield ResponseImageGenCallPartialImageEvent(
            type="response.image_generation_call.partial_image",
            partial_image_b64=partial,
            partial_image_index=index,
            sequence_number=next(numbers),
            **where,
        )
    yield ResponseImageGenCallCompletedEvent(
        type="response.image_generation_call.completed", sequence_number=next(numbers), **where
    )


def _text_events(
    message: ResponseOutputMessage, deltas: list[str], numbers: Iterator[int]
) -> Iterator[TResponseStreamEvent]:
    text = "".join(deltas)
    where: dict[str, Any] = {"item_id": message.id, "output_index": 0, "content_index": 0}
    yield ResponseContentPartAddedEvent(
        type="response.content_part.added",
        part=_text_part(""),
        sequence_number=next(numbers),
        **where,
    )
    for delta in deltas:
        yield ResponseTextDeltaEvent(
            type="response.output_text.delta",
            delta=delta,
            logprobs=[],
            sequence_number=next(numbers),
            **where,
        )
    yield ResponseTextDoneEvent(
        type="response.output_text.done",
        text=text,
        logprobs=[],
        sequence_number=next(numbers),
        **where,
    )
    yield ResponseContentPartDoneEvent(
        type="response.content_part.done",
        part=_text_part(text),
        sequence_number=next(numbers),
        **where,
    )


def _refuse_server_state(previous_response_id: str | None, conversation_id: str | None) -> None:
    # Fail loudly, unlike the Chat Completions model's warning: with server-side state the input
    # would lack the history the script reads, and a host bug would hide behind odd replies.
    if previous_response_id is not None or conversation_id is not None:
        raise UserError(
            "the scripted model keeps no server-side conversation state: pass the full history"
            f" (got previous_response_id={previous_response_id!r},"
            f" conversation_id={conversation_id!r})"
        )


# ChatKit's converter sends context (hidden items, quoted text, @-mentions, widgets, forms) as
# user-role messages with these openings; they are not something the user typed.
_CONTEXT_OPENINGS = (
    "Hidden context for the agent",
    "The user is referring to this in particular",
    "# User-provided context for @-mentions",
    "A structured input request was displayed",
    "A message was displayed to the user",
    "The following graphical UI widget",
    "The following image was generated",
)


def _typed_by_user(item: dict[str, Any]) -> bool:
    if item.get("role") != "user" or item.get("type", "message") != "message":
        return False
    return not _text(item.get("content")).startswith(_CONTEXT_OPENINGS)


def _read_turn(input: str | list[TResponseInputItem]) -> _Turn:
    items = _items(input)
    turn, start, previous_was_user = 0, -1, False
    for index, item in enumerate(items):
        is_user = _typed_by_user(item)
        if is_user and not previous_was_user:
            turn, start = turn + 1, index
        previous_was_user = is_user
    outputs = [
        _text(item.get("output"))
        for item in items[start + 1 :]
        if item.get("type") == "function_call_output"
    ]
    images = sum(1 for item in items[start + 1 :] if item.get("type") == "image_generation_call")
    user_text = _text(items[start].get("content")) if start >= 0 else ""
    words = sum(
        _words(_text(item.get("content") or item.get("output") or item.get("arguments")))
        for item in items
    )
    return _Turn(
        user_text=user_text, turn=max(turn, 1), tool_outputs=outputs, input_words=words,
        steps_done=len(outputs) + images,
    )


def _items(input: str | list[TResponseInputItem]) -> list[dict[str, Any]]:
    """The input as a list of plain dicts (the SDK passes TypedDicts, but models may slip in)."""
    if isinstance(input, str):
        return [{"role": "user", "content": input}]
    return [
        cast(dict[str, Any], item) if isinstance(item, dict) else item.model_dump(exclude_unset=True)
        for item in input
        if isinstance(item, dict) or hasattr(item, "model_dump")
    ]


def _text(content: Any) -> str:
    """Text of a message content or tool output: a string, or the text of a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text") for part in content if isinstance(part, dict)]
        return "\n".join(part for part in parts if isinstance(part, str))
    return str(content)


def _variables(turn: _Turn) -> dict[str, Any]:
    return {
        "user_text": turn.user_text,
        "tool_output": turn.tool_outputs[-1] if turn.tool_outputs else "",
        "tool_outputs": turn.tool_outputs,
        "turn": turn.turn,
        "agent": _current_agent_name(),
    }


def _current_agent_name() -> str:
    # The Model interface is not told which agent calls it, but the runner's current span (a turn
    # span inside an agent span) knows, even with tracing disabled. Best effort: "" otherwise.
    data = getattr(get_current_span(), "span_data", None)
    if isinstance(data, TurnSpanData):
        return data.agent_name
    return data.name if isinstance(data, AgentSpanData) else ""


def _message(text: str, unique: bool = False) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id=f"msg_{uuid.uuid4().hex}" if unique else FAKE_RESPONSES_ID,
        type="message",
        role="assistant",
        status="completed",
        content=[_text_part(text)],
    )


def _function_call(name: str, arguments: Any) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(
        id=FAKE_RESPONSES_ID,
        call_id=f"call_{uuid.uuid4().hex}",  # fresh per call: the SDK correlates outputs by it
        type="function_call",
        name=name,
        arguments=json.dumps(arguments, ensure_ascii=False),
        status="completed",
    )


def _image_call(image: ImageStep) -> tuple[ImageGenerationCall, list[str]]:
    """The completed call (its `result` the final PNG) and the base64 partial images before it."""
    partials = [
        _base64(scripted_png(image.color, index, image.partial_images))
        for index in range(image.partial_images)
    ]
    call = ImageGenerationCall(
        id=f"ig_{uuid.uuid4().hex}",  # fresh per call: the host stores each image under its id
        type="image_generation_call",
        status="completed",
        result=_base64(scripted_png(image.color)),
    )
    return call, partials


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _text_part(text: str) -> ResponseOutputText:
    return ResponseOutputText(type="output_text", text=text, annotations=[], logprobs=[])


def _chunks(text: str, mode: str) -> list[str]:
    """Stream deltas that concatenate to exactly `text`: one per word (with its spacing) or char."""
    if mode == "char":
        return list(text)
    if mode == "word":
        return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])
    return [text] if text else []


def _words(text: str) -> int:
    return len(text.split())


def _usage(input_words: int, output_words: int) -> Usage:
    """Usage in "tokens" that are whitespace-separated words: enough for metrics and tests."""
    return Usage(
        requests=1,
        input_tokens=input_words,
        output_tokens=output_words,
        total_tokens=input_words + output_words,
    )


def _response_usage(usage: Usage) -> ResponseUsage:
    return ResponseUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
        input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
        output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
    )


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_unset=True)
    return str(value)


def _continue_turn(state: ChainState, new: _Turn) -> _Turn:
    """The turn as the whole conversation would read, from the chain state and the new items."""
    if new.user_text:  # the new items start a turn of their own
        return _Turn(new.user_text, state.turn + new.turn, new.tool_outputs, new.input_words,
                     new.steps_done)
    # Image calls among the new items are this model's own output, counted in the state already.
    outputs = [""] * state.outputs + new.tool_outputs
    return _Turn(state.user_text, state.turn, outputs, new.input_words, len(outputs))


@contextmanager
def _generation_span(
    model: str, tracing: ModelTracing, input: str | list[TResponseInputItem], answer: _Answer
) -> Iterator[None]:
    """The span the SDK's own models open for each call, so a traced turn shows its model calls."""
    with generation_span(model=model, disabled=tracing.is_disabled()) as span:
        usage = answer.usage
        span.span_data.usage = {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}
        if tracing.include_data():
            span.span_data.input = _items(input)
            span.span_data.output = [answer.item.model_dump()]
        yield
