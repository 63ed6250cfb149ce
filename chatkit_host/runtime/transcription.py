"""Dictation: `input.transcribe` through the OpenAI audio API (or a compatible server).

Checked before any call: the audio type against `transcription.accept` and its size against
`transcription.max_bytes`; a refusal is a `ValueError`, which the app answers with 400 and the
message (it names the accepted types).
"""

from __future__ import annotations

from typing import Any

from chatkit.types import AudioInput, TranscriptionResult
from openai import AsyncOpenAI

from chatkit_host.config.files import TranscriptionConfig
from chatkit_host.config.models import ModelsConfig

_EXTENSIONS = {"audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "mp4", "audio/mpeg": "mp3",
               "audio/wav": "wav", "audio/x-wav": "wav", "audio/m4a": "m4a", "audio/flac": "flac"}


class TranscriptionRefused(ValueError):
    """Audio the host will not send for transcription; the message says why."""


def check_audio(config: TranscriptionConfig, audio: AudioInput) -> None:
    media_type = audio.media_type.strip().lower()
    if media_type not in config.accept:
        raise TranscriptionRefused(
            f"audio of type {media_type or 'unknown'} cannot be transcribed; accepted: "
            + ", ".join(config.accept)
        )
    if not audio.data:
        raise TranscriptionRefused("the recording is empty")
    if len(audio.data) > config.max_bytes:
        raise TranscriptionRefused(
            f"the recording is larger than {config.max_bytes.describe()} (transcription.max_bytes)"
        )


async def transcribe(config: TranscriptionConfig, models: ModelsConfig, audio: AudioInput) -> TranscriptionResult:
    """The text of `audio`, from the model `config` names."""
    check_audio(config, audio)
    provider = models.providers.get(config.provider)
    client = AsyncOpenAI(
        api_key=provider.api_key if provider and provider.api_key else None,
        base_url=provider.base_url if provider and provider.base_url else None,
    )
    media_type = audio.media_type.strip().lower()
    name = f"speech.{_EXTENSIONS.get(media_type, 'webm')}"
    extra: dict[str, Any] = {"language": config.language} if config.language else {}
    result = await client.audio.transcriptions.create(
        model=config.model, file=(name, audio.data, media_type), **extra
    )
    return TranscriptionResult(text=result.text.strip())
