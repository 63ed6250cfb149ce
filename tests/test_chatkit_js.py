"""chatkit.yaml's `client` section against ChatKit.js's own type definitions (#18).

The options the playground hands to `<openai-chatkit>` are type-checked as `ChatKitOptions` with
`tsc`, against `@openai/chatkit` as pinned in tests/chatkit_js/package.json, and the locales and
icons `validate` accepts are compared with that package's unions. `.ci/run` installs the package
and TypeScript there (`npm ci`); without them these tests fail rather than skip, so CI cannot pass
without running them. Locally: `cd tests/chatkit_js && npm ci`.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from chatkit_host.config.chatkit_js import CHATKIT_JS_TYPES, ICONS, LOCALES
from chatkit_host.config.client import ClientConfig
from chatkit_host.config.loader import load_config
from chatkit_host.errors import ConfigError
from chatkit_host.web.playground.options import chatkit_options
from projects import base_config, write_project

pytestmark = pytest.mark.serial

FOLDER = Path(__file__).parent / "chatkit_js"
TSC = FOLDER / "node_modules" / ".bin" / "tsc"
TYPES = FOLDER / "node_modules" / "@openai" / "chatkit" / "types" / "index.d.ts"

EVERY_CLIENT_KEY: dict[str, Any] = {
    "playground": {"enabled": True, "path": "/play", "script_url": "https://example.test/chatkit.js",
                   "domain_key": "local-dev"},
    "theme": {
        "colorScheme": "dark", "radius": "round", "density": "compact",
        "typography": {"baseSize": 15, "fontFamily": "Inter", "fontFamilyMono": "Mono",
                       "fontSources": [{"family": "Inter", "src": "https://example.test/inter.woff2",
                                        "weight": 400, "style": "normal", "display": "swap",
                                        "unicodeRange": "U+0000-00FF"}]},
        "color": {"grayscale": {"hue": 220, "tint": 6, "shade": -1},
                  "accent": {"primary": "#8B5CF6", "level": 2},
                  "surface": {"background": "#111111", "foreground": "#eeeeee"}},
    },
    "header": {"enabled": True, "title": "Acme support"},
    "start_screen": {"greeting": "How can we help?", "prompts": [
        {"label": "Track", "prompt": "Where is my order?", "icon": "map-pin"},
        {"label": "Lucide", "prompt": "Hi", "icon": "lucide:rocket"}]},
    "composer": {
        "placeholder": "Ask…",
        "attachments": {"enabled": True, "max_count": 3, "max_size": "10MB",
                        "accept": {"image/png": [".png"]}},
        "dictation": True,
        "tools": [{"id": "search", "label": "Search", "icon": "globe", "short_label": "Find",
                   "placeholder_override": "Search for…", "pinned": True, "persistent": True,
                   "agent": "triage", "tool": "lookup_order"}],
        "models": [{"id": "fast", "label": "Fast", "description": "Quick", "default": True,
                    "disabled": False, "model": "demo/fast"}],
    },
    "locale": "fr-FR",
}


def configs() -> list[dict[str, Any]]:
    """Every `client` key with files uploaded directly, and the short forms with two-phase uploads."""
    full = base_config()
    full["client"] = EVERY_CLIENT_KEY
    full["files"] = {"url": "file://stored"}
    full["transcription"] = {"model": "gpt-4o-transcribe"}
    full["entities"] = {"sources": [{"static": [{"id": "A-1", "title": "Order A-1"}], "type": "order"}]}
    short = base_config()
    short["client"] = {"theme": "light", "locale": "en", "composer": {"attachments": False}}
    short["files"] = {"url": "file://stored", "upload": "two_phase"}
    return [full, short]


def options_of(root: Path, config: dict[str, Any]) -> dict[str, Any]:
    return chatkit_options(load_config(write_project(root, config), environ={}).config)


def type_check(root: Path, options: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """`tsc` over a module that declares each of `options` as a ChatKitOptions."""
    assert TSC.exists(), f"{TSC} is missing: run `npm ci` in {FOLDER} (.ci/run does)"
    source = 'import type { ChatKitOptions } from "@openai/chatkit";\n' + "".join(
        f"export const options{i}: ChatKitOptions = {json.dumps(o, indent=2)};\n"
        for i, o in enumerate(options))
    (root / "options.ts").write_text(source)
    (root / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {"strict": True, "noEmit": True, "target": "es2022", "module": "esnext",
                            "moduleResolution": "bundler", "lib": ["es2022", "dom"], "types": [],
                            "skipLibCheck": False, "paths": {"@openai/chatkit": [str(TYPES)]}},
        "files": ["options.ts"]}))
    return subprocess.run(["node", str(TSC), "-p", str(root / "tsconfig.json")], capture_output=True,
                          text=True, timeout=120)


def test_every_client_key_is_used_here() -> None:
    # A new `client` key must be added above, or its option is never type-checked.
    def keys(model: type[BaseModel], prefix: str = "") -> set[str]:
        found = set()
        for name, field in model.model_fields.items():
            found.add(prefix + name)
            for arg in _flatten(field.annotation):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    found |= keys(arg, f"{prefix}{name}.")
        return found

    def written(data: Any, prefix: str = "") -> set[str]:
        if isinstance(data, list):
            return set().union(*(written(item, prefix) for item in data)) if data else set()
        if not isinstance(data, dict):
            return set()
        return {prefix + k for k in data} | set().union(*(written(v, f"{prefix}{k}.") for k, v in data.items()))

    assert keys(ClientConfig) - written(EVERY_CLIENT_KEY) == set()


def _flatten(annotation: Any) -> list[Any]:
    args = getattr(annotation, "__args__", None)
    return [annotation] if not args else [a for arg in args for a in _flatten(arg)]


def test_the_options_the_page_gets_type_check_as_chatkit_options(tmp_path: Path) -> None:
    options = [options_of(tmp_path / str(i), config) for i, config in enumerate(configs())]
    assert options[0]["locale"] == "fr-FR" and options[0]["theme"]["color"]["accent"]["level"] == 2
    result = type_check(tmp_path, options)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_type_check_catches_what_chatkit_js_refuses(tmp_path: Path) -> None:
    # The check is live: the value docs/playground.md once showed is refused by ChatKit.js's types.
    options = options_of(tmp_path / "project", configs()[1])
    result = type_check(tmp_path, [{**options, "locale": "en-US"}])
    assert result.returncode != 0 and "en-US" in result.stdout


def _union(name: str) -> list[str]:
    assert TYPES.exists(), f"{TYPES} is missing: run `npm ci` in {FOLDER} (.ci/run does)"
    body = re.search(rf"export type {name} =(.*?);", TYPES.read_text(), re.S)
    assert body is not None, f"{name} is no longer in {TYPES.name}"
    return re.findall(r"'([^']+)'", re.sub(r"/\*.*?\*/", "", body.group(1), flags=re.S))


def test_locales_and_icons_are_chatkit_js_own() -> None:
    pinned = json.loads((FOLDER / "package.json").read_text())["devDependencies"]["@openai/chatkit"]
    assert pinned == CHATKIT_JS_TYPES
    assert set(LOCALES) == {*_union("TranslatedLocale"), *_union("SupportedLocale")}
    assert set(ICONS) == set(_union("ChatKitIcon"))


@pytest.mark.parametrize(("client", "expected"), [
    ({"locale": "en-US"}, "client.locale: is not one of the 114 accepted values (hint: did you mean 'en'?)"),
    ({"composer": {"tools": [{"id": "s", "label": "S", "icon": "glob"}]}},
     "client.composer.tools[0].icon: is not one of the 63 accepted values (hint: did you mean 'globe'?)"),
    ({"theme": {"radius": "round", "colour": {}}},
     "client.theme.colour: unknown key 'colour' (hint: did you mean 'color'?)"),
    ({"theme": {"color": {"accent": {"primary": "#fff", "level": 5}}}},
     "client.theme.color.accent.level: must be one of: 0, 1, 2, 3"),
])
def test_validate_refuses_what_chatkit_js_would(tmp_path: Path, client: dict[str, Any], expected: str) -> None:
    config = base_config()
    config["client"] = client
    with pytest.raises(ConfigError) as error:
        load_config(write_project(tmp_path, config), environ={})
    assert [p.render(tmp_path).split(": ", 1)[1] for p in error.value.problems] == [expected]
