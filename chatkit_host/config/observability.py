"""What `observability:` in chatkit.yaml may say: metrics, request logs and tracing.

Pure models; `observability/metrics.py`, `logs.py` and `tracing.py` act on them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogsConfig(_Strict):
    """One line per request on standard error."""

    format: Literal["text", "json"] = "text"
    """`text` for people, `json` (one object per line) for log collectors."""
    level: Literal["debug", "info", "warning", "error"] = "info"
    """Least severe level written. At `debug`, request lines also carry the message text; at any
    other level message text never reaches the log."""


class OtlpExporterConfig(_Strict):
    """Send spans to an OpenTelemetry collector over OTLP/HTTP (JSON encoding)."""

    endpoint: str = Field("http://127.0.0.1:4318/v1/traces", pattern=r"^https?://")
    """The collector's traces URL, e.g. `http://otel-collector:4318/v1/traces`."""
    headers: dict[str, str] = {}
    """Extra HTTP headers, e.g. an API key: `{authorization: "Bearer ${OTEL_TOKEN}"}`."""
    timeout_s: float = Field(2.0, gt=0, le=30)
    """How long one export may take; a collector that is down never slows a turn."""
    service_name: str = "chatkit-host"
    """The `service.name` resource attribute."""


class TracingConfig(_Strict):
    """Agents SDK tracing: one trace per turn, grouped by thread."""

    enabled: bool | None = None
    """On or off. Unset: on when an OpenAI key is set (`models.providers.openai.api_key` or
    `OPENAI_API_KEY`), off otherwise."""
    workflow_name: str = "chatkit-host"
    """The name every trace carries."""
    include_sensitive_data: bool = False
    """Record model inputs and outputs and tool arguments and results in spans."""
    exporters: list[Literal["openai", "otlp", "none"]] = ["openai"]
    """Where traces go: `openai` (OpenAI's traces dashboard), `otlp` (see `otlp`), or `none`."""
    otlp: OtlpExporterConfig | None = None
    """Settings of the `otlp` exporter (defaults to a collector on `127.0.0.1:4318`)."""

    @model_validator(mode="after")
    def _none_alone(self) -> TracingConfig:
        if "none" in self.exporters and len(self.exporters) > 1:
            raise ValueError("exporters: `none` cannot be combined with other exporters")
        return self


class ObservabilityConfig(_Strict):
    """Metrics, request logs and tracing."""

    metrics: bool = True
    """Serve Prometheus metrics at `GET /metrics` (each replica exposes its own; one scrape adds up
    the workers of `serve --workers N`)."""
    logs: LogsConfig = LogsConfig()
    """The one-line-per-request log."""
    tracing: TracingConfig = TracingConfig()
    """Agents SDK tracing and where it is exported."""
