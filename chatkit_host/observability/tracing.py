"""Agents SDK tracing, as `observability.tracing` declares it, and a small OTLP/HTTP exporter.

The SDK's trace processors are process-wide, while each runtime (and each test app in one process)
declares its own exporters. So one routing processor is installed, once, the first time a traced
turn runs; every trace carries its runtime's route in its metadata, and each span goes to the
exporters of its own route. Traces without a route (agents run outside chatkit-host in the same
process) are not exported.

Exporters never block a turn: the SDK's batch processor queues spans in memory (dropping them when
the queue is full) and sends them from a background thread; the OTLP exporter here only encodes
and posts them, with a short timeout. A collector that is down costs a log line.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import re
import threading
import time
import urllib.request
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agents.tracing import Span, Trace, TracingProcessor, set_trace_processors
from agents.tracing.processor_interface import TracingExporter
from agents.tracing.processors import BackendSpanExporter, BatchTraceProcessor

from chatkit_host.config.loader import LoadedConfig
from chatkit_host.config.observability import OtlpExporterConfig, TracingConfig

logger = logging.getLogger("chatkit_host.tracing")

ROUTE = "chatkit_host.route"
"""Trace metadata key naming the route (the runtime's exporters) of a trace."""
THREAD = "chatkit.thread_id"
"""Trace metadata key and span attribute: the ChatKit thread a trace belongs to."""


class _Route:
    """A runtime's exporters; routes live as long as a runtime holds them."""

    def __init__(self, exporters: list[TracingProcessor]):
        self.exporters = exporters


_ROUTES: weakref.WeakValueDictionary[str, _Route] = weakref.WeakValueDictionary()
_route_ids = itertools.count(1)


@dataclass(frozen=True)
class Tracing:
    """One runtime's tracing settings, turned into `RunConfig` fields per turn."""

    enabled: bool = False
    workflow_name: str = "chatkit-host"
    include_sensitive_data: bool = False
    route: _Route | None = field(default=None, repr=False, compare=False)
    route_id: str = ""

    def run_config_fields(self, thread_id: str, allowed: bool = True) -> dict[str, Any]:
        """`RunConfig` keyword arguments for a turn of ``thread_id``."""
        traced = self.enabled and allowed and self.route is not None
        if traced:
            _install()
        return {
            "workflow_name": self.workflow_name,
            "tracing_disabled": not traced,
            "trace_include_sensitive_data": self.include_sensitive_data,
            "trace_metadata": {ROUTE: self.route_id, THREAD: thread_id} if traced else None,
        }


def build_tracing(loaded: LoadedConfig, environ: Any = os.environ) -> Tracing:
    """The tracing of ``loaded``'s configuration. Starts nothing: exporters connect on first use."""
    config = loaded.config.observability.tracing
    key = _openai_key(loaded, environ)
    enabled = config.enabled if config.enabled is not None else bool(key)
    if not enabled or config.exporters == ["none"]:
        return Tracing(enabled=False, workflow_name=config.workflow_name)
    base = _openai_base_url(loaded, environ)
    route = _Route([_exporter(name, config, key, base) for name in config.exporters])
    route_id = f"r{next(_route_ids)}-{os.getpid()}"
    _ROUTES[route_id] = route
    return Tracing(True, config.workflow_name, config.include_sensitive_data, route, route_id)


def _openai_key(loaded: LoadedConfig, environ: Any) -> str | None:
    provider = loaded.config.models.providers.get("openai")
    return (provider.api_key if provider is not None else None) or environ.get("OPENAI_API_KEY")


def _openai_base_url(loaded: LoadedConfig, environ: Any) -> str:
    """Where OpenAI is reached: traces go to the same service the key belongs to, so a key for a
    proxy or a stand-in (`OPENAI_BASE_URL`) never sends traces to api.openai.com."""
    provider = loaded.config.models.providers.get("openai")
    base = (provider.base_url if provider is not None else None) or environ.get("OPENAI_BASE_URL")
    return (base or "https://api.openai.com/v1").rstrip("/")


def _exporter(name: str, config: TracingConfig, key: str | None, base: str) -> TracingProcessor:
    if name == "otlp":
        return OtlpProcessor(config.otlp or OtlpExporterConfig())
    return BatchTraceProcessor(BackendSpanExporter(api_key=key, endpoint=f"{base}/traces/ingest"))


_installed = False
_install_lock = threading.Lock()


def _install() -> None:
    global _installed
    if not _installed:
        with _install_lock:
            if not _installed:
                set_trace_processors([RoutingProcessor()])
                _installed = True


class RoutingProcessor(TracingProcessor):
    """Hands each trace and span to the exporters of the route in its metadata."""

    def _exporters(self, metadata: dict[str, Any] | None) -> list[TracingProcessor]:
        route = _ROUTES.get(str((metadata or {}).get(ROUTE, "")))
        return route.exporters if route is not None else []

    def on_trace_start(self, trace: Trace) -> None:
        for exporter in self._exporters(getattr(trace, "metadata", None)):
            exporter.on_trace_start(trace)

    def on_trace_end(self, trace: Trace) -> None:
        for exporter in self._exporters(getattr(trace, "metadata", None)):
            exporter.on_trace_end(trace)

    def on_span_start(self, span: Span[Any]) -> None:
        for exporter in self._exporters(span.trace_metadata):
            exporter.on_span_start(span)

    def on_span_end(self, span: Span[Any]) -> None:
        for exporter in self._exporters(span.trace_metadata):
            exporter.on_span_end(span)

    def shutdown(self) -> None:
        for route in list(_ROUTES.values()):
            for exporter in route.exporters:
                exporter.shutdown()

    def force_flush(self) -> None:
        for route in list(_ROUTES.values()):
            for exporter in route.exporters:
                exporter.force_flush()


class OtlpProcessor(BatchTraceProcessor):
    """The SDK's batch processor (queue, background thread, flush) feeding an `OtlpExporter`.

    A trace is queued when it ends rather than when it starts: it becomes a root span, which needs
    its end time.
    """

    def __init__(self, config: OtlpExporterConfig):
        self.exporter = OtlpExporter(config)
        super().__init__(self.exporter, max_queue_size=4096, max_batch_size=512, schedule_delay=1.0)

    def on_trace_start(self, trace: Trace) -> None:
        self.exporter.times[trace.trace_id] = (_now_ns(), 0)

    def on_trace_end(self, trace: Trace) -> None:
        start, _ = self.exporter.times.get(trace.trace_id, (_now_ns(), 0))
        self.exporter.times[trace.trace_id] = (start, _now_ns())
        super().on_trace_start(trace)  # the base class queues a trace from here


class OtlpExporter(TracingExporter):
    """Posts batches of spans to an OTLP/HTTP collector as JSON.

    Each trace also becomes a root span (named after the workflow) that the run's spans hang from,
    and every span carries the thread id (`chatkit.thread_id`), so a collector groups a
    conversation's turns by it.
    """

    def __init__(self, config: OtlpExporterConfig):
        self.config = config
        self.times: dict[str, tuple[int, int]] = {}  # trace id → start, end (ns)
        self.sent = self.failed = 0

    def export(self, items: list[Trace | Span[Any]]) -> None:
        spans = []
        for item in items:
            try:
                spans.append(self._root(item) if isinstance(item, Trace) else _otlp_span(item))
            except Exception:  # noqa: BLE001 - a span we cannot encode must not stop the others
                logger.debug("could not encode a span", exc_info=True)
        if spans:
            self._post(spans)

    def _root(self, trace: Trace) -> dict[str, Any]:
        start, end = self.times.pop(trace.trace_id, (_now_ns(), _now_ns()))
        metadata = getattr(trace, "metadata", None) or {}
        return {
            "traceId": _trace_id(trace.trace_id), "spanId": _root_id(trace.trace_id),
            "name": trace.name, "kind": 1,
            "startTimeUnixNano": str(start), "endTimeUnixNano": str(end),
            "attributes": _attributes({
                THREAD: metadata.get(THREAD) or getattr(trace, "group_id", None),
                "gen_ai.conversation.id": metadata.get(THREAD),
                "chatkit.workflow": trace.name,
            }),
            "status": {"code": 1},
        }

    def _post(self, spans: list[dict[str, Any]]) -> None:
        body = json.dumps({"resourceSpans": [{
            "resource": {"attributes": _attributes({"service.name": self.config.service_name})},
            "scopeSpans": [{"scope": {"name": "chatkit-host"}, "spans": spans}],
        }]}).encode()
        request = urllib.request.Request(
            self.config.endpoint, data=body, method="POST",
            headers={"Content-Type": "application/json", **self.config.headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                response.read()
            self.sent += len(spans)
        except Exception as error:  # noqa: BLE001 - a collector that is down loses spans, not turns
            self.failed += len(spans)
            logger.warning("trace export to %s failed: %s (%d spans dropped)",
                           self.config.endpoint, type(error).__name__, len(spans))


def _otlp_span(span: Span[Any]) -> dict[str, Any]:
    data = span.span_data
    name, attributes = _describe(data)
    attributes[THREAD] = (span.trace_metadata or {}).get(THREAD)
    error = span.error
    encoded: dict[str, Any] = {
        "traceId": _trace_id(span.trace_id), "spanId": _span_id(span.span_id),
        "parentSpanId": _span_id(span.parent_id) if span.parent_id else _root_id(span.trace_id),
        "name": name, "kind": 3 if data.type in ("generation", "response") else 1,
        "startTimeUnixNano": str(_iso_ns(span.started_at)),
        "endTimeUnixNano": str(_iso_ns(span.ended_at)),
        "attributes": _attributes(attributes),
        "status": {"code": 2, "message": str(error.get("message", ""))} if error else {"code": 1},
    }
    return encoded


def _describe(data: Any) -> tuple[str, dict[str, Any]]:
    """An OTLP span name and attributes (OpenTelemetry GenAI conventions) for SDK span data."""
    kind = data.type
    if kind == "agent":
        return f"invoke_agent {data.name}", {"gen_ai.operation.name": "invoke_agent",
                                              "gen_ai.agent.name": data.name}
    if kind == "generation":
        usage = data.usage or {}
        return f"chat {data.model}", {
            "gen_ai.operation.name": "chat", "gen_ai.request.model": data.model,
            "gen_ai.usage.input_tokens": usage.get("input_tokens"),
            "gen_ai.usage.output_tokens": usage.get("output_tokens"),
            "gen_ai.input.messages": _json(data.input), "gen_ai.output.messages": _json(data.output),
        }
    if kind == "response":
        response = getattr(data, "response", None)
        usage = getattr(response, "usage", None)
        return f"chat {getattr(response, 'model', '')}".strip(), {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": getattr(response, "model", None),
            "gen_ai.response.id": getattr(response, "id", None),
            "gen_ai.usage.input_tokens": getattr(usage, "input_tokens", None),
            "gen_ai.usage.output_tokens": getattr(usage, "output_tokens", None),
        }
    if kind == "function":
        return f"execute_tool {data.name}", {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": data.name,
            "gen_ai.tool.call.arguments": data.input,
            "gen_ai.tool.call.result": None if data.output is None else str(data.output),
        }
    if kind == "task":  # one Runner run
        usage = data.usage or {}
        return f"run {data.name}", {
            "gen_ai.operation.name": "invoke_workflow",
            "gen_ai.usage.input_tokens": usage.get("input_tokens"),
            "gen_ai.usage.output_tokens": usage.get("output_tokens"),
        }
    if kind == "turn":  # one model call and the tools it asked for
        return f"turn {data.turn} {data.agent_name}", {
            "gen_ai.agent.name": data.agent_name, "chatkit.turn": data.turn}
    if kind == "handoff":
        return f"handoff {data.from_agent} -> {data.to_agent}", {
            "chatkit.handoff.from": data.from_agent, "chatkit.handoff.to": data.to_agent}
    if kind == "guardrail":
        return f"guardrail {data.name}", {"chatkit.guardrail.triggered": data.triggered}
    exported = data.export() or {}
    label = getattr(data, "name", None) or exported.get("name") or kind
    return str(label), {"chatkit.span.type": kind}


def _attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            encoded: dict[str, Any] = {"boolValue": value}
        elif isinstance(value, int):
            encoded = {"intValue": str(value)}
        elif isinstance(value, float):
            encoded = {"doubleValue": value}
        else:
            encoded = {"stringValue": str(value)}
        out.append({"key": key, "value": encoded})
    return out


_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def _trace_id(sdk_id: str) -> str:
    raw = sdk_id.removeprefix("trace_")
    return raw if _HEX32.match(raw) else hashlib.sha256(sdk_id.encode()).hexdigest()[:32]


def _span_id(sdk_id: str) -> str:
    return hashlib.sha256(sdk_id.encode()).hexdigest()[:16]


def _root_id(trace_id: str) -> str:
    return _span_id("root:" + trace_id)


def _iso_ns(value: str | None) -> int:
    if not value:
        return _now_ns()
    return int(datetime.fromisoformat(value).timestamp() * 1e9)


def _now_ns() -> int:
    return time.time_ns()


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, ensure_ascii=False)
