"""Model references (`NAME` or `PROVIDER/NAME`) → Agents SDK models."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from agents import ModelSettings
from agents.models.interface import Model, ModelProvider
from agents.models.openai_provider import OpenAIProvider
from openai.types.shared import Reasoning

from chatkit_host.config.models import ModelSettingsConfig, ProviderConfig
from chatkit_host.runtime.scripted import ScriptedProvider, load_script

OPENAI = "openai"


def build_providers(configs: Mapping[str, ProviderConfig]) -> dict[str, ModelProvider]:
    """One provider object per declared provider, plus the implicit `openai`.

    Nothing here touches the network: OpenAI clients connect on the first model call.
    """
    providers: dict[str, ModelProvider] = {OPENAI: OpenAIProvider(use_responses=True)}
    for name, config in configs.items():
        providers[name] = _provider(config)
    return providers


def _provider(config: ProviderConfig) -> ModelProvider:
    if config.scripted:
        record = Path(config.record) if config.record else None
        return ScriptedProvider(load_script(Path(config.scripted)), record=record)
    return OpenAIProvider(
        api_key=config.api_key,
        base_url=config.base_url,
        use_responses=config.api == "responses",
    )


def split_reference(reference: str, providers: Mapping[str, object]) -> tuple[str, str]:
    """`demo/any` → (`demo`, `any`); a bare `gpt-4.1` → (`openai`, `gpt-4.1`)."""
    provider, sep, name = reference.partition("/")
    if sep and provider in providers:
        return provider, name
    return OPENAI, reference


def resolve_model(reference: str, providers: Mapping[str, ModelProvider]) -> Model:
    provider, name = split_reference(reference, providers)
    return providers[provider].get_model(name)


def model_settings(config: ModelSettingsConfig | None) -> ModelSettings:
    if config is None:
        return ModelSettings()
    return ModelSettings(
        temperature=config.temperature,
        top_p=config.top_p,
        max_tokens=config.max_tokens,
        tool_choice=config.tool_choice,
        parallel_tool_calls=config.parallel_tool_calls,
        reasoning=Reasoning(effort=config.reasoning_effort) if config.reasoning_effort else None,
    )
