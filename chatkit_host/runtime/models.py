"""Model references (`NAME` or `PROVIDER/NAME`) → Agents SDK models."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from agents import ModelSettings
from agents.models.interface import Model, ModelProvider
from agents.models.openai_provider import OpenAIProvider
from agents.models.openai_responses import OpenAIResponsesModel
from chatkit.errors import CustomStreamError
from openai import AsyncOpenAI, OpenAIError
from openai.types.shared import Reasoning

from chatkit_host.config.models import ModelSettingsConfig, ProviderConfig
from chatkit_host.runtime.litellm_models import LitellmMissing
from chatkit_host.runtime.scripted import ScriptedProvider, load_script

OPENAI = "openai"
PROVIDER_UNAVAILABLE = "The assistant's model is not set up on this server yet."
logger = logging.getLogger(__name__)


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
        chains = config.api == "responses"
        return ScriptedProvider(load_script(Path(config.scripted)), record=record, chains=chains)
    if config.litellm:
        return LitellmModels(api_key=config.api_key, base_url=config.base_url)
    if config.azure:
        azure = config.azure
        return OpenAIProvider(
            # The proxy stands in for the client it makes on first use.
            openai_client=cast(AsyncOpenAI, _LazyAzureClient(azure.endpoint, azure.api_version, config.api_key)),
            use_responses=config.api != "chat_completions",
        )
    return OpenAIProvider(
        api_key=config.api_key,
        base_url=config.base_url,
        use_responses=config.api != "chat_completions",
    )


class LitellmModels(ModelProvider):
    """Models served through LiteLLM (the Agents SDK's `LitellmModel`), imported on first use so
    the extra is needed only by projects that declare such a provider."""

    def __init__(self, api_key: str | None, base_url: str | None):
        self.api_key = api_key
        self.base_url = base_url

    def get_model(self, model_name: str | None) -> Model:
        from chatkit_host.runtime.litellm_models import litellm_model

        return litellm_model(model_name or "", self.base_url, self.api_key)


class _LazyAzureClient:
    """An `AsyncAzureOpenAI` made on first attribute access: the SDK's constructor raises without
    a key, and building a runtime (and `validate`) must work without one."""

    def __init__(self, endpoint: str, api_version: str, api_key: str | None):
        self._arguments: dict[str, Any] = {"azure_endpoint": endpoint, "api_version": api_version, "api_key": api_key}
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._client is None:
            from openai import AsyncAzureOpenAI

            self._client = AsyncAzureOpenAI(**self._arguments)
        return getattr(self._client, name)


def chains_responses(model: Model | str | None) -> bool:
    """True when the model keeps conversations server-side and accepts `previous_response_id`
    (never for a model known only by name: the provider resolves that one per run)."""
    return isinstance(model, OpenAIResponsesModel) or bool(getattr(model, "chains", False))


def split_reference(reference: str, providers: Mapping[str, object]) -> tuple[str, str]:
    """`demo/any` → (`demo`, `any`); a bare `gpt-4.1` → (`openai`, `gpt-4.1`)."""
    provider, sep, name = reference.partition("/")
    if sep and provider in providers:
        return provider, name
    return OPENAI, reference


def resolve_model(reference: str, providers: Mapping[str, ModelProvider]) -> Model:
    provider, name = split_reference(reference, providers)
    source = providers[provider]
    if isinstance(source, OpenAIProvider):
        # Its get_model builds the HTTP client at once, which fails without an API key: building
        # (and `validate`) must work offline, so the client is made on the first call instead.
        # OpenAIProvider keeps its choice private; `api: chat_completions` is the only way off it.
        chains = getattr(source, "_use_responses", True) is not False
        return DeferredModel(lambda: source.get_model(name), chains)
    if isinstance(source, LitellmModels):
        return DeferredModel(lambda: source.get_model(name), chains=False)
    return source.get_model(name)


class DeferredModel(Model):
    """A provider's model, made on the first call."""

    def __init__(self, make: Callable[[], Model], chains: bool):
        self.make = make
        self.chains = chains
        self._model: Model | None = None

    def resolve(self) -> Model:
        if self._model is None:
            try:
                self._model = self.make()
            except (OpenAIError, LitellmMissing) as error:  # a missing key or package
                # `serve` refuses to start like this; an app built another way says so per turn.
                logger.warning("model provider cannot answer: %s", error)
                raise CustomStreamError(PROVIDER_UNAVAILABLE) from None
        return self._model

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        return await self.resolve().get_response(*args, **kwargs)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve().stream_response(*args, **kwargs)

    async def close(self) -> None:
        if self._model is not None:
            await self._model.close()


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
