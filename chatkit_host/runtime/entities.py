"""`entities` → the @-mention search the composer calls, and the previews of static entities.

Each source answers in ChatKit.js's `Entity` shape (`id`, `title`, `group`, `icon`, `interactive`,
`data`). A source that fails — an API that is down or answers nonsense, a python function that
raises — finds nothing and leaves one log line: the composer's menu must never break on it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import string
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, get_args

from pydantic import TypeAdapter, ValidationError

from chatkit_host.config.checking import resolve_path
from chatkit_host.config.entities import (
    EntitiesConfig,
    EntityField,
    EntitySourceConfig,
    HttpEntitySource,
    StaticEntity,
)
from chatkit_host.config.loader import LoadedConfig
from chatkit_host.config.positions import dotted, read_document
from chatkit_host.context import RequestContext
from chatkit_host.errors import ConfigError, ConfigProblem
from chatkit_host.refs import UnresolvedReference, resolve
from chatkit_host.runtime.widgets import WidgetError, WidgetLibrary, widget_json

logger = logging.getLogger("chatkit_host.entities")

URL_FIELDS = ("query", "user")
"""The fields an `http` source's URL template may use."""

_STATIC_LIST = TypeAdapter(list[StaticEntity])


class EntitySource(Protocol):
    """Finds entities for a query; may raise (the search turns that into no results)."""

    async def find(self, query: str, context: RequestContext) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class EntitySearch:
    """The sources of one configuration, asked in order; built once per runtime."""

    sources: Sequence[tuple[str, EntitySource]] = ()
    """(label for the log, source) pairs."""
    max_results: int = 20
    previews: Mapping[str, StaticEntity] = field(default_factory=dict)
    """Static entities that have a preview, by id."""
    widgets: WidgetLibrary = field(default_factory=WidgetLibrary)
    composer_menu: bool = False

    async def search(self, query: str, context: RequestContext) -> list[dict[str, Any]]:
        """At most `max_results` entities from all sources, in source order, ids unique."""
        found = await asyncio.gather(*(_quietly(label, source, query, context) for label, source in self.sources))
        results: dict[str, dict[str, Any]] = {}
        for entities in found:
            for entity in entities:
                results.setdefault(entity["id"], entity)
        return list(results.values())[: self.max_results]

    def preview(self, entity_id: str) -> dict[str, Any] | None:
        """The preview widget of a static entity (as JSON), or None when it has none."""
        entity = self.previews.get(entity_id)
        if entity is None or entity.preview is None or entity.preview.widget not in self.widgets:
            return None
        try:
            return widget_json(self.widgets[entity.preview.widget].render(entity.preview.data))
        except WidgetError as error:  # checked at build time; a template may still fail
            logger.warning("the preview of entity %s could not render: %s", entity_id, error)
            return None


async def _quietly(label: str, source: EntitySource, query: str, context: RequestContext) -> list[dict[str, Any]]:
    try:
        return await source.find(query, context)
    except Exception as error:
        logger.warning("entity source %s failed, so it found nothing: %s", label, _describe(error))
        return []


def _describe(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    at = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(error).__name__}: {error}{at}"


# --- Entities in ChatKit.js's shape -----------------------------------------------------------

def entity_json(raw: Any, source: EntitySourceConfig) -> dict[str, Any] | None:
    """`raw` (a dict from a source) as a ChatKit.js `Entity`, or None when it has no id or title.

    The source's `type` and `group` fill in what the entity does not say.
    """
    if not isinstance(raw, Mapping) or raw.get("id") in (None, "") or raw.get("title") in (None, ""):
        return None
    data = dict(raw["data"]) if isinstance(raw.get("data"), Mapping) else {}
    if source.type is not None:
        data.setdefault("type", source.type)
    entity: dict[str, Any] = {"id": str(raw["id"]), "title": str(raw["title"])}
    group = raw.get("group") or source.group
    if group:
        entity["group"] = str(group)
    if raw.get("icon"):
        entity["icon"] = str(raw["icon"])
    interactive = raw.get("interactive")
    entity["interactive"] = bool(raw.get("preview")) if interactive is None else bool(interactive)
    if data:
        # Only JSON reaches the browser (a python source may hand back dates and the like).
        entity["data"] = json.loads(json.dumps(data, default=str))
    return entity


@dataclass(frozen=True)
class StaticSource:
    """A fixed list, matched by case-insensitive substring over title and id."""

    entities: Sequence[dict[str, Any]]

    async def find(self, query: str, context: RequestContext) -> list[dict[str, Any]]:
        needle = query.strip().casefold()
        return [entity for entity in self.entities
                if needle in entity["title"].casefold() or needle in entity["id"].casefold()]


@dataclass(frozen=True)
class PythonSource:
    """A function `(query, context) -> list[dict]`, sync (run in a thread) or async."""

    function: Any
    config: EntitySourceConfig

    async def find(self, query: str, context: RequestContext) -> list[dict[str, Any]]:
        if inspect.iscoroutinefunction(self.function):
            found = await self.function(query, context)
        else:
            found = await asyncio.to_thread(self.function, query, context)
            if inspect.isawaitable(found):
                found = await found
        if not isinstance(found, (list, tuple)):
            raise TypeError(f"the function returned {type(found).__name__}, not a list of dicts")
        return _entities(found, self.config)


@dataclass(frozen=True)
class HttpSource:
    """One GET per search; the JSON response mapped to entities by `results` and `fields`."""

    config: EntitySourceConfig

    async def find(self, query: str, context: RequestContext) -> list[dict[str, Any]]:
        http = self.config.http
        assert http is not None
        # Loaded by the first search of an http source, not by every project.
        import httpx

        from chatkit_host.runtime.url_templates import field_pieces, fill_url

        # A query (or user id) of `..` must not reach another path with the source's credentials (#18).
        url = fill_url(field_pieces(http.url, {"query": query, "user": context.user_id}))
        limit = int(http.max_response_bytes)

        async with httpx.AsyncClient(timeout=http.timeout, follow_redirects=False) as client:
            async with client.stream("GET", url, headers=http.headers) as response:
                response.raise_for_status()
                body = await _read_at_most(response, limit)
        results = _dig(json.loads(body), http.results)
        if not isinstance(results, list):
            raise ValueError(f"`results: {http.results or '(the body)'}` is not a list in the response")
        return _entities([_mapped(item, http) for item in results], self.config)


async def _read_at_most(response: Any, limit: int) -> bytes:
    body = b""
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise ValueError(f"the response is longer than max_response_bytes ({limit})")
    return body


def _mapped(item: Any, http: HttpEntitySource) -> Any:
    if not isinstance(item, Mapping):
        return None
    return {name: _dig(item, http.fields.get(name, name)) for name in get_args(EntityField)}


def _dig(value: Any, dotted: str) -> Any:
    for part in dotted.split(".") if dotted else ():
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _entities(found: Sequence[Any], config: EntitySourceConfig) -> list[dict[str, Any]]:
    entities = [entity_json(raw, config) for raw in found]
    if None in entities:
        logger.info("an entity source returned %d results without an id or title; they are left out",
                    entities.count(None))
    return [entity for entity in entities if entity is not None]


# --- Building ---------------------------------------------------------------------------------

def build_entities(loaded: LoadedConfig, widgets: WidgetLibrary, problems: list[ConfigProblem]) -> EntitySearch:
    """The search of `entities` (an empty one without the section); problems are appended."""
    config: EntitiesConfig | None = loaded.config.entities
    if config is None:
        return EntitySearch()
    sources: list[tuple[str, EntitySource]] = []
    previews: dict[str, StaticEntity] = {}
    for index, source in enumerate(config.sources):
        path = ("entities", "sources", index)
        label = f"entities.sources.{index} ({source.kind})"
        if source.static is not None:
            entities = _static_entities(loaded, source, path, widgets, problems)
            for entity in entities:
                if entity.preview is not None:
                    previews.setdefault(entity.id, entity)
            found = [entity_json(entity.model_dump(exclude_none=True), source) for entity in entities]
            sources.append((label, StaticSource([entity for entity in found if entity is not None])))
        elif source.python is not None:
            try:
                sources.append((label, PythonSource(resolve(source.python, loaded.base_dir), source)))
            except UnresolvedReference as error:
                problems.append(loaded.problem((*path, "python"), error.message, error.hint))
        elif source.http is not None:
            problem = _url_problem(source.http.url)
            if problem:
                problems.append(loaded.problem((*path, "http", "url"), problem, "the URL may use {query} and {user}"))
            else:
                sources.append((label, HttpSource(source)))
    return EntitySearch(sources, config.max_results, previews, widgets, config.composer_menu)


def _url_problem(url: str) -> str | None:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(url) if name is not None]
    except ValueError as error:  # a lone brace
        return f"not a URL template: {error}"
    unknown = [name for name in fields if name not in URL_FIELDS]
    return f"unknown URL field {{{unknown[0]}}}" if unknown else None


def _static_entities(loaded: LoadedConfig, source: EntitySourceConfig, path: tuple[Any, ...],
                     widgets: WidgetLibrary, problems: list[ConfigProblem]) -> list[StaticEntity]:
    file: Path | None = None
    if isinstance(source.static, str):
        file = resolve_path(loaded.base_dir, source.static)
        try:
            document = read_document(file, "entities file")
        except ConfigError as error:
            problems.extend(error.problems)
            return []
        if document is not None and document.problems:  # duplicate keys, tags, looping aliases
            problems.extend(ConfigProblem(p.message, file, p.mark.line, p.mark.column,
                                          dotted(p.path) or None, p.hint) for p in document.problems)
            return []
        try:
            entities = _STATIC_LIST.validate_python(document.data if document and document.data else [])
        except ValidationError as error:
            for detail in error.errors(include_input=False)[:10]:
                key = dotted(tuple(detail["loc"]))
                problems.append(ConfigProblem(detail["msg"], file=file, key=key or None,
                                              hint="the file holds a list of {id, title, …} entities"))
            return []
    else:
        entities = list(source.static or [])
    seen: set[str] = set()
    for number, entity in enumerate(entities):
        where = (*path, "static", number)
        if entity.id in seen:
            problems.append(_problem(loaded, file, where, "id", f"entity id '{entity.id}' is used twice"))
        seen.add(entity.id)
        preview = entity.preview
        if preview is None:
            continue
        if preview.widget not in widgets:
            if file is not None:  # inline ones are reported by the loader's checks
                problems.append(_problem(loaded, file, where, "preview.widget", f"unknown widget '{preview.widget}'"))
            continue
        errors = widgets[preview.widget].data_errors(preview.data)
        if errors:
            problems.append(_problem(loaded, file, where, "preview.data",
                                     f"does not fit widget '{preview.widget}': " + "; ".join(errors)))
    return entities


def _problem(loaded: LoadedConfig, file: Path | None, where: tuple[Any, ...], key: str, message: str) -> ConfigProblem:
    """A problem at an entity: in its own file (key `[N].field`), or at its chatkit.yaml key."""
    if file is not None:
        return ConfigProblem(message, file=file, key=dotted((where[-1], *key.split("."))))
    return loaded.problem((*where, *key.split(".")), message)
