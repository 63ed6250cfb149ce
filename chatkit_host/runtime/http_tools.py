"""`http` tools: an API call per tool call, its response handed to the model as text.

Whatever goes wrong — bad arguments, a timeout, a refused connection, a 4xx or 5xx — becomes the
tool's output ("error: …"), so the model can say so or retry; the turn never crashes on it.
"""

from __future__ import annotations

import json
import string
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from agents import FunctionTool

from chatkit_host.config.tools import HttpToolConfig, parameters_schema
from chatkit_host.runtime.arguments import parse_arguments

if TYPE_CHECKING:
    from chatkit_host.runtime.tool_kinds import ToolSpec

_WITH_BODY = ("POST", "PUT", "PATCH")


def url_fields(template: str) -> list[str]:
    """The `{name}` fields of a URL template."""
    return [field for _, field, _, _ in string.Formatter().parse(template) if field]


def build_http_tool(spec: ToolSpec) -> FunctionTool:
    name, config = spec.name, spec.config
    assert config.http is not None
    http = config.http
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
        return await request(http, parsed, in_url)

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


async def request(http: HttpToolConfig, arguments: dict[str, Any], in_url: set[str]) -> str:
    """Make the call; the response body (cut to size) or an `error: …` line."""
    missing = sorted(field for field in in_url if field not in arguments)
    if missing:
        return f"error: missing arguments for the URL: {', '.join(missing)}"
    url = http.url.format(**{key: quote(str(arguments[key]), safe="") for key in in_url})
    refused = refused_host(url, http.allow_hosts)
    if refused:
        return refused
    rest = {key: value for key, value in arguments.items() if key not in in_url}
    body = rest if http.method in _WITH_BODY else None
    target = httpx.URL(url)
    if body is None:
        # httpx replaces a URL's query with `params`: merge instead, so the URL's own query (a key,
        # a field placed there) is kept, and an argument never replaces what the URL fixes.
        target = target.copy_merge_params(
            {key: _query_value(value) for key, value in rest.items() if key not in target.params})
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


def _query_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
