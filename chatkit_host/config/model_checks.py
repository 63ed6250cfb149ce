"""Checks of the `models` and `transcription` sections: model references and providers."""

from __future__ import annotations

from pathlib import Path

from chatkit_host.config.checking import ProblemAt, resolve_path, suggest
from chatkit_host.config.models import ChatKitConfig
from chatkit_host.config.positions import KeyPath
from chatkit_host.errors import ConfigProblem


def check_model_references(config: ChatKitConfig, problem: ProblemAt) -> list[ConfigProblem]:
    """Every model reference is `NAME` or `PROVIDER/NAME` with a declared (or built-in) provider."""
    references: list[tuple[KeyPath, str]] = [(("models", "default"), config.models.default)]
    references += [(("agents", name, "model"), agent.model)
                   for name, agent in config.agents.items() if agent.model is not None]
    references += [(("client", "composer", "models", index, "model" if entry.model else "id"), entry.reference)
                   for index, entry in enumerate(config.client.composer.models)]
    providers = ["openai", *(name for name in config.models.providers if name != "openai")]
    problems: list[ConfigProblem] = []
    for path, reference in references:
        provider, slash, model = reference.partition("/")
        if not reference.strip() or (slash and not (provider and model)):
            problems.append(problem(path, "a model reference is NAME or PROVIDER/NAME, with no empty part"))
        elif slash and provider not in providers:
            hint = suggest(provider, providers, "known providers")
            problems.append(problem(path, f"unknown provider '{provider}'", hint))
    return problems


def check_scripted_files(config: ChatKitConfig, base_dir: Path, problem: ProblemAt) -> list[ConfigProblem]:
    """Each scripted provider's script exists (its content is the runtime's business)."""
    return [
        problem(("models", "providers", name, "scripted"), f"scripted file {provider.scripted} not found")
        for name, provider in config.models.providers.items()
        if provider.scripted is not None and not resolve_path(base_dir, provider.scripted).is_file()
    ]


def check_transcription(config: ChatKitConfig, problem: ProblemAt) -> list[ConfigProblem]:
    """The transcription provider is declared (or OpenAI) and can transcribe."""
    problems: list[ConfigProblem] = []
    if config.transcription is not None:
        provider = config.transcription.provider
        declared = config.models.providers.get(provider)
        if provider != "openai" and declared is None:
            problems.append(problem(("transcription", "provider"), f"unknown provider '{provider}'",
                                    suggest(provider, ["openai", *config.models.providers], "known providers")))
        elif declared is not None and declared.scripted:
            problems.append(problem(("transcription", "provider"), "a scripted provider cannot transcribe"))
    return problems
