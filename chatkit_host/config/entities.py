"""The `entities` section of chatkit.yaml: what the composer's @-mention search finds.

ChatKit.js searches on the client (`entities.onTagSearch`, `entities.onRequestPreview`); the host
answers those callbacks from the sources declared here. Pure models, like the rest of `config/`: a
static list given as a file path is read by `runtime/entities.py`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chatkit_host.config.sizes import Size

EntityField = Literal["id", "title", "group", "icon", "interactive", "data"]
"""The fields of a ChatKit.js `Entity`."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntityPreview(_Strict):
    """A widget shown when the user hovers or opens an interactive entity."""

    widget: str
    """Name of a widget file (`widgets/NAME.widget` or `.json`)."""
    data: dict[str, Any] = {}
    """The widget's data; checked against the widget's jsonSchema when the configuration loads."""


class StaticEntity(_Strict):
    """One entity of a static list, as ChatKit.js's `Entity` has it, plus an optional preview."""

    id: str = Field(min_length=1)
    """Unique id; it reaches the server in the tag (`tag.id` in `converters.tags`)."""
    title: str = Field(min_length=1)
    """The name shown in the menu and in the tag; the search matches it (and the id)."""
    group: str | None = None
    """Heading the menu groups entities under, e.g. `Articles`."""
    icon: str | None = None
    """A ChatKit icon name, e.g. `document`, `profile`."""
    interactive: bool | None = None
    """Whether the tag can be clicked or previewed; defaults to true when `preview` is given."""
    data: dict[str, Any] = {}
    """Sent back with the tag; `data.type` picks the template in `converters.tags`."""
    preview: EntityPreview | None = None
    """A widget shown as the entity's preview."""


class HttpEntitySource(_Strict):
    """Search an HTTP API: one GET per search, its JSON mapped to entities."""

    url: str = Field(pattern=r"^https?://")
    """URL template; `{query}` is the text typed after `@` and `{user}` the caller's user id (both
    URL-quoted), e.g. `https://api.example.com/search?q={query}`."""
    headers: dict[str, str] = {}
    """Request headers; put secrets in the environment: `Authorization: "Bearer ${API_TOKEN}"`."""
    timeout: float = Field(5.0, gt=0, le=60)
    """Seconds before the search is abandoned (it then finds nothing from this source)."""
    max_response_bytes: Size = Size("256KiB")
    """A longer response is not parsed (it finds nothing from this source) (`64KB`, `20MiB` or bytes; KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024)."""
    results: str = ""
    """Dotted path to the list of results in the response, e.g. `data.items`; empty when the
    response is the list itself."""
    fields: dict[EntityField, str] = {}
    """Entity field → dotted path in each result, e.g. `{title: name, group: kind}`. Fields not
    named here are read from the result key of the same name (`id`, `title`, …)."""


class EntitySourceConfig(_Strict):
    """One source of entities: exactly one of `static`, `http` or `python`."""

    static: list[StaticEntity] | str | None = None
    """A list of entities, or the path of a YAML or JSON file holding one (relative to
    chatkit.yaml). Matched by case-insensitive substring over title and id."""
    http: HttpEntitySource | None = None
    """An API that searches."""
    python: str | None = None
    """Import path of a function `(query, context) -> list[dict]` (sync or async):
    `package.module:search` or `./file.py:search`. `context` has `user_id` and `claims`; each dict
    has the entity's fields (`id` and `title` at least)."""
    type: str | None = None
    """Sets `data.type` on every entity from this source (where it has none), so `converters.tags`
    renders its tags with the template of that name."""
    group: str | None = None
    """The `group` of entities from this source that have none."""

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> EntitySourceConfig:
        given = [name for name in ("static", "http", "python") if getattr(self, name) is not None]
        if len(given) != 1:
            found = f"got {', '.join(given)}" if given else "got none"
            raise ValueError(f"an entity source has exactly one of static, http, python ({found})")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in ("static", "http", "python") if getattr(self, name) is not None)


class EntitiesConfig(_Strict):
    """@-mentions: the sources the composer's tag search asks (`GET {server.path}/entities?q=`)."""

    sources: list[EntitySourceConfig] = Field(min_length=1)
    """Where entities come from; results are listed in source order."""
    max_results: int = Field(20, ge=1, le=200)
    """Most entities one search returns."""
    composer_menu: bool = False
    """Show a composer button that inserts `@` and opens the search (ChatKit.js
    `entities.showComposerMenu`) on the playground page."""
