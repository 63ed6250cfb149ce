"""What chatkit.yaml may say: the one source of truth for its schema.

`schemas/chatkit.schema.json` is generated from these models (`chatkit-host schema`), and a test fails
when the file in the repo is stale. Every field carries a docstring: it becomes the description editors
show through the schema, and the README's configuration reference is checked against it.

The models are pure: no I/O, no environment. Paths stay as written here; the loader makes them absolute.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from chatkit_host.config.auth import AuthMode, JwtConfig
from chatkit_host.config.client import ClientConfig
from chatkit_host.config.docstrings import DocumentedSchema
from chatkit_host.config.entities import EntitiesConfig
from chatkit_host.config.guardrails import GuardrailsConfig
from chatkit_host.config.observability import ObservabilityConfig
from chatkit_host.config.files import ConvertersConfig, FilesConfig, TranscriptionConfig
from chatkit_host.config.request import RequestConfig
from chatkit_host.config.sources import SourceSpec
from chatkit_host.config.state import EffectConfig, StateConfig
from chatkit_host.config.stream import StreamConfig
from chatkit_host.config.tool_kinds import TOOL_KINDS
from chatkit_host.config.tools import (
    ClientToolConfig,
    HostedKind,
    HostedOptions,
    HttpToolConfig,
    McpToolConfig,
)
from chatkit_host.config.widgets import ActionRoute, EffectSpec, Form, WidgetsConfig
from chatkit_host.config.sizes import Size
from chatkit_host.config.workflows import WorkflowConfig

SCHEMA_ID = "https://chatkit-host.dev/schemas/chatkit.schema.json"
INSTRUCTIONS_FILE = re.compile(r"^[\w./-]+\.(md|txt|j2|jinja|jinja2)$")
"""A one-line `instructions` value that looks like this is a file path, not the text itself."""


class Strict(BaseModel):
    """Base for every config section: unknown keys are errors, fields are documented."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_STATIC_PATH = re.compile(r"/[\w.-]+(/[\w.-]+)*")


class ServerConfig(Strict):
    """Where and how the HTTP server listens."""

    host: str = "127.0.0.1"
    """Interface to bind. Anything but loopback needs authentication (or `public_without_auth`)."""
    port: int = Field(8000, ge=0, le=65535)
    """TCP port to listen on (0 picks a free one)."""
    path: str = Field("/chatkit", pattern=r"^/[\w./-]*$")
    """URL path of the ChatKit endpoint."""
    cors: list[str] = []
    """Origins allowed to call the endpoint from a browser, e.g. `http://localhost:5173`."""
    max_body: Size = Size("4MiB")
    """Largest request body the ChatKit endpoint accepts (`64KB`, `20MiB` or bytes; KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024)."""
    workers: int = Field(1, ge=1, le=64)
    """Worker processes (`serve --workers` overrides it)."""
    public_without_auth: bool = False
    """Allow binding a non-loopback host with `auth.mode: none`. Everyone who can reach it is one user."""
    turns: Literal["reject", "queue"] = "reject"
    """Two turns on one thread at once (a double click, two tabs, two replicas): `reject` answers
    the second `409 thread_busy` before it streams; `queue` makes it wait for the first, and waiting
    turns are answered first come, first served."""
    turn_wait: float = Field(60, gt=0, le=3600)
    """With `turns: queue`: seconds a turn waits for the one before it, then `409 thread_busy`."""
    static: dict[str, str] = {}
    """Folders served as static files on this host, URL path → folder (relative to chatkit.yaml),
    e.g. `{/app: page}` serves `page/index.html` at `/app/`. For the page of your own that sits
    beside the chat: same origin, so it calls the endpoint and the state route with no CORS."""

    @field_validator("static")
    @classmethod
    def _static_paths(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [repr(url) for url in value if not _STATIC_PATH.fullmatch(url)]
        if bad:
            raise ValueError(f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not a URL path below the root: "
                             "write one like /app (letters, digits, '.', '_', '-' and '/')")
        return value


class AuthConfig(Strict):
    """Who the caller is. Every thread, item and file belongs to one user."""

    mode: AuthMode = "none"
    """`none`: one local user (loopback only by default). `bearer`: a token → user map. `jwt`:
    signed tokens from your identity provider (see `jwt`)."""
    user: str = Field("local", min_length=1)
    """The user id every request gets with `mode: none`."""
    tokens: dict[str, str] | str | None = None
    """With `mode: bearer`: a map of user id → token, or a string `alice=TOKEN1,bob=TOKEN2`
    (typically `${CHATKIT_TOKENS}` so the tokens stay in the environment)."""

    jwt: JwtConfig | None = None
    """With `mode: jwt`: how tokens are verified and which claims are used."""

    @model_validator(mode="after")
    def _bearer_needs_tokens(self) -> AuthConfig:
        if self.mode == "bearer" and not self.tokens:
            raise ValueError("auth.tokens is required when auth.mode is bearer")
        if self.mode == "jwt" and self.jwt is None:
            raise ValueError("auth.jwt is required when auth.mode is jwt")
        return self


class StoreConfig(Strict):
    """Where threads, items and attachment metadata are kept."""

    url: str = "sqlite:///.chatkit/chatkit.db"
    """`sqlite:///relative/path.db` (relative to chatkit.yaml), `postgresql://user:pw@host/db`, or
    `memory://` for throwaway runs."""


class ModelSettingsConfig(Strict):
    """Sampling and reasoning settings passed to the model."""

    temperature: float | None = Field(None, ge=0, le=2)
    """Sampling temperature."""
    top_p: float | None = Field(None, ge=0, le=1)
    """Nucleus sampling."""
    max_tokens: int | None = Field(None, ge=1)
    """Most tokens the model may produce in one call."""
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    """Reasoning effort for reasoning models."""
    tool_choice: str | None = None
    """`auto`, `required`, `none` or a tool name."""
    parallel_tool_calls: bool | None = None
    """Let the model call several tools at once."""


class AzureConfig(Strict):
    """An Azure OpenAI resource. Models are referenced by deployment name: `PROVIDER/DEPLOYMENT`."""

    endpoint: str
    """The resource's endpoint, e.g. `https://my-resource.openai.azure.com`."""
    api_version: str = "2025-03-01-preview"
    """The Azure OpenAI API version the requests ask for."""


class ProviderConfig(Strict):
    """A model provider: OpenAI, any OpenAI-compatible server, Azure OpenAI, any provider LiteLLM
    speaks to, or the offline scripted model."""

    api_key: str | None = None
    """API key; use `${ENV_VAR}` so the key stays out of the file. OpenAI's defaults to
    `OPENAI_API_KEY`, Azure's to `AZURE_OPENAI_API_KEY`; LiteLLM reads its provider's own variable
    (`ANTHROPIC_API_KEY`, …) when this is unset."""
    azure: AzureConfig | None = None
    """Serve this provider's models from an Azure OpenAI resource."""
    litellm: bool = False
    """Serve this provider's models through LiteLLM (`pip install 'chatkit-host[litellm]'`): the
    part of a reference after `PROVIDER/` is LiteLLM's model name, e.g. `claude/anthropic/claude-sonnet-4-5`
    for a provider named `claude`."""
    base_url: str | None = None
    """Base URL of an OpenAI-compatible server, e.g. `http://127.0.0.1:11434/v1`."""
    api: Literal["responses", "chat_completions"] | None = None
    """Which API the server speaks: `responses` (the default for servers) or `chat_completions`.
    A scripted model defaults to `chat_completions`; with `responses` it chains turns with
    `previous_response_id` as the Responses API does."""
    scripted: str | None = None
    """Path to a script of replies: an offline, deterministic model (no key, no network)."""
    record: str | None = None
    """With `scripted`: append every model call's input to this JSON-lines file (for tests)."""

    @model_validator(mode="after")
    def _scripted_is_offline(self) -> ProviderConfig:
        if self.scripted and (self.base_url or self.api_key):
            raise ValueError("a scripted provider takes no base_url or api_key")
        if self.record and not self.scripted:
            raise ValueError("record works only with a scripted provider")
        kinds = [name for name, on in (("scripted", self.scripted), ("azure", self.azure),
                                       ("litellm", self.litellm)) if on]
        if len(kinds) > 1:
            raise ValueError(f"a provider is one kind; this one says {' and '.join(kinds)}")
        if self.azure and self.base_url:
            raise ValueError("an azure provider takes its address from azure.endpoint, not base_url")
        return self


class ModelsConfig(Strict):
    """Models and the providers that serve them.

    A model reference is `NAME` (OpenAI) or `PROVIDER/NAME` where PROVIDER is a key of `providers`.
    """

    default: str = "gpt-4.1-mini"
    """The model an agent uses when it names none."""
    providers: dict[str, ProviderConfig] = {}
    """Providers by name. `openai` exists even when not listed (key from `OPENAI_API_KEY`)."""


class AgentConfig(Strict):
    """One agent: instructions, model, tools and handoffs — declared here, or an Agents SDK `Agent`
    from your code (`python`) that the rest of the keys add to."""

    instructions: str | None = None
    """The system prompt: inline text, or a path like `agents/triage.md` (a jinja2 template rendered
    with `user`, `thread`, `now` and `vars`). Required unless `python` is given; with `python`, it
    replaces the code's instructions."""
    python: str | None = None
    """Import path of an Agents SDK `Agent` object: `package.module:agent` or `./file.py:agent`
    (relative to chatkit.yaml). It keeps its own instructions, model, settings, tools, handoffs and
    guardrails; the other keys here override them (`model`, `instructions`) or add to them (`tools`,
    `handoffs`). Its own plain model names (`gpt-4.1`) go through `models.providers` like any other."""
    model: str | None = None
    """Model reference; defaults to `models.default` (with `python`: to the agent's own model)."""
    model_settings: ModelSettingsConfig | None = None
    """Temperature, reasoning effort, max tokens, … (with `python`: laid over the agent's own)."""
    tools: list[str] = []
    """Names of tools from the top-level `tools` section (with `python`: added to the agent's own)."""
    handoffs: list[str] = []
    """Names of agents this agent may hand the conversation to (with `python`: added to its own)."""
    handoff_description: str | None = None
    """What other agents are told about this one when they may hand off to it."""
    vars: dict[str, Any] = {}
    """Values for the instructions template (`{{ vars.NAME }}`); they override the top-level `vars`."""
    guardrails: GuardrailsConfig | None = None
    """Checks on this agent's input and output; one that trips ends the turn with a message."""
    allow_cancel: bool | None = None
    """Whether the user may stop a reply while this agent has the thread; overrides
    `stream.allow_cancel`."""

    @model_validator(mode="after")
    def _instructions_or_code(self) -> AgentConfig:
        if self.instructions is None and self.python is None:
            raise ValueError("an agent needs `instructions`, or `python` naming an Agent in your code")
        return self


class ToolConfig(Strict):
    """A tool agents can call. Exactly one kind key: `python`, `http`, `client`, `hosted`, `mcp`,
    `agent`, …"""

    python: str | None = None
    """Import path of a function: `package.module:function` or `./file.py:function` (relative to
    chatkit.yaml). Its signature and docstring become the tool's schema."""
    http: HttpToolConfig | None = None
    """Call an HTTP API with the model's arguments."""
    client: ClientToolConfig | None = None
    """A tool the browser runs; the run stops at the call and resumes on the client's output."""
    hosted: HostedKind | HostedOptions | None = None
    """A tool the model provider runs: `web_search`, `file_search`, `image_generation`,
    `code_interpreter`, or a mapping with `type` and that tool's options."""
    mcp: McpToolConfig | None = None
    """An MCP server (streamable HTTP `url` or stdio `command`) whose tools the agent gets."""
    agent: str | None = None
    """Name of another agent, called as a tool (it answers; the conversation stays here)."""
    widget: str | None = None
    """Name of a widget (`widgets/NAME.widget`): the agent shows it, passing the widget's data as
    the tool's arguments (the widget's jsonSchema is the parameter schema)."""
    form: str | None = None
    """Name of a form from `forms`: the agent asks it and the run waits for the user's answers."""
    workflow: str | None = None
    """Name of a workflow from `workflows`: the agent runs it on the text it passes (`input`) and
    gets back what the workflow would have shown the user."""
    description: str | None = None
    """Overrides the function's docstring as the description the model sees."""
    progress: str | None = None
    """A line shown to the user while the tool runs: a template over the tool's arguments and
    `state`, e.g. `Searching for {{ query }}…`."""
    approval: str | None = None
    """Ask the user before each call: `always`, `never`, or a CEL condition over the call's
    `arguments` (e.g. `arguments.amount > 100`). The run waits for the answer; a rejected call
    reaches the model as a tool output saying so."""
    stop_after: bool = False
    """End the agent's run once this tool ran, so the model does not speak again after it (a
    widget that says it all)."""
    set_state: dict[str, Any] | str | None = None
    """After the tool returns, change the thread's state: properties whose values are templates over
    `arguments`, `result` and `state` (e.g. `{hunger: "{{ result.hunger }}"}`), or one template
    giving a mapping. A change that breaks the schema reaches the model as the tool's error."""
    effect: EffectSpec | None = None
    """After the tool returns, send the page this client effect (its data: templates over
    `arguments`, `result` and `state`)."""
    sources: SourceSpec | None = None
    """After the tool returns, cite where the answer comes from: sources (URLs, entities or files,
    templates over `arguments`, `result`, `state` and `request`) shown as annotations on the assistant
    message that follows. For `python` and `http` tools."""
    data_from: str | None = None
    """With `widget`: the widget's data is the output of this `python` or `http` tool, called with
    this tool's arguments (the parameters are that tool's), not arguments the model makes up."""
    copy_text: str | None = None
    """With `widget`: the text copied when the user copies the widget (a template over its data)."""

    @property
    def kind(self) -> str:
        """The one kind key given (`python`, `http`, …)."""
        return next(name for name in _tool_kinds() if getattr(self, name) is not None)

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> ToolConfig:
        given = [name for name in _tool_kinds() if getattr(self, name) is not None]
        if len(given) != 1:
            found = f"got {', '.join(given)}" if given else "got none"
            raise ValueError(f"a tool has exactly one of {', '.join(_tool_kinds())} ({found})")
        if self.widget is None and (self.data_from is not None or self.copy_text is not None):
            raise ValueError("`data_from` and `copy_text` go with `widget`")
        return self


def _tool_kinds() -> list[str]:
    """The kind keys (`config/tool_kinds.py`), in the order the fields are declared."""
    return [name for name in ToolConfig.model_fields if name in TOOL_KINDS]


class TitleAgentConfig(Strict):
    """Title new threads with an agent's reply to the first message."""

    agent: str
    """Name of the agent that writes titles."""
    max_length: int = Field(60, ge=8, le=200)
    """Titles are cut to this many characters."""


class HistoryConfig(Strict):
    """How much of a thread the model sees each turn."""

    max_items: int = Field(100, ge=1)
    """The newest thread items given to the model as input."""


class ChatKitConfig(Strict):
    """chatkit.yaml: a whole ChatKit backend."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"$id": SCHEMA_ID, "title": "chatkit.yaml"},
    )

    version: Literal[1] = 1
    """Version of this file's format."""
    server: ServerConfig = ServerConfig()
    """Where and how the HTTP server listens."""
    auth: AuthConfig = AuthConfig()
    """Who the caller is."""
    store: StoreConfig = StoreConfig()
    """Where threads and items are kept."""
    models: ModelsConfig = ModelsConfig()
    """Models and providers."""
    agents: dict[str, AgentConfig] = Field(min_length=1)
    """Agents by name."""
    entry: str | None = None
    """The agent (or workflow) that answers each turn; defaults to the first agent listed."""
    tools: dict[str, ToolConfig] = {}
    """Tools by name; agents list the ones they may call."""
    files: FilesConfig | None = None
    """Attachments: storage URL, upload strategy, limits. Omit to take no attachments."""
    converters: ConvertersConfig = ConvertersConfig()
    """What the model receives for attachments, @-mentions, hidden context and generated images."""
    transcription: TranscriptionConfig | None = None
    """Dictation through the OpenAI audio API. Omit to turn `input.transcribe` off."""
    entities: EntitiesConfig | None = None
    """@-mention search for the composer: static lists, an API or a python function. Omit to
    offer no entity search."""
    titles: Literal["first_message", "none"] | TitleAgentConfig = "first_message"
    """How new threads get a title: `first_message`, `none`, or `{agent: NAME}`."""
    history: HistoryConfig = HistoryConfig()
    """How much of a thread the model sees."""
    stream: StreamConfig = StreamConfig()
    """How streamed replies reach the client (text delta coalescing)."""
    client: ClientConfig = ClientConfig()
    """The ChatKit.js options of the playground page (`GET /`): theme, greeting, composer, …"""
    observability: ObservabilityConfig = ObservabilityConfig()
    """Metrics, request logs and tracing."""
    widgets: WidgetsConfig = WidgetsConfig()
    """Where the widget files are (`widgets/` next to chatkit.yaml)."""
    forms: dict[str, Form] = {}
    """Structured-input forms by name: the questions an agent (a `form` tool) or an action may ask."""
    actions: dict[str, ActionRoute] = {}
    """Widget action type → what the server does: a payload schema and ordered steps."""
    vars: dict[str, Any] = {}
    """Values every instructions template sees as `{{ vars.NAME }}`."""
    state: StateConfig | None = None
    """Per-thread app state: its schema, a new thread's values, and a context line for the model.
    Omit for threads without state."""
    effects: dict[str, EffectConfig] = {}
    """Client effects by name, with the schema of their data: what `effect` steps and tool
    `effect`s may send the page."""
    workflows: dict[str, WorkflowConfig] = {}
    """Workflows by name: agents run in order, branching and looping on what they return
    (docs/workflows.md). Name one as `entry` to run it on every turn."""
    request: RequestConfig = RequestConfig()
    """What of each HTTP request templates and tools see: the declared page-context headers."""

    @property
    def entry_agent(self) -> str:
        """The entry agent's name: `entry`, or the first agent listed (also when `entry` is a
        workflow: the agent a thread falls back to outside it)."""
        return self.entry if self.entry in self.agents else next(iter(self.agents))

    @property
    def entry_workflow(self) -> str | None:
        """The workflow that answers each turn, when `entry` names one."""
        return self.entry if self.entry in self.workflows else None


def json_schema(*, annotations: bool = True) -> dict[str, Any]:
    """The JSON Schema of chatkit.yaml, as written to `schemas/chatkit.schema.json`.

    Without `annotations` (descriptions and defaults) it accepts and refuses exactly the same, and
    takes a fraction of the time to make: for checking a file, not for showing.
    """
    generator = DocumentedSchema if annotations else _UnannotatedSchema
    schema = ChatKitConfig.model_json_schema(mode="validation", schema_generator=generator)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


class _UnannotatedSchema(GenerateJsonSchema):
    """No `default`s: encoding each one builds a pydantic TypeAdapter, and a default is only an
    annotation in JSON Schema, never a constraint."""

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])
