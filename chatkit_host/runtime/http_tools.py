"""`http` tools: an API call per tool call, its response handed to the model as text.

Whatever goes wrong — bad arguments, a timeout, a refused connection, a 4xx or 5xx — becomes the
tool's output ("error: …"), so the model can say so or retry; the turn never crashes on it.
"""

from __future__ import annotations

import json
import logging
import re
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import jinja2
from agents import FunctionTool

from chatkit_host.config.tools import HttpToolConfig, parameters_schema
from chatkit_host.runtime.arguments import parse_arguments
from chatkit_host.runtime.instructions import RequestView, turn_values
from chatkit_host.runtime.url_templates import Piece, UrlTemplateError, field_pieces, fill_url
from chatkit_host.runtime.widgets import TEMPLATES

logger = logging.getLogger("chatkit_host.tools")

if TYPE_CHECKING:
    from chatkit_host.runtime.tool_kinds import ToolSpec

_WITH_BODY = ("POST", "PUT", "PATCH")


_EXPRESSION = re.compile(r"(\{\{.*?\}\})", re.DOTALL)


def url_fields(template: str) -> list[str]:
    """The `{name}` fields of a URL template (its `{{ expressions }}` are not fields)."""
    return [field for part in _EXPRESSION.split(template) if not _EXPRESSION.fullmatch(part)
            for _, field, _, _ in string.Formatter().parse(part) if field]


@dataclass(frozen=True)
class HostValues:
    """The templates the host fills in a call (`{{ … }}` in the URL, `query`, `body`), compiled once."""

    url_parts: list[Any]
    """The URL's parts: text with `{name}` fields, or an expression (its text, compiled)."""
    query: dict[str, Any]
    body: dict[str, Any]

    @classmethod
    def compile(cls, http: HttpToolConfig) -> HostValues:
        """Raises `ToolBuildError` naming the key of a template that does not parse."""
        from chatkit_host.runtime.tools import ToolBuildError

        parts: list[Any] = []
        for part in _EXPRESSION.split(http.url):
            try:
                parts.append((part, TEMPLATES.from_string(part)) if _EXPRESSION.fullmatch(part) else part)
            except jinja2.TemplateSyntaxError as error:
                raise ToolBuildError("http", f"url: template syntax error: {error.message}") from None
        for key in ("query", "body"):
            for name, value in getattr(http, key).items():
                for text in _strings(value):
                    try:
                        TEMPLATES.parse(text)
                    except jinja2.TemplateSyntaxError as error:
                        raise ToolBuildError("http", f"{key}.{name}: template syntax error: {error.message}") from None
        return cls(parts, dict(http.query), dict(http.body))

    def url(self, arguments: dict[str, Any], values: dict[str, Any]) -> list[Piece]:
        """The URL's text and the values of its fields (arguments) and expressions, for `fill_url`
        (which quotes each value and keeps it from changing the path)."""
        pieces: list[Piece] = []
        for part in self.url_parts:
            if isinstance(part, str):
                pieces.extend(field_pieces(part, arguments))
            else:
                source, template = part
                pieces.append(Piece(template.render(values), source))
        return pieces


def build_http_tool(spec: ToolSpec) -> FunctionTool:
    name, config = spec.name, spec.config
    assert config.http is not None
    http = config.http
    host_values = HostValues.compile(http)
    variables = dict(spec.vars)
    schema = parameters_schema(http.parameters)
    in_url = set(url_fields(http.url))
    for field in sorted(in_url - set(schema.get("properties", {}))):
        # A URL field nobody declared is still an argument the model must give.
        schema.setdefault("properties", {})[field] = {"type": "string"}
        schema.setdefault("required", []).append(field)

    async def call_api(ctx: Any, arguments: str) -> str:
        parsed = parse_arguments(arguments, schema)
        if isinstance(parsed, str):
            return parsed
        values = {**_turn(ctx, variables), "arguments": parsed}
        return await request(http, parsed, in_url, host_values, values)

    return FunctionTool(
        name=name,
        # Never the URL: after ${VAR} expansion it may hold a key, which would go to the model (#18).
        description=config.description or _described(name, http.method, schema),
        params_json_schema=schema,
        on_invoke_tool=call_api,
        strict_json_schema=False,
    )


def _described(name: str, method: str, schema: dict[str, Any]) -> str:
    fields = ", ".join(schema.get("properties", {}))
    return f"HTTP {method} tool {name}" + (f"; parameters: {fields}." if fields else ".")


async def request(http: HttpToolConfig, arguments: dict[str, Any], in_url: set[str],
                  host_values: HostValues | None = None, values: dict[str, Any] | None = None) -> str:
    """Make the call; the response body (cut to size) or an `error: …` line."""
    missing = sorted(field for field in in_url if field not in arguments)
    if missing:
        return f"error: missing arguments for the URL: {', '.join(missing)}"
    host_values = host_values or HostValues.compile(http)
    values = values or {"arguments": arguments}
    from chatkit_host.runtime.actions import render_value  # actions import tools: import late

    try:
        pieces = host_values.url(arguments, values)
        added_query = _plain(render_value(host_values.query, values))
        added_body = _plain(render_value(host_values.body, values))
    except jinja2.TemplateError as error:
        logger.warning("http tool: a template failed: %s", error)
        return f"error: a template of this tool failed: {error}"
    try:
        target = fill_url(pieces)
    except UrlTemplateError as error:
        return f"error: {error}"
    refused = refused_host(str(target), http.allow_hosts)
    if refused:
        return refused
    rest = {key: value for key, value in arguments.items() if key not in in_url}
    body = {**rest, **added_body} if http.method in _WITH_BODY else None
    params: dict[str, str] = {}
    if body is None:
        # httpx replaces a URL's query with `params`: merge instead, so the URL's own query (a key,
        # a field placed there) is kept, and an argument never replaces what the URL fixes.
        params = {key: _query_value(value) for key, value in rest.items() if key not in target.params}
    # The host's own `query` values win over the model's arguments.
    params.update({key: _query_value(value) for key, value in added_query.items()})
    if params:
        target = target.copy_merge_params(params)
    try:
        async with httpx.AsyncClient(timeout=http.timeout, follow_redirects=False) as client:
            async with client.stream(http.method, target, headers=http.headers,
                                     json=body) as response:
                data = await _read_cut(response, int(http.max_response_bytes))
    except httpx.TimeoutException:
        return f"error: the API did not answer within {http.timeout:g} seconds"
    except httpx.HTTPError as error:
        return f"error: the API could not be reached ({type(error).__name__})"
    text = data.decode(response.encoding or "utf-8", errors="replace")
    if len(data) >= http.max_response_bytes:
        text += f"\n[response cut at {int(http.max_response_bytes)} bytes]"
    if response.status_code >= 400:
        return f"error: the API answered {response.status_code} {response.reason_phrase}: {text}"
    return text


async def _read_cut(response: httpx.Response, limit: int) -> bytes:
    """At most `limit` bytes of the body, without reading the rest."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def refused_host(url: str, allow_hosts: list[str]) -> str | None:
    """An `error: …` line when ``allow_hosts`` is set and the URL's host is not in it."""
    if not allow_hosts:
        return None
    try:
        host = httpx.URL(url).host.lower()
    except httpx.InvalidURL:
        return "error: the URL is not valid"
    for allowed in (entry.lower() for entry in allow_hosts):
        if host == allowed or (allowed.startswith("*.") and host.endswith(allowed[1:])):
            return None
    return f"error: the host {host or '(none)'} is not in this tool's allow_hosts"


def _turn(ctx: Any, variables: dict[str, Any]) -> dict[str, Any]:
    """What the call's templates see of the turn (user, thread, state, request, vars)."""
    agent_context = getattr(ctx, "context", None)
    if agent_context is None or not hasattr(agent_context, "request_context"):
        return {"vars": variables, "state": {}, "request": RequestView()}
    return turn_values(agent_context, variables)


def _plain(value: Any) -> Any:
    """`value` as JSON can carry it: `{{ user }}` and `{{ thread }}` become their ids."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def _query_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
