"""Prometheus metrics, kept in memory per process and written in the text exposition format.

Each process counts what it served; with several workers or replicas, each exposes its own numbers
at `GET /metrics` and Prometheus adds them up. Recording is a dict update under a lock — nothing on
the request path waits for a scrape, a file or the network.

What a caller may rely on: the module-level functions below (`request_finished`, `turn_finished`,
`tokens_used`, `tool_called`, `guardrail_tripped`, `reload_finished`, `stream_opened`/`stream_closed`)
never raise, and `render()` returns the whole exposition.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
"""Seconds: from a few milliseconds (scripted models, refusals) to minutes (long tool runs)."""

Labels = tuple[str, ...]


class _Metric:
    kind = ""

    def __init__(self, name: str, help: str, labels: Sequence[str] = ()):
        self.name, self.help, self.labels = name, help, tuple(labels)
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def _labels(self, values: Labels, extra: str = "") -> str:
        pairs = [f'{k}="{_escape(v)}"' for k, v in zip(self.labels, values)]
        if extra:
            pairs.append(extra)
        return "{" + ",".join(pairs) + "}" if pairs else ""


class Counter(_Metric):
    """A number that only goes up (until the process restarts)."""

    kind = "counter"

    def __init__(self, name: str, help: str, labels: Sequence[str] = ()):
        super().__init__(name, help, labels)
        self._values: dict[Labels, float] = {}

    def inc(self, *labels: str, amount: float = 1) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0)

    def lines(self) -> list[str]:
        with self._lock:
            values = sorted(self._values.items())
        return [f"{self.name}{self._labels(k)} {_number(v)}" for k, v in values]


class Gauge(Counter):
    """A number that goes up and down."""

    kind = "gauge"

    def dec(self, *labels: str) -> None:
        self.inc(*labels, amount=-1)

    def lines(self) -> list[str]:
        # A gauge without labels reads 0 before anything happened, rather than being absent.
        return super().lines() or ([f"{self.name} 0"] if not self.labels else [])


class Histogram(_Metric):
    """Observations counted into cumulative buckets, with their sum and count."""

    kind = "histogram"

    def __init__(self, name: str, help: str, labels: Sequence[str] = (),
                 buckets: Sequence[float] = LATENCY_BUCKETS):
        super().__init__(name, help, labels)
        self.buckets = tuple(buckets)
        self._series: dict[Labels, list[float]] = {}  # bucket counts…, sum, count

    def observe(self, value: float, *labels: str) -> None:
        with self._lock:
            series = self._series.setdefault(labels, [0.0] * (len(self.buckets) + 2))
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    series[i] += 1
            series[-2] += value
            series[-1] += 1

    def lines(self) -> list[str]:
        with self._lock:
            series = sorted((k, list(v)) for k, v in self._series.items())
        out: list[str] = []
        for labels, values in series:
            for bound, count in zip(self.buckets, values):
                le = self._labels(labels, f'le="{_number(bound)}"')
                out.append(f"{self.name}_bucket{le} {_number(count)}")
            inf = self._labels(labels, 'le="+Inf"')
            out.append(f"{self.name}_bucket{inf} {_number(values[-1])}")
            out.append(f"{self.name}_sum{self._labels(labels)} {_number(values[-2])}")
            out.append(f"{self.name}_count{self._labels(labels)} {_number(values[-1])}")
        return out


REQUESTS = Counter("chatkit_requests_total", "ChatKit requests by type and outcome.",
                   ["type", "outcome"])
REQUEST_SECONDS = Histogram("chatkit_request_duration_seconds",
                            "Time from request to the end of its response, by type.", ["type"])
TURN_SECONDS = Histogram("chatkit_turn_duration_seconds",
                         "Time an agent turn took, from request to last event.", ["agent"])
FIRST_EVENT_SECONDS = Histogram("chatkit_turn_first_event_seconds",
                                "Time from request to the turn's first streamed event.", ["agent"])
TOKENS = Counter("chatkit_model_tokens_total", "Model tokens by model and kind (input, output).",
                 ["model", "kind"])
MODEL_CALLS = Counter("chatkit_model_calls_total", "Model calls by model.", ["model"])
TOOL_CALLS = Counter("chatkit_tool_calls_total", "Tool calls by tool and outcome (ok, error).",
                     ["tool", "outcome"])
GUARDRAIL_TRIPS = Counter("chatkit_guardrail_trips_total",
                          "Guardrail tripwires by agent, stage (input, output) and check.",
                          ["agent", "stage", "check"])
RELOADS = Counter("chatkit_reloads_total", "Configuration reloads by outcome (ok, error).",
                  ["outcome"])
OPEN_STREAMS = Gauge("chatkit_open_streams", "Streamed responses in progress.")

ALL: tuple[Counter | Histogram, ...] = (
    REQUESTS, REQUEST_SECONDS, TURN_SECONDS, FIRST_EVENT_SECONDS, TOKENS, MODEL_CALLS,
    TOOL_CALLS, GUARDRAIL_TRIPS, RELOADS, OPEN_STREAMS,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def request_finished(request_type: str, outcome: str, seconds: float) -> None:
    REQUESTS.inc(request_type, outcome)
    REQUEST_SECONDS.observe(seconds, request_type)


def turn_finished(agent: str, seconds: float, first_event_seconds: float | None) -> None:
    TURN_SECONDS.observe(seconds, agent)
    if first_event_seconds is not None:
        FIRST_EVENT_SECONDS.observe(first_event_seconds, agent)


def tokens_used(model: str, input_tokens: int, output_tokens: int) -> None:
    MODEL_CALLS.inc(model)
    TOKENS.inc(model, "input", amount=input_tokens)
    TOKENS.inc(model, "output", amount=output_tokens)


def tool_called(tool: str, ok: bool) -> None:
    TOOL_CALLS.inc(tool, "ok" if ok else "error")


def guardrail_tripped(agent: str, stage: str, check: str) -> None:
    GUARDRAIL_TRIPS.inc(agent, stage, check)


def reload_finished(ok: bool) -> None:
    """Count a configuration reload; the reloader calls it once per attempt."""
    RELOADS.inc("ok" if ok else "error")


def stream_opened() -> None:
    OPEN_STREAMS.inc()


def stream_closed() -> None:
    OPEN_STREAMS.dec()


def render(metrics: Iterable[Counter | Histogram] = ALL) -> str:
    """The Prometheus text exposition of ``metrics``."""
    lines: list[str] = []
    for metric in metrics:
        lines += metric.header() + metric.lines()
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))
