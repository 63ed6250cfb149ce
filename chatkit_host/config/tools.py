"""The kinds of tool chatkit.yaml can declare besides `python`: `http`, `client`, `hosted`, `mcp`
(and `agent`, a plain name on `ToolConfig`).

Pure models. `parameters` takes a shorthand (`{order_id: string, limit: integer?}`: a trailing `?`
makes it optional), property schemas (`{theme: {enum: [light, dark]}}`) or a whole JSON Schema
object; `parameters_schema` turns any of them into the JSON Schema the model sees.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chatkit_host.config.sizes import Size

_SIMPLE_TYPES = ("string", "integer", "number", "boolean", "array", "object")

Parameters = dict[str, Any]
"""`{name: type}` shorthand, `{name: property schema}`, or a JSON Schema with `type: object`."""


def parameters_schema(parameters: Parameters) -> dict[str, Any]:
    """The JSON Schema (an object) for a `parameters` value; raises ValueError when malformed."""
    if parameters.get("type") == "object":
        schema = dict(parameters)
    else:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for name, spec in parameters.items():
            optional = False
            if isinstance(spec, str):
                optional = spec.endswith("?")
                kind = spec.rstrip("?")
                if kind not in _SIMPLE_TYPES:
                    raise ValueError(
                        f"parameter '{name}': unknown type '{kind}' (use {', '.join(_SIMPLE_TYPES)},"
                        " with a trailing ? for optional, or a JSON Schema mapping)"
                    )
                spec = {"type": kind}
            elif isinstance(spec, dict):
                spec = dict(spec)
                optional = bool(spec.pop("optional", False))
            else:
                raise ValueError(f"parameter '{name}' is a type name or a JSON Schema mapping")
            properties[name] = spec
            if not optional:
                required.append(name)
        schema = {"type": "object", "properties": properties, "required": required}
    schema.setdefault("additionalProperties", False)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise ValueError(f"not a valid JSON Schema: {error.message}") from None
    return schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _WithParameters(_Strict):
    parameters: Parameters = {}
    """The arguments the model passes: `{name: string}` shorthand (`integer?` for optional),
    `{name: {enum: [a, b]}}` property schemas, or a whole JSON Schema object."""

    @field_validator("parameters")
    @classmethod
    def _valid_schema(cls, value: Parameters) -> Parameters:
        parameters_schema(value)
        return value


class HttpToolConfig(_WithParameters):
    """Call an HTTP API; the response body (cut to `max_response_bytes`) is the tool's output.

    Arguments named in the URL template fill it (URL-quoted); the others go in a JSON body for
    POST, PUT and PATCH, or in the query string for GET and DELETE. Failures (timeouts, refused
    connections, 4xx/5xx) reach the model as text, never crash the turn.
    """

    url: str = Field(pattern=r"^https?://")
    """URL template, e.g. `https://api.example.com/orders/{order_id}`: `{name}` is an argument;
    `{{ expression }}` is a template over `state`, `request`, `user`, `thread` and `vars`, e.g.
    `/customers/{{ state.customer_id }}/orders/{order_id}`. Both are filled URL-quoted."""
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    """HTTP method."""
    query: dict[str, Any] = {}
    """Query parameters the host adds to every call, each a template over `arguments`, `state`,
    `request`, `user`, `thread` and `vars`, e.g. `{map: "{{ request.headers['x-map-id'] }}"}`; they win
    over an argument of the same name."""
    body: dict[str, Any] = {}
    """Values the host adds to the JSON body (POST, PUT, PATCH), templates as in `query`; a string
    that is one `{{ expression }}` keeps the expression's type."""
    headers: dict[str, str] = {}
    """Request headers; put secrets in the environment: `Authorization: "Bearer ${API_TOKEN}"`."""
    timeout: float = Field(10.0, gt=0, le=300)
    """Seconds before the call is abandoned (the model is told it timed out)."""
    max_response_bytes: Size = Size("32KiB")
    """The response body is cut to this size before the model sees it (`64KB`, `20MiB` or bytes; KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024)."""
    allow_hosts: list[str] = []
    """When set, the only hosts this tool may call (`api.example.com`, or `*.example.com` for its
    subdomains); any other host — say one a URL field filled in — is refused before connecting."""

    @model_validator(mode="after")
    def _body_needs_a_method_with_one(self) -> HttpToolConfig:
        if self.body and self.method not in ("POST", "PUT", "PATCH"):
            raise ValueError(f"a {self.method} request has no body: use `query`, or method POST, PUT or PATCH")
        return self


class ClientToolConfig(_WithParameters):
    """A tool the browser runs (ChatKit's `onClientTool`): the run stops at the call, the client
    posts the output (`threads.add_client_tool_output`) and the model continues with it."""


class WebSearchOptions(_Strict):
    """The hosted web search tool."""

    type: Literal["web_search"]
    """Which hosted tool this is."""
    search_context_size: Literal["low", "medium", "high"] = "medium"
    """How much context is retrieved per search."""
    user_location: dict[str, str] | None = None
    """Approximate location, e.g. `{type: approximate, country: US, city: Boston}`."""


class FileSearchOptions(_Strict):
    """The hosted file search tool, over OpenAI vector stores."""

    type: Literal["file_search"]
    """Which hosted tool this is."""
    vector_store_ids: list[str] = Field(min_length=1)
    """Vector stores to search."""
    max_num_results: int | None = Field(None, ge=1, le=50)
    """Most results returned per search."""
    include_search_results: bool = False
    """Include the matched chunks in the model's output."""


class ImageGenerationOptions(_Strict):
    """The hosted image generation tool. Images land in file storage (see
    `converters.generated_images`)."""

    type: Literal["image_generation"]
    """Which hosted tool this is."""
    model: str | None = None
    """Image model, e.g. `gpt-image-1`."""
    size: Literal["1024x1024", "1024x1536", "1536x1024", "auto"] = "auto"
    """Image size."""
    quality: Literal["low", "medium", "high", "auto"] = "auto"
    """Rendering quality."""
    background: Literal["transparent", "opaque", "auto"] = "auto"
    """Background."""
    output_format: Literal["png", "webp", "jpeg"] = "png"
    """File format of the image."""
    partial_images: int = Field(0, ge=0, le=3)
    """Partial images streamed while generating (shown with progress)."""


class CodeInterpreterOptions(_Strict):
    """The hosted code interpreter tool."""

    type: Literal["code_interpreter"]
    """Which hosted tool this is."""
    container: str = "auto"
    """`auto` for a fresh container, or an existing container id."""
    file_ids: list[str] = []
    """Files made available to the code (with `container: auto`)."""


HostedOptions = Annotated[
    WebSearchOptions | FileSearchOptions | ImageGenerationOptions | CodeInterpreterOptions,
    Field(discriminator="type"),
]
HostedKind = Literal["web_search", "file_search", "image_generation", "code_interpreter"]


class McpToolConfig(_Strict):
    """An MCP server: all its tools (or those listed in `tools`) become the agent's tools.

    Give exactly one of `url` (streamable HTTP) or `command` (stdio). The server is connected for
    each turn that uses it and closed afterwards.
    """

    url: str | None = Field(None, pattern=r"^https?://")
    """Streamable HTTP endpoint, e.g. `http://127.0.0.1:9000/mcp`."""
    headers: dict[str, str] = {}
    """Headers for `url` (use `${ENV_VAR}` for tokens)."""
    command: str | None = None
    """Executable to run for a stdio server, e.g. `uvx` or `python`."""
    args: list[str] = []
    """Arguments of `command`."""
    env: dict[str, str] = {}
    """Environment of `command` (added to a minimal default)."""
    cwd: str | None = None
    """Working folder of `command`, relative to chatkit.yaml."""
    tools: list[str] | None = None
    """Only these of the server's tools; all of them when omitted."""
    timeout: float = Field(10.0, gt=0, le=300)
    """Seconds to wait for the server on each request."""

    @model_validator(mode="after")
    def _one_transport(self) -> McpToolConfig:
        if (self.url is None) == (self.command is None):
            raise ValueError("give exactly one of url (streamable HTTP) or command (stdio)")
        return self
