"""`agents.NAME.guardrails` → Agents SDK input and output guardrails on the built agents.

Each guardrail built here is a `HostInputGuardrail`/`HostOutputGuardrail`: the SDK's own classes
carrying the message the user sees and the check's label (for logs and metrics). Input checks run
before the model is called (not in parallel with it), so a blocked message costs no tokens.

The built-in checks look at text only: the turn's input (the user-role messages after the last
thing the assistant said) or the agent's final output.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents import Agent, GuardrailFunctionOutput, InputGuardrail, OutputGuardrail

from chatkit_host.config.guardrails import DEFAULT_MESSAGE, GuardrailCheck, GuardrailsConfig
from chatkit_host.config.loader import LoadedConfig
from chatkit_host.errors import ConfigProblem
from chatkit_host.refs import UnresolvedReference, resolve

logger = logging.getLogger("chatkit_host.guardrails")

TextCheck = Callable[[str], Awaitable[str | None]]
"""A built-in check: the text in, a reason (tripped) or None out."""


@dataclass
class HostInputGuardrail(InputGuardrail[Any]):
    """An input guardrail with the message its tripwire shows and a label for logs and metrics."""

    message: str = DEFAULT_MESSAGE
    check: str = "python"


@dataclass
class HostOutputGuardrail(OutputGuardrail[Any]):
    """An output guardrail with the message its tripwire shows and a label for logs and metrics."""

    message: str = DEFAULT_MESSAGE
    check: str = "python"


class _BuildError(Exception):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


def attach_guardrails(
    loaded: LoadedConfig, agents: Mapping[str, Agent], problems: list[ConfigProblem]
) -> None:
    """Add each agent's declared guardrails to it (after any its code already has)."""
    for name, spec in loaded.config.agents.items():
        if spec.guardrails is None or name not in agents:
            continue
        agent = agents[name]
        for stage in ("input", "output"):
            built = []
            for index, check in enumerate(getattr(spec.guardrails, stage)):
                try:
                    built.append(_build(stage, check, spec.guardrails, loaded))
                except _BuildError as error:
                    path = ("agents", name, "guardrails", stage, index, check.kind)
                    problems.append(loaded.problem(path, error.message, error.hint))
            if stage == "input":
                agent.input_guardrails = [*agent.input_guardrails, *built]
            else:
                agent.output_guardrails = [*agent.output_guardrails, *built]


def tripwire_message(guardrail: object, config: GuardrailsConfig | None) -> str:
    """What the user is told when ``guardrail`` trips (for guardrails from an agent's own code,
    the agent's `guardrails.message`)."""
    own = getattr(guardrail, "message", None)
    if isinstance(own, str):
        return own
    return config.message if config is not None else DEFAULT_MESSAGE


def check_label(guardrail: object) -> str:
    """`max_length`, `blocked_terms`, `moderation`, or the python guardrail's name."""
    label = getattr(guardrail, "check", None) or getattr(guardrail, "name", None)
    return label if isinstance(label, str) else "python"


def turn_input_text(input: str | list[Any]) -> str:
    """The text of the turn's input: the user-role messages after the last non-user item."""
    if isinstance(input, str):
        return input
    parts: list[str] = []
    for item in reversed(input):
        if not isinstance(item, Mapping) or item.get("role") != "user":
            break
        parts.append(_message_text(item.get("content")))
    return "\n".join(reversed([p for p in parts if p]))


def output_text(output: Any) -> str:
    return output if isinstance(output, str) else str(output)


def _build(stage: str, check: GuardrailCheck, config: GuardrailsConfig, loaded: LoadedConfig) -> Any:
    message = check.message or config.message
    if check.python is not None:
        return _from_python(stage, check.python, message, loaded.base_dir)
    text_check = _builtin(check, loaded)
    if stage == "input":
        async def on_input(ctx: Any, agent: Agent, input: Any) -> GuardrailFunctionOutput:
            return _outcome(await text_check(turn_input_text(input)))

        return HostInputGuardrail(on_input, name=check.kind, run_in_parallel=False,
                                  message=message, check=check.kind)

    async def on_output(ctx: Any, agent: Agent, output: Any) -> GuardrailFunctionOutput:
        return _outcome(await text_check(output_text(output)))

    return HostOutputGuardrail(on_output, name=check.kind, message=message, check=check.kind)


def _outcome(reason: str | None) -> GuardrailFunctionOutput:
    return GuardrailFunctionOutput(output_info=reason, tripwire_triggered=reason is not None)


def _builtin(check: GuardrailCheck, loaded: LoadedConfig) -> TextCheck:
    if check.max_length is not None:
        limit = check.max_length

        async def too_long(text: str) -> str | None:
            return f"{len(text)} characters, more than {limit}" if len(text) > limit else None

        return too_long
    if check.blocked_terms is not None:
        pattern = _terms_pattern(check.blocked_terms)

        async def blocked(text: str) -> str | None:
            found = pattern.search(text)
            return "a blocked term" if found else None

        return blocked
    assert check.moderation is not None
    return _moderation(check, _openai_key(loaded))


def _terms_pattern(terms: list[str]) -> re.Pattern[str]:
    # Whole words: "ass" must not trip on "class". Lookarounds rather than \b, so terms that start
    # or end with punctuation match too.
    alternatives = "|".join(re.escape(t.strip()) for t in terms if t.strip())
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _moderation(check: GuardrailCheck, api_key: str | None) -> TextCheck:
    """OpenAI's moderation endpoint. The client is made on first use: building makes no call."""
    settings = check.moderation
    assert settings is not None
    client: Any = None

    async def moderate(text: str) -> str | None:
        nonlocal client
        if not text.strip():
            return None
        try:
            if client is None:
                from openai import AsyncOpenAI

                # One retry: the check sits on the request path, before the model is called.
                client = AsyncOpenAI(api_key=api_key or os.environ.get("OPENAI_API_KEY"),
                                     max_retries=1, timeout=10)
            response = await client.moderations.create(model=settings.model, input=text)
        except Exception as error:  # noqa: BLE001 - any failure is a decision, logged
            logger.warning("moderation failed (%s): %s", settings.on_error, type(error).__name__)
            return "moderation unavailable" if settings.on_error == "block" else None
        return _flagged(response, settings.categories)

    return moderate


def _flagged(response: Any, categories: list[str]) -> str | None:
    for result in response.results:
        if not result.flagged:
            continue
        hits = [k for k, v in result.categories.model_dump(by_alias=True).items() if v]
        if categories:
            hits = [k for k in hits if k in categories]
        if hits:
            return "flagged: " + ", ".join(sorted(hits))
    return None


def _openai_key(loaded: LoadedConfig) -> str | None:
    provider = loaded.config.models.providers.get("openai")
    return provider.api_key if provider is not None else None


def _from_python(stage: str, reference: str, message: str, base_dir: Path) -> Any:
    try:
        target = resolve(reference, base_dir)
    except UnresolvedReference as error:
        raise _BuildError(error.message, error.hint) from None
    wanted, other = ((InputGuardrail, OutputGuardrail) if stage == "input"
                     else (OutputGuardrail, InputGuardrail))
    if isinstance(target, other):
        raise _BuildError(f"'{reference}' is an {type(target).__name__}, listed under {stage}",
                          hint=f"move it to guardrails.{'output' if stage == 'input' else 'input'}")
    if isinstance(target, wanted):
        function, name = target.guardrail_function, target.name or reference
        parallel = getattr(target, "run_in_parallel", False)
    elif callable(target) and not inspect.isclass(target):
        function, name, parallel = _sdk_signature(target, stage, reference), reference, False
    else:
        raise _BuildError(f"'{reference}' is not a guardrail or a function",
                          hint="point it at an InputGuardrail/OutputGuardrail or a function")
    if stage == "input":
        return HostInputGuardrail(function, name=name, run_in_parallel=parallel,
                                  message=message, check=name)
    return HostOutputGuardrail(function, name=name, message=message, check=name)


def _sdk_signature(function: Callable[..., Any], stage: str, reference: str) -> Callable[..., Any]:
    """Your function as the SDK calls guardrails: `(ctx, agent, input_or_output)`."""
    try:
        arity = len(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        arity = 3
    if arity not in (1, 3):
        raise _BuildError(f"'{reference}' takes {arity} arguments",
                          hint="take the text (`def check(text)`) or `(ctx, agent, input)`")
    text_of = turn_input_text if stage == "input" else output_text

    async def guardrail(ctx: Any, agent: Agent, data: Any) -> GuardrailFunctionOutput:
        result = function(text_of(data)) if arity == 1 else function(ctx, agent, data)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, GuardrailFunctionOutput):
            return result
        return GuardrailFunctionOutput(output_info=None, tripwire_triggered=bool(result))

    return guardrail


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", "")) for part in content
            if isinstance(part, Mapping) and part.get("type") in ("input_text", "output_text", "text")
        )
    return ""
