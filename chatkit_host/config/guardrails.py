"""What `agents.NAME.guardrails` may say: checks on a turn's input and on an agent's final output.

Pure models, like the rest of `config/`; `runtime/guardrails.py` turns them into Agents SDK
guardrails.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_MESSAGE = "Sorry, I can't help with that request."


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModerationCheck(_Strict):
    """Ask OpenAI's moderation endpoint whether the text is flagged (needs an OpenAI key)."""

    model: str = "omni-moderation-latest"
    """The moderation model."""
    categories: list[str] = []
    """Trip only on these categories (e.g. `violence`, `self-harm`); empty: on any flagged one."""
    on_error: Literal["block", "allow"] = "block"
    """When the moderation call fails: `block` ends the turn with the message, `allow` lets it
    through (the failure is logged either way)."""


class GuardrailCheck(_Strict):
    """One check. Exactly one of `python`, `max_length`, `blocked_terms` or `moderation`."""

    python: str | None = None
    """Import path of your check: `package.module:name` or `./file.py:name` (relative to
    chatkit.yaml). An Agents SDK `InputGuardrail`/`OutputGuardrail`, a function of the text
    (`def check(text: str) -> bool`, True trips), or a function with the SDK's guardrail signature
    `(ctx, agent, input_or_output)` returning a `GuardrailFunctionOutput` or a bool. May be async."""
    max_length: int | None = Field(None, ge=1)
    """Trip when the text is longer than this many characters."""
    blocked_terms: list[str] | None = Field(None, min_length=1)
    """Trip when the text contains one of these words or phrases (whole words, any case)."""
    moderation: ModerationCheck | None = None
    """Trip when OpenAI's moderation flags the text. `moderation: {}` uses the defaults."""
    message: str | None = None
    """What the user is told when this check trips; defaults to the agent's `guardrails.message`."""

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> GuardrailCheck:
        kinds = [k for k in ("python", "max_length", "blocked_terms", "moderation")
                 if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none"
            raise ValueError(
                "a guardrail needs exactly one of python, max_length, blocked_terms, moderation "
                f"(found: {found})"
            )
        return self

    @property
    def kind(self) -> str:
        """`python`, `max_length`, `blocked_terms` or `moderation`."""
        for kind in ("python", "max_length", "blocked_terms", "moderation"):
            if getattr(self, kind) is not None:
                return kind
        raise AssertionError("validated: one kind is set")


class GuardrailsConfig(_Strict):
    """Checks on what reaches an agent and on what it answers. A check that trips ends the turn:
    the user sees `message`, and everything the turn had added to the thread is removed."""

    input: list[GuardrailCheck] = []
    """Checks on the turn's input (the user's new message), run before the model is called, for
    the agent that starts the turn. A blocked message is removed from the thread, so its text never
    reaches the model in later turns (and later checks do not trip on it again)."""
    output: list[GuardrailCheck] = []
    """Checks on the agent's final answer. They run for the agent that ends the turn."""
    message: str = DEFAULT_MESSAGE
    """What the user is told when a check trips (a check's own `message` wins)."""
