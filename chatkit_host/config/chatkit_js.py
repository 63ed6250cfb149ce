"""What ChatKit.js accepts, where chatkit.yaml's `client` section names it: locales and icons.

Copied from the type definitions of `@openai/chatkit` 1.9.0 (`types/index.d.ts`: `SupportedLocale`,
`ChatKitIcon`). tests/test_chatkit_js.py compares these lists with that file and type-checks the
options the playground builds against it with `tsc`, so a ChatKit.js release that changes them
fails the suite instead of the page.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field

CHATKIT_JS_TYPES = "1.9.0"
"""The `@openai/chatkit` release these values come from (tests/chatkit_js/package.json pins it)."""

SupportedLocale = Literal[
    "am", "ar", "bg-BG", "bn-BD", "bs-BA", "ca-ES", "cs-CZ", "da-DK", "de-DE", "el-GR", "es-419",
    "es-ES", "et-EE", "fi-FI", "fr-CA", "fr-FR", "gu-IN", "hi-IN", "hr-HR", "hu-HU", "hy-AM",
    "id-ID", "is-IS", "it-IT", "ja-JP", "ka-GE", "kk", "kn-IN", "ko-KR", "lt", "lv-LV", "mk-MK",
    "ml", "mn", "mr-IN", "ms-MY", "my-MM", "nb-NO", "nl-NL", "pa", "pl-PL", "pt-BR", "pt-PT",
    "ro-RO", "ru-RU", "sk-SK", "sl-SI", "so-SO", "sq-AL", "sr-RS", "sv-SE", "sw-TZ", "ta-IN",
    "te-IN", "th-TH", "tl", "tr-TR", "uk-UA", "ur", "vi-VN", "zh-CN", "zh-HK", "zh-TW", "bg", "bn",
    "bs", "ca", "cs", "da", "de", "el", "es", "et", "fi", "fr", "gu", "hi", "hr", "hu", "hy", "id",
    "is", "it", "ja", "ka", "kn", "ko", "lv", "mk", "mr", "ms", "my", "nb", "nl", "pl", "pt", "ro",
    "ru", "sk", "sl", "so", "sq", "sr", "sv", "sw", "ta", "te", "th", "tr", "uk", "vi", "zh",
    "zh-Hant", "en",
]
"""`SupportedLocale`: ChatKit.js's translated locales and the language codes it resolves to them."""

ChatKitIconName = Literal[
    "agent", "analytics", "atom", "batch", "bolt", "book-open", "book-closed", "book-clock", "bug",
    "calendar", "chart", "check", "check-circle", "check-circle-filled", "chevron-left",
    "chevron-right", "circle-question", "clock", "compass", "confetti", "cube", "desktop",
    "document", "dots-horizontal", "dots-vertical", "empty-circle", "external-link", "globe",
    "keys", "lab", "images", "info", "lifesaver", "lightbulb", "mail", "map-pin", "maps", "mobile",
    "name", "notebook", "notebook-pencil", "page-blank", "phone", "play", "plus", "profile",
    "profile-card", "reload", "star", "star-filled", "search", "sparkle", "sparkle-double",
    "square-code", "square-image", "square-text", "suitcase", "settings-slider", "user", "wreath",
    "write", "write-alt", "write-alt2",
]
"""`ChatKitIcon` without its `lucide:NAME` form."""

LucideIcon = Annotated[str, Field(pattern=r"^lucide:[a-z0-9-]+$")]
"""`lucide:NAME`: any icon of the Lucide set."""

ChatKitIcon = ChatKitIconName | LucideIcon
"""An icon ChatKit.js draws: one of its own names, or `lucide:NAME`."""

LOCALES: tuple[str, ...] = get_args(SupportedLocale)
ICONS: tuple[str, ...] = get_args(ChatKitIconName)

