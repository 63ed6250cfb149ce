"""The `client` section (and what the rest of chatkit.yaml implies) → ChatKit.js `ChatKitOptions`.

Only JSON goes to the page; the page adds the functions (`onClientTool`, `widgets.onAction`,
`api.fetch`). Option names follow https://openai.github.io/chatkit-js/api/openai/chatkit/.
"""

from __future__ import annotations

from typing import Any

from chatkit_host.config.client import AttachmentsConfig, ClientConfig
from chatkit_host.config.models import ChatKitConfig


def chatkit_options(config: ChatKitConfig) -> dict[str, Any]:
    """The JSON part of the options the playground hands to `<openai-chatkit>`."""
    client = config.client
    api: dict[str, Any] = {"url": config.server.path, "domainKey": client.playground.domain_key}
    options: dict[str, Any] = {"api": api}
    if client.theme is not None:
        options["theme"] = client.theme if isinstance(client.theme, str) else (
            client.theme.model_dump(exclude_none=True))
    if client.locale:
        options["locale"] = client.locale
    if client.header is not None:
        header: dict[str, Any] = {"enabled": client.header.enabled}
        if client.header.title:
            header["title"] = {"enabled": True, "text": client.header.title}
        options["header"] = header
    if client.start_screen is not None:
        start = client.start_screen
        options["startScreen"] = _without_none({
            "greeting": start.greeting,
            "prompts": [_without_none(p.model_dump()) for p in start.prompts] or None,
        })
    entities = getattr(config, "entities", None)
    if entities is not None:  # the page adds onTagSearch and onRequestPreview (entity_endpoints)
        options["entities"] = {"showComposerMenu": entities.composer_menu}
    composer, upload = _composer(config, client)
    options["composer"] = composer
    if upload is not None:
        api["uploadStrategy"] = upload
    return options


def client_tools(config: ChatKitConfig) -> dict[str, dict[str, Any]]:
    """Client tools by name (description and parameters), for the page's call panel."""
    tools = {}
    for name, tool in config.tools.items():
        client = getattr(tool, "client", None)
        if client is not None:
            tools[name] = {"description": tool.description,
                           "parameters": getattr(client, "parameters", {})}
    return tools


def entity_endpoints(config: ChatKitConfig) -> dict[str, str] | None:
    """Where the page's `entities` callbacks search and fetch previews; None without `entities`."""
    if getattr(config, "entities", None) is None:
        return None
    base = config.server.path.rstrip("/")
    return {"search": f"{base}/entities", "preview": f"{base}/entities/preview"}


def _composer(config: ChatKitConfig, client: ClientConfig) -> tuple[dict[str, Any], dict | None]:
    spec = client.composer
    composer: dict[str, Any] = {}
    if spec.placeholder:
        composer["placeholder"] = spec.placeholder
    files = getattr(config, "files", None)
    attachments = spec.attachments
    if attachments is None:
        attachments = files is not None
    if isinstance(attachments, bool):
        attachments = AttachmentsConfig(enabled=attachments)
    upload = None
    if attachments.enabled:
        composer["attachments"] = _attachments(attachments, files)
        if files is not None:
            upload = ({"type": "two_phase"} if files.upload == "two_phase"
                      else {"type": "direct", "uploadUrl": files.route})
    else:
        composer["attachments"] = {"enabled": False}
    dictation = spec.dictation
    if dictation is None:
        dictation = getattr(config, "transcription", None) is not None
    composer["dictation"] = {"enabled": dictation}
    if spec.tools:
        # `agent` and `tool` are the server's routing, not ChatKit.js options.
        composer["tools"] = [_camel(_without_none(t.model_dump(exclude={"agent", "tool"}))) for t in spec.tools]
    if spec.models:
        composer["models"] = [_without_none(m.model_dump(exclude={"model"})) for m in spec.models]
    return composer, upload


def _attachments(spec: AttachmentsConfig, files: Any) -> dict[str, Any]:
    option: dict[str, Any] = {"enabled": True}
    if spec.max_count is not None:
        option["maxCount"] = spec.max_count
    max_size = spec.max_size if spec.max_size is not None else getattr(files, "max_bytes", None)
    if max_size is not None:
        option["maxSize"] = int(max_size)
    if spec.accept is not None:
        option["accept"] = spec.accept
    elif files is not None:
        option["accept"] = {mime: [] for mime in files.accept}
    return option


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _camel(values: dict[str, Any]) -> dict[str, Any]:
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    return {camel(key): value for key, value in values.items()}
