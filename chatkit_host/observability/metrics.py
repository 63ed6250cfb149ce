"""Prometheus metrics, kept with `prometheus_client`.

One process counts in memory. Under `serve --workers N` every worker writes its numbers to files in
`PROMETHEUS_MULTIPROC_DIR` (the library's multiprocess mode; `serve` makes the directory), and a
scrape that reaches any worker adds up all of them. Recording never waits for a scrape or the
network: in memory it is a locked add, in multiprocess mode a write into a memory-mapped file.

What a caller may rely on: the module-level functions below (`request_finished`, `turn_finished`,
`tokens_used`, `tool_called`, `guardrail_tripped`, `reload_finished`, `stream_opened`/`stream_closed`)
never raise, and `render()` returns the whole exposition.
"""

from __future__ import annotations

import glob
import os
import re

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""Where worker processes write their numbers; read by prometheus_client when it is imported."""

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
"""Seconds: from a few milliseconds (scripted models, refusals) to minutes (long tool runs)."""

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The format `generate_latest` writes (newer prometheus_client releases name a later one latest)."""

# `*_created` series would double the families for no question anyone asks of these metrics.
prometheus_client.disable_created_metrics()

REGISTRY = CollectorRegistry()
"""This process's metrics (the library's global registry would add its process and GC metrics)."""

REQUESTS = Counter("chatkit_requests", "ChatKit requests by type and outcome.",
                   ["type", "outcome"], registry=REGISTRY)
REQUEST_SECONDS = Histogram("chatkit_request_duration_seconds",
                            "Time from request to the end of its response, by type.", ["type"],
                            buckets=LATENCY_BUCKETS, registry=REGISTRY)
TURN_SECONDS = Histogram("chatkit_turn_duration_seconds",
                         "Time an agent turn took, from request to last event.", ["agent"],
                         buckets=LATENCY_BUCKETS, registry=REGISTRY)
FIRST_EVENT_SECONDS = Histogram("chatkit_turn_first_event_seconds",
                                "Time from request to the turn's first streamed event.", ["agent"],
                                buckets=LATENCY_BUCKETS, registry=REGISTRY)
TOKENS = Counter("chatkit_model_tokens", "Model tokens by model and kind (input, output).",
                 ["model", "kind"], registry=REGISTRY)
MODEL_CALLS = Counter("chatkit_model_calls", "Model calls by model.", ["model"], registry=REGISTRY)
TOOL_CALLS = Counter("chatkit_tool_calls", "Tool calls by tool and outcome (ok, error).",
                     ["tool", "outcome"], registry=REGISTRY)
GUARDRAIL_TRIPS = Counter("chatkit_guardrail_trips",
                          "Guardrail tripwires by agent, stage (input, output) and check.",
                          ["agent", "stage", "check"], registry=REGISTRY)
RELOADS = Counter("chatkit_reloads", "Configuration reloads by outcome (ok, error).", ["outcome"],
                  registry=REGISTRY)
# livesum: the streams open in the workers alive now; a dead worker's streams are not open.
OPEN_STREAMS = Gauge("chatkit_open_streams", "Streamed responses in progress.",
                     multiprocess_mode="livesum", registry=REGISTRY)


def request_finished(request_type: str, outcome: str, seconds: float) -> None:
    REQUESTS.labels(request_type, outcome).inc()
    REQUEST_SECONDS.labels(request_type).observe(seconds)


def turn_finished(agent: str, seconds: float, first_event_seconds: float | None) -> None:
    TURN_SECONDS.labels(agent).observe(seconds)
    if first_event_seconds is not None:
        FIRST_EVENT_SECONDS.labels(agent).observe(first_event_seconds)


def model_called(model: str) -> None:
    """Count a model call as it starts: one cancelled by a disconnect reports no usage (#18)."""
    MODEL_CALLS.labels(model).inc()


def tokens_used(model: str, input_tokens: int, output_tokens: int) -> None:
    TOKENS.labels(model, "input").inc(input_tokens)
    TOKENS.labels(model, "output").inc(output_tokens)


def tool_called(tool: str, ok: bool) -> None:
    TOOL_CALLS.labels(tool, "ok" if ok else "error").inc()


def guardrail_tripped(agent: str, stage: str, check: str) -> None:
    GUARDRAIL_TRIPS.labels(agent, stage, check).inc()


def reload_finished(ok: bool) -> None:
    """Count a configuration reload; the reloader calls it once per attempt."""
    RELOADS.labels("ok" if ok else "error").inc()


def stream_opened() -> None:
    OPEN_STREAMS.inc()


def stream_closed() -> None:
    OPEN_STREAMS.dec()


def render() -> bytes:
    """The Prometheus text exposition: this process's metrics, or every worker's in multiprocess
    mode."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return generate_latest(REGISTRY)
    _forget_dead_workers(directory)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return generate_latest(registry)


_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def _forget_dead_workers(directory: str) -> None:
    """Drop the live gauges of workers that are gone (uvicorn replaces a worker that dies, and has
    no hook to say so): their open streams closed with them. Their counters stay in the totals."""
    for path in glob.glob(os.path.join(directory, "gauge_live*.db")):
        match = _LIVE_GAUGE_FILE.search(os.path.basename(path))
        if match and not _alive(int(match.group(1))):
            mark_process_dead(int(match.group(1)), directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process took the number: not one of ours, but alive
        return True
    return True
