"""chatkit.yaml's `client` section: the ChatKit.js options of the playground page (`GET /`).

The keys mirror ChatKit.js's `ChatKitOptions` (https://openai.github.io/chatkit-js/) in snake_case:
`start_screen.greeting` is `startScreen.greeting` (a `theme` mapping keeps ChatKit.js's camelCase).
Values ChatKit.js restricts (locales, icons, theme values) are checked against its own types
(`chatkit_js.py`). Pure models; `playground/options.py` turns them
into the options object the page hands to `<openai-chatkit>`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chatkit_host.config.chatkit_js import ChatKitIcon, SupportedLocale
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
    icon: ChatKitIcon | None = None
    """A ChatKit.js icon name, e.g. `lightbulb`, or `lucide:NAME`."""


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
    icon: ChatKitIcon
    """A ChatKit.js icon name, e.g. `globe`, or `lucide:NAME`."""
    short_label: str | None = None
    """Text on the button while the tool is chosen."""
    placeholder_override: str | None = None
    """Composer placeholder while the tool is chosen."""
    pinned: bool = False
    """Show the tool beside the composer, outside the menu."""
    persistent: bool = False
    """Keep the tool chosen after a message is sent."""
    agent: str | None = None
    """The agent that answers a message sent with this tool chosen (the thread's agent is unchanged
    for later messages unless that agent hands off)."""
    tool: str | None = None
    """A tool (of `tools`) the model must call first in a message sent with this tool chosen;
    answered by `agent`, else by the thread's agent when it has the tool, else by the first agent
    that has it. With neither `agent` nor `tool`, the choice is only seen by templates."""


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
    """Shown but not selectable (a message that names it is refused)."""
    model: str | None = None
    """The model reference (`NAME` or `PROVIDER/NAME`, as for agents) every agent of a message sent
    with this entry chosen runs on; defaults to `id`."""

    @property
    def reference(self) -> str:
        """The model reference this entry stands for."""
        return self.model or self.id


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


class FontSourceConfig(_Strict):
    """A web font ChatKit.js loads (`FontObject`)."""

    family: str
    """The font family name."""
    src: str
    """URL of the font file."""
    weight: str | int | None = None
    """Its weight, e.g. `400` or `bold`."""
    style: Literal["normal", "italic", "oblique"] | None = None
    """Its style."""
    display: Literal["auto", "block", "swap", "fallback", "optional"] | None = None
    """How it is shown while loading (CSS `font-display`)."""
    unicodeRange: str | None = None
    """The characters it covers (CSS `unicode-range`)."""


class TypographyConfig(_Strict):
    """`theme.typography`."""

    baseSize: Literal[14, 15, 16, 17, 18] | None = None
    """Base font size in pixels."""
    fontSources: list[FontSourceConfig] | None = None
    """Web fonts to load."""
    fontFamily: str | None = None
    """The text font family."""
    fontFamilyMono: str | None = None
    """The monospace font family."""


class GrayscaleConfig(_Strict):
    """`theme.color.grayscale`: the tint of the neutral colours."""

    hue: float
    """Hue, in degrees."""
    tint: Literal[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """How strongly the hue tints the greys."""
    shade: Literal[-4, -3, -2, -1, 0, 1, 2, 3, 4] | None = None
    """Darker (negative) or lighter (positive) greys."""


class AccentConfig(_Strict):
    """`theme.color.accent`."""

    primary: str
    """The accent colour, e.g. `#8B5CF6`."""
    level: Literal[0, 1, 2, 3]
    """How much of the interface takes the accent colour."""


class SurfaceConfig(_Strict):
    """`theme.color.surface`."""

    background: str
    """Background colour."""
    foreground: str
    """Foreground colour."""


class ColorConfig(_Strict):
    """`theme.color`."""

    grayscale: GrayscaleConfig | None = None
    """The neutral colours."""
    accent: AccentConfig | None = None
    """The accent colour."""
    surface: SurfaceConfig | None = None
    """Background and foreground."""


class ThemeConfig(_Strict):
    """`theme` as a mapping: ChatKit.js's `ThemeOption`, with its camelCase keys."""

    colorScheme: Literal["light", "dark"] | None = None
    """Light or dark."""
    typography: TypographyConfig | None = None
    """Fonts and base size."""
    radius: Literal["pill", "round", "soft", "sharp"] | None = None
    """Corner roundness."""
    density: Literal["compact", "normal", "spacious"] | None = None
    """Spacing."""
    color: ColorConfig | None = None
    """Grayscale, accent and surface colours."""


class ClientConfig(_Strict):
    """What ChatKit.js is told on the playground page (mirrors `ChatKitOptions`)."""

    playground: PlaygroundConfig = PlaygroundConfig()
    """The page itself: on or off, path, script URL, domain key."""
    theme: Literal["light", "dark"] | ThemeConfig | None = None
    """`light`, `dark`, or a ChatKit.js `ThemeOption` with its own camelCase keys, e.g.
    `{colorScheme: dark, radius: round, color: {accent: {primary: "#8B5CF6", level: 2}}}`."""
    header: HeaderConfig | None = None
    """The header bar."""
    start_screen: StartScreenConfig | None = None
    """Greeting and suggested prompts of a new thread."""
    composer: ComposerConfig = ComposerConfig()
    """Placeholder, attachments, dictation, tool menu and model picker."""
    locale: SupportedLocale | None = None
    """UI language, one ChatKit.js supports: `en`, `fr`, `fr-FR`, `pt-BR`, … (not `en-US`); default:
    the browser's."""
