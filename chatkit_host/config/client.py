"""chatkit.yaml's `client` section: the ChatKit.js options of the playground page (`GET /`).

The keys mirror ChatKit.js's `ChatKitOptions` (https://openai.github.io/chatkit-js/) in snake_case:
`start_screen.greeting` is `startScreen.greeting`. Pure models; `playground/options.py` turns them
into the options object the page hands to `<openai-chatkit>`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatkit_host.config.sizes import Size

CHATKIT_JS_CDN = "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js"
"""Where ChatKit.js is published."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlaygroundConfig(_Strict):
    """The playground page: ChatKit.js pointed at this host, for trying it at once."""

    enabled: bool | None = None
    """Serve the page. Default: on when `auth.mode` is `none`, off otherwise (the page has no way
    to log in)."""
    path: str = Field("/", pattern=r"^/[\w./-]*$")
    """URL path of the page."""
    script_url: str = CHATKIT_JS_CDN
    """Where the page loads ChatKit.js from (change it to serve a pinned or local copy)."""
    domain_key: str = "local-dev"
    """`api.domainKey`. Any value works on localhost; anywhere else use a key from the OpenAI
    domain allowlist."""


class StartPromptConfig(_Strict):
    """A suggested first message on the start screen."""

    label: str
    """The text on the button."""
    prompt: str
    """The message sent when it is clicked."""
    icon: str | None = None
    """A ChatKit icon name, e.g. `lightbulb`."""


class StartScreenConfig(_Strict):
    """`startScreen`: what a new thread shows before the first message."""

    greeting: str | None = None
    """The greeting above the composer."""
    prompts: list[StartPromptConfig] = []
    """Suggested first messages."""


class HeaderConfig(_Strict):
    """`header`: the bar above the conversation."""

    enabled: bool = True
    """Show the header."""
    title: str | None = None
    """Fixed title text; by default the thread's title is shown."""


class AttachmentsConfig(_Strict):
    """`composer.attachments`: limits the composer enforces before uploading."""

    enabled: bool = True
    """Let users attach files."""
    max_count: int | None = Field(None, ge=1)
    """Most files per message."""
    max_size: Size | None = None
    """Largest file (`64KB`, `20MiB` or bytes; KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024); defaults to `files.max_bytes`."""
    accept: dict[str, list[str]] | None = None
    """MIME type → file extensions, e.g. `{image/png: [.png]}`; defaults to `files.accept`."""


class ComposerToolConfig(_Strict):
    """An entry of the composer's tool menu (`composer.tools`)."""

    id: str
    """Sent with the message as the chosen tool."""
    label: str
    """The text in the menu."""
    icon: str
    """A ChatKit icon name."""
    short_label: str | None = None
    """Text on the button while the tool is chosen."""
    placeholder_override: str | None = None
    """Composer placeholder while the tool is chosen."""
    pinned: bool = False
    """Show the tool beside the composer, outside the menu."""
    persistent: bool = False
    """Keep the tool chosen after a message is sent."""


class ComposerModelConfig(_Strict):
    """An entry of the composer's model picker (`composer.models`)."""

    id: str
    """Sent with the message as the chosen model."""
    label: str
    """The text in the picker."""
    description: str | None = None
    """Helper text under the label."""
    default: bool = False
    """Chosen at first."""
    disabled: bool = False
    """Shown but not selectable."""


class ComposerConfig(_Strict):
    """`composer`: the message box."""

    placeholder: str | None = None
    """Text in the empty composer."""
    attachments: bool | AttachmentsConfig | None = None
    """`true`/`false`, or limits. Default: on exactly when chatkit.yaml has a `files` section."""
    dictation: bool | None = None
    """The microphone button. Default: on exactly when `transcription` is configured."""
    tools: list[ComposerToolConfig] = []
    """The tool menu."""
    models: list[ComposerModelConfig] = []
    """The model picker."""


class ClientConfig(_Strict):
    """What ChatKit.js is told on the playground page (mirrors `ChatKitOptions`)."""

    playground: PlaygroundConfig = PlaygroundConfig()
    """The page itself: on or off, path, script URL, domain key."""
    theme: Literal["light", "dark"] | dict[str, Any] | None = None
    """`light`, `dark`, or a ChatKit.js `ThemeOption` mapping passed as written (camelCase keys,
    e.g. `{colorScheme: dark, radius: round, color: {accent: {primary: "#8B5CF6", level: 2}}}`)."""
    header: HeaderConfig | None = None
    """The header bar."""
    start_screen: StartScreenConfig | None = None
    """Greeting and suggested prompts of a new thread."""
    composer: ComposerConfig = ComposerConfig()
    """Placeholder, attachments, dictation, tool menu and model picker."""
    locale: str | None = None
    """UI language, e.g. `fr-FR`; default: the browser's."""
