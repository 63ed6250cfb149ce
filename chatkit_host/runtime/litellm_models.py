"""LiteLLM models, kept in a module of their own: importing LiteLLM costs seconds and only projects
that declare `litellm: true` providers pay it, on their first model call."""

from __future__ import annotations

import logging
import os

from agents.models.interface import Model

from chatkit_host.config.credentials import LITELLM_INSTALL, litellm_available


class LitellmMissing(RuntimeError):
    """A `litellm: true` provider is in use but LiteLLM is not installed."""


def litellm_model(name: str, base_url: str | None, api_key: str | None) -> Model:
    if not litellm_available():
        raise LitellmMissing(f"LiteLLM is not installed: {LITELLM_INSTALL}")
    # LiteLLM fetches its model price list from the internet on import unless told not to: the
    # host stays offline except for the model calls themselves.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from agents.extensions.models.litellm_model import LitellmModel

    # LiteLLM logs every completion at INFO on a logger of its own; the host's request log says it.
    logging.getLogger("LiteLLM").setLevel(logging.WARNING)
    return LitellmModel(model=name, base_url=base_url, api_key=api_key)
