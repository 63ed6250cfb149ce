"""Does every model provider in use have what it needs to answer? Checked before serving.

A provider without its key fails on the first turn, long after the deploy looked fine. `serve`
refuses to start instead, naming the model reference that needs the key and where to set it;
`validate` reports the same as warnings, since it often runs where no secret is (CI). Nothing here
makes a network call or echoes a value: a key's presence is all that is looked at.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from chatkit_host.config.loader import LoadedConfig
from chatkit_host.config.models import ProviderConfig
from chatkit_host.config.positions import KeyPath
from chatkit_host.errors import ConfigProblem

OPENAI = "openai"
LITELLM_INSTALL = "pip install 'chatkit-host[litellm]'"


def litellm_available() -> bool:
    """Whether LiteLLM can be imported, without importing it (that costs seconds)."""
    from importlib.util import find_spec

    return find_spec("litellm") is not None


def missing_credentials(loaded: LoadedConfig, environ: Mapping[str, str]) -> list[ConfigProblem]:
    """One problem per provider in use that cannot answer, at the first place it is used."""
    problems: list[ConfigProblem] = []
    seen: set[str] = set()
    providers = loaded.config.models.providers
    for path, reference, provider in _references(loaded):
        if provider in seen:
            continue
        seen.add(provider)
        config = providers.get(provider)
        found = _what_is_missing(provider, config, environ)
        if found is not None:
            message, hint = found
            problems.append(loaded.problem(path, f"model '{reference}' {message}", hint))
    return problems


def _references(loaded: LoadedConfig) -> Iterator[tuple[KeyPath, str, str]]:
    """(where, model reference, provider name) for every model the configuration will call."""
    config = loaded.config
    for name, agent in config.agents.items():
        if agent.python and not agent.model:
            continue  # the code's own model: resolved through the providers at run time
        path: KeyPath = ("agents", name, "model") if agent.model else ("models", "default")
        reference = agent.model or config.models.default
        yield path, reference, _provider_of(reference, config.models.providers)
    for index, entry in enumerate(config.client.composer.models):
        if not entry.disabled:
            path = ("client", "composer", "models", index, "model" if entry.model else "id")
            yield path, entry.reference, _provider_of(entry.reference, config.models.providers)
    if config.transcription is not None:
        provider = config.transcription.provider
        yield ("transcription", "provider"), config.transcription.model, provider


def _provider_of(reference: str, providers: Mapping[str, ProviderConfig]) -> str:
    provider, sep, _ = reference.partition("/")
    return provider if sep and provider in providers else OPENAI


def _what_is_missing(name: str, config: ProviderConfig | None,
                     environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(message, hint) when the provider cannot answer, else None."""
    if config is not None and config.scripted:
        return None
    if config is not None and config.litellm:
        if not litellm_available():
            return (f"is served through LiteLLM (provider '{name}'), which is not installed",
                    LITELLM_INSTALL)
        return None  # LiteLLM reads each provider's own variable; it names the one it lacks
    if config is not None and config.azure:
        if config.api_key or environ.get("AZURE_OPENAI_API_KEY"):
            return None
        return (f"is served by Azure OpenAI (provider '{name}'), which needs an API key",
                f"set AZURE_OPENAI_API_KEY, or models.providers.{name}.api_key: \"${{MY_KEY}}\"")
    if config is not None and config.base_url:
        return None  # an OpenAI-compatible server of your own; many need no key
    if (config is not None and config.api_key) or environ.get("OPENAI_API_KEY"):
        return None
    return (f"is served by OpenAI (provider '{name}'), which needs an API key",
            f"set OPENAI_API_KEY, or models.providers.{name}.api_key: \"${{MY_KEY}}\"; "
            "for an offline model see `scripted:` providers")
