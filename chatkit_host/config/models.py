"""What chatkit.yaml may say: the one source of truth for its schema.

`schemas/chatkit.schema.json` is generated from these models (`chatkit-host schema`), and a test fails
when the file in the repo is stale. Every field carries a docstring: it becomes the description editors
show through the schema, and the README's configuration reference is checked against it.

The models are pure: no I/O, no environment. Paths stay as written here; the loader makes them absolute.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ByteSize, ConfigDict, Field, model_validator

SCHEMA_ID = "https://chatkit-host.dev/schemas/chatkit.schema.json"
INSTRUCTIONS_FILE = re.compile(r"^[\w./-]+\.(md|txt|j2|jinja|jinja2)$")
"""A one-line `instructions` value that looks like this is a file path, not the text itself."""


class Strict(BaseModel):
    """Base for every config section: unknown keys are errors, fields are documented."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


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
    max_body: ByteSize = ByteSize(4 * 1024 * 1024)
    """Largest request body the ChatKit endpoint accepts (`4MB`, `512KB` or bytes)."""
    workers: int = Field(1, ge=1, le=64)
    """Worker processes (`serve --workers` overrides it)."""
    public_without_auth: bool = False
    """Allow binding a non-loopback host with `auth.mode: none`. Everyone who can reach it is one user."""


class AuthConfig(Strict):
    """Who the caller is. Every thread, item and file belongs to one user."""

    mode: Literal["none", "bearer"] = "none"
    """`none`: one local user (loopback only by default). `bearer`: a token → user map."""
    user: str = Field("local", min_length=1)
    """The user id every request gets with `mode: none`."""
    tokens: dict[str, str] | str | None = None
    """With `mode: bearer`: a map of user id → token, or a string `alice=TOKEN1,bob=TOKEN2`
    (typically `${CHATKIT_TOKENS}` so the tokens stay in the environment)."""

    @model_validator(mode="after")
    def _bearer_needs_tokens(self) -> AuthConfig:
        if self.mode == "bearer" and not self.tokens:
            raise ValueError("auth.tokens is required when auth.mode is bearer")
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


class ProviderConfig(Strict):
    """A model provider: OpenAI, any OpenAI-compatible server, or the offline scripted model."""

    api_key: str | None = None
    """API key; use `${ENV_VAR}` so the key stays out of the file. OpenAI's defaults to `OPENAI_API_KEY`."""
    base_url: str | None = None
    """Base URL of an OpenAI-compatible server, e.g. `http://127.0.0.1:11434/v1`."""
    api: Literal["responses", "chat_completions"] = "responses"
    """Which API the server speaks."""
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
    """One agent: instructions, model, tools and handoffs."""

    instructions: str
    """The system prompt: inline text, or a path like `agents/triage.md` (a jinja2 template rendered
    with `user`, `thread`, `now` and `vars`)."""
    model: str | None = None
    """Model reference; defaults to `models.default`."""
    model_settings: ModelSettingsConfig | None = None
    """Temperature, reasoning effort, max tokens, …"""
    tools: list[str] = []
    """Names of tools from the top-level `tools` section."""
    handoffs: list[str] = []
    """Names of agents this agent may hand the conversation to."""
    handoff_description: str | None = None
    """What other agents are told about this one when they may hand off to it."""
    vars: dict[str, Any] = {}
    """Values for the instructions template (`{{ vars.NAME }}`); they override the top-level `vars`."""


class ToolConfig(Strict):
    """A tool agents can call. Exactly one kind key: `python` (more kinds come with later releases)."""

    python: str
    """Import path of a function: `package.module:function` or `./file.py:function` (relative to
    chatkit.yaml). Its signature and docstring become the tool's schema."""
    description: str | None = None
    """Overrides the function's docstring as the description the model sees."""
    progress: str | None = None
    """A line shown to the user while the tool runs, e.g. `Looking up the order…`."""


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
        use_attribute_docstrings=True,
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
    """The agent that answers each turn; defaults to the first agent listed."""
    tools: dict[str, ToolConfig] = {}
    """Tools by name; agents list the ones they may call."""
    titles: Literal["first_message", "none"] | TitleAgentConfig = "first_message"
    """How new threads get a title: `first_message`, `none`, or `{agent: NAME}`."""
    history: HistoryConfig = HistoryConfig()
    """How much of a thread the model sees."""
    vars: dict[str, Any] = {}
    """Values every instructions template sees as `{{ vars.NAME }}`."""

    @property
    def entry_agent(self) -> str:
        """The entry agent's name: `entry`, or the first agent listed."""
        return self.entry or next(iter(self.agents))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of chatkit.yaml, as written to `schemas/chatkit.schema.json`."""
    schema = ChatKitConfig.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
