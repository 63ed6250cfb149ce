"""chatkit.yaml sections for files: `files` (attachment storage and uploads), `converters` (what the
model receives for attachments, @-mentions, hidden context and generated images) and
`transcription` (dictation).

Pure models, like the rest of `config/`: no I/O. `files.url` stays as written; the file store
resolves a relative `file://` path against the folder of chatkit.yaml.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chatkit_host.config.sizes import Size

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MIME_PATTERN = r"^[a-z0-9][a-z0-9!#$&^_.+-]*/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$"

Duration = Annotated[int, Field(ge=1)] | Annotated[str, Field(pattern=r"^\s*\d+\s*[smhd]?\s*$")]
"""A duration: seconds as a number, or text like `90s`, `15m`, `2h`, `1d`."""


def duration_seconds(value: int | str) -> int:
    """Seconds in a `Duration` value (already validated by the schema)."""
    if isinstance(value, int):
        return value
    match = _DURATION.match(value)
    if match is None:
        raise ValueError(f"not a duration: {value!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FilesConfig(_Strict):
    """Attachments: where their bytes live, how they are uploaded, and what is accepted.

    Metadata (name, type, owner, thread) is kept in the store; the bytes live here. Without a
    `files` section the host takes no attachments.
    """

    url: str = "file://.chatkit/files"
    """Any fsspec URL: `file://relative/dir` (relative to chatkit.yaml), `file:///absolute/dir`,
    `memory://name` (throwaway), or `s3://bucket/prefix` (needs `pip install 'chatkit-host[s3]'`)."""
    options: dict[str, Any] = {}
    """fsspec storage options for `url`, e.g. for S3-compatible servers
    `{endpoint_url: http://127.0.0.1:9000, key: "${S3_KEY}", secret: "${S3_SECRET}"}`."""
    upload: Literal["direct", "two_phase"] = "direct"
    """`direct`: the client posts the file (multipart field `file`) to `ROUTE` and gets the
    attachment back. `two_phase`: `attachments.create` answers with a signed upload URL on this host,
    and the client posts the bytes there."""
    max_bytes: Size = Size("20MiB")
    """Largest file accepted (`64KB`, `20MiB` or bytes; KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024)."""
    max_per_message: int = Field(10, ge=1, le=1000)
    """Most attachments one message may carry (after repeats of the same id are merged). A
    message over it is refused with a 400 before anything is saved."""
    accept: list[Annotated[str, Field(pattern=_MIME_PATTERN)]] = Field(
        ["image/*", "application/pdf", "text/*"], min_length=1
    )
    """MIME types accepted, `type/*` patterns allowed. Checked against the file's bytes, not only
    the type the client declares: an executable named `cat.png` is refused."""
    preview_ttl: Duration = "15m"
    """How long a signed preview or upload URL stays valid (`15m`, `1h`, or seconds). Expired
    preview URLs are signed anew whenever a thread or item is read."""
    secret: str | None = Field(None, min_length=16)
    """Key that signs preview and upload URLs; use `${CHATKIT_FILES_SECRET}`. Every replica must
    share it. Without one, the host makes a random key and keeps it in `files.secret` beside a
    SQLite database (mode 0600); it refuses to serve a PostgreSQL store, non-local files or
    several workers without one."""
    route: str = Field("/files", pattern=r"^/[\w./-]*[\w-]$")
    """URL path prefix of the upload, download and preview endpoints."""
    public_url: str | None = Field(None, pattern=r"^https?://[^/\s]+(/[^\s]*)?$")
    """The URL clients (and, for `converters.attachments.images: url`, the model provider) reach
    this host at, e.g. `https://chat.example.com`. Defaults to the URL of each request."""

    @property
    def preview_ttl_seconds(self) -> int:
        return duration_seconds(self.preview_ttl)

    @field_validator("accept")
    @classmethod
    def _lowercase(cls, value: list[str]) -> list[str]:
        return [pattern.lower() for pattern in value]


class AttachmentConversion(_Strict):
    """How each kind of attachment reaches the model."""

    images: Literal["inline", "url", "none"] = "inline"
    """`inline`: a data URL with the bytes. `url`: a signed URL of this host (the provider must be
    able to reach `files.public_url`). `none`: a line naming the file instead."""
    pdf: Literal["inline", "none"] = "inline"
    """`inline`: an `input_file` part with the PDF's bytes. `none`: a line naming the file."""
    text: Literal["inline", "none"] = "inline"
    """`inline`: the file's text (UTF-8) inside `<file>` tags. `none`: a line naming the file."""
    text_max_chars: int = Field(100_000, ge=1)
    """Inlined text files are cut to this many characters."""
    max_bytes_per_turn: Size = Size("32MiB")
    """Most converted attachment data (data URLs, inlined text) sent to the model in one turn,
    history included (`32MB`, `512KiB` or bytes; KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024).
    The newest attachments go first; one that does not fit reaches the model as a line naming
    the file instead."""


class ConvertersConfig(_Strict):
    """What the model receives for attachments, @-mentions, hidden context and generated images."""

    attachments: AttachmentConversion = AttachmentConversion()
    """Attachments in user messages → model input."""
    tags: dict[str, str] = {}
    """@-mention templates by entity type (the tag's `data.type`; `default` for any other), e.g.
    `article: "<ARTICLE id='{{ tag.id }}'>{{ tag.data.body }}</ARTICLE>"`. A sandboxed jinja2
    template seeing `tag` (`id`, `text`, `data`, `group`), and `state`, `request`, `user`, `thread`
    and `vars` as instructions do."""
    hidden_context: str | None = None
    """Template for hidden context items, seeing `content` (and `state`, `request`, `user`, `thread`,
    `vars`); defaults to the SDK's wording."""
    generated_images: Literal["files", "data_url"] = "files"
    """Images from the `image_generation` tool: `files` stores them in file storage and keeps a URL
    (never base64 in the database; an agent with the tool then needs a `files` section);
    `data_url` keeps the SDK's inline data URL."""


class TranscriptionConfig(_Strict):
    """Dictation: `input.transcribe` through the OpenAI audio API."""

    model: str = "gpt-4o-transcribe"
    """Transcription model."""
    provider: str = "openai"
    """A key of `models.providers` whose `api_key` and `base_url` are used (`openai` by default)."""
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}$")
    """ISO-639-1 language hint, e.g. `en`."""
    accept: list[str] = ["audio/webm", "audio/ogg", "audio/mp4", "audio/mpeg", "audio/wav"]
    """Audio media types accepted; anything else is refused with a 400 naming these."""
    max_bytes: Size = Size("25MiB")
    """Largest recording accepted (`64KB`, `20MiB` or bytes; KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024)."""
