"""Run every benchmark, host and baseline side by side, and print the results table.

    python -m bench            # the full run (several minutes)
    python -m bench --quick    # about a minute: fewer rounds, smaller stores and fewer streams
    python -m bench --only streamed,reads

Rounds are interleaved (host, baseline, then baseline, host, …) so that a noisy neighbour hurts
both sides alike; every figure is the median over rounds. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import cold_start, memory, reads, streamed, sweep  # noqa: E402
from bench.report import Report, machine  # noqa: E402
from bench.seed import seed  # noqa: E402
from bench.servers import SIDES, running, write_project  # noqa: E402
from bench.stats import median  # noqa: E402

T = TypeVar("T")
WORKLOADS = ("streamed", "sweep", "reads", "memory", "cold_start")


@dataclass(frozen=True)
class Settings:
    concurrency: int
    turns: int
    stream_rounds: int
    sizes: tuple[tuple[int, int], ...]
    """(threads, items) of each store the reads run against, smallest first."""
    requests: int
    read_rounds: int
    streams: int
    memory_rounds: int
    start_rounds: int
    sweep_levels: tuple[int, ...] = (1, 8, 16, 32, 64)
    """Conversations at once in the concurrency sweep."""
    sweep_turns: int = 50
    """Turns each sweep conversation grows its thread to."""
    paced_sweep_turns: int = 10
    """The same from the paced model, whose turns take a second or more each."""


FULL = Settings(concurrency=8, turns=120, stream_rounds=5,
                sizes=((100, 100), (1_000, 1_000), (100_000, 10_000)), requests=100,
                read_rounds=5, streams=1_000, memory_rounds=1, start_rounds=5)
QUICK = Settings(concurrency=8, turns=40, stream_rounds=2,
                 sizes=((1_000, 1_000), (10_000, 10_000)), requests=20,
                 read_rounds=2, streams=200, memory_rounds=1, start_rounds=2,
                 sweep_levels=(1, 8, 32), sweep_turns=20, paced_sweep_turns=5)

OFF = "host, coalesce_ms: 0"


def alternating(rounds: int, sides: tuple[T, ...]) -> Iterator[T]:
    """Each round visits every side; the order rotates from round to round."""
    for number in range(rounds):
        shift = number % len(sides)
        yield from sides[shift:] + sides[:shift]


def run_streamed(settings: Settings, work: Path, report: Report) -> None:
    project = write_project(work / "streamed", streamed.SCRIPT)
    off = write_project(work / "streamed-off", streamed.SCRIPT, coalesce_ms=0)
    rounds: dict[str, list[streamed.Round]] = {}
    follow_ups: dict[str, list[streamed.Round]] = {}
    with ExitStack() as stack:
        servers = stack.enter_context(running(project))
        servers[OFF] = stack.enter_context(running(off, ("host",)))["host"]
        for server in servers.values():  # warm-up, not counted
            asyncio.run(streamed.run_round(server, settings.concurrency, settings.concurrency))
        for side in alternating(settings.stream_rounds, tuple(servers)):
            result = asyncio.run(streamed.run_round(servers[side], settings.concurrency,
                                                    settings.turns))
            rounds.setdefault(side, []).append(result)
            _progress(f"streamed {side}: {result.turns_per_s:.1f} turns/s")
            if side == OFF:
                continue
            result = asyncio.run(streamed.run_round(servers[side], settings.concurrency,
                                                    settings.turns, follow_up=True))
            follow_ups.setdefault(side, []).append(result)
            _progress(f"streamed follow-ups {side}: {result.turns_per_s:.1f} turns/s")

    def figure(side: str, pick: Callable[[streamed.Round], float]) -> float:
        return median([pick(r) for r in rounds[side]])

    section = f"(a) streamed turns, {settings.concurrency} at once, 200 deltas each"
    _add_figures(report, section, rounds, ("turns per second", "time to first event p50",
                 "time to first event p99", "time to last event p50", "time to last event p99",
                 "server CPU per turn", "SSE events per turn"))
    report.add(section, "turns per second, host with `coalesce_ms: 0`",
               figure(OFF, lambda r: r.turns_per_s), figure("baseline", lambda r: r.turns_per_s),
               "/s", True)
    report.add(section, "server CPU per turn, host with `coalesce_ms: 0`",
               figure(OFF, lambda r: r.cpu_ms_per_turn),
               figure("baseline", lambda r: r.cpu_ms_per_turn), "ms", False)
    section = f"(a) follow-up turns: the next message on each of {settings.concurrency} threads"
    followed = {side: median([r.first_p99_ms for r in follow_ups[side]]) for side in follow_ups}
    _add_figures(report, section, follow_ups, ("turns per second", "time to first event p50",
                 "time to first event p99", "time to last event p99", "server CPU per turn"))
    run_paced(settings, work, report)
    speed = figure("host", lambda r: r.turns_per_s) / figure("baseline", lambda r: r.turns_per_s)
    report.check("streamed-turn throughput ≥ 1.5× baseline", speed >= 1.5, f"{speed:.2f}×")
    report.check("streamed-turn throughput floor ≥ 0.95× baseline", speed >= 0.95, f"{speed:.2f}×")
    first = (figure("host", lambda r: r.first_p99_ms), figure("baseline", lambda r: r.first_p99_ms))
    report.check("p99 time to first event no worse than baseline", first[0] <= first[1],
                 f"{first[0]:.0f} ms vs {first[1]:.0f} ms")
    report.check("p99 time to first event of follow-up turns no worse than baseline",
                 followed["host"] <= followed["baseline"],
                 f"{followed['host']:.0f} ms vs {followed['baseline']:.0f} ms")


def run_paced(settings: Settings, work: Path, report: Report) -> None:
    """The streamed turns again from a model that pauses between deltas: what a flush window buys
    when the text does not arrive all at once."""
    project = write_project(work / "streamed-paced", streamed.PACED_SCRIPT)
    rounds: dict[str, list[streamed.Round]] = {}
    turns = max(settings.concurrency, settings.turns // 2)  # each turn takes a second or more
    with running(project) as servers:
        for side in alternating(settings.stream_rounds, tuple(servers)):
            result = asyncio.run(streamed.run_round(servers[side], settings.concurrency, turns))
            rounds.setdefault(side, []).append(result)
            _progress(f"streamed, paced model, {side}: {result.cpu_ms_per_turn:.1f} ms CPU per turn")
    section = (f"(a) the same, the model pausing {streamed.PACE_MS} ms between deltas "
               f"({settings.concurrency} at once)")
    _add_figures(report, section, rounds, ("turns per second", "time to last event p50",
                 "server CPU per turn", "SSE events per turn"))


FIGURES: dict[str, tuple[Callable[[streamed.Round], float], str, bool]] = {
    "turns per second": (lambda r: r.turns_per_s, "/s", True),
    "time to first event p50": (lambda r: r.first_p50_ms, "ms", False),
    "time to first event p99": (lambda r: r.first_p99_ms, "ms", False),
    "time to last event p50": (lambda r: r.last_p50_ms, "ms", False),
    "time to last event p99": (lambda r: r.last_p99_ms, "ms", False),
    "server CPU per turn": (lambda r: r.cpu_ms_per_turn, "ms", False),
    "SSE events per turn": (lambda r: r.events_per_turn, "", False),
}
"""A streamed round's figures: how to read each off a round, its unit, whether higher is better."""


def _add_figures(report: Report, section: str, rounds: dict[str, list[streamed.Round]],
                 labels: tuple[str, ...]) -> None:
    """One row per figure: the median over rounds, host against baseline."""
    for label in labels:
        pick, unit, higher = FIGURES[label]
        report.add(section, label, median([pick(r) for r in rounds["host"]]),
                   median([pick(r) for r in rounds["baseline"]]), unit, higher)


def run_sweep(settings: Settings, work: Path, report: Report) -> None:
    """Follow-up turns on threads that grow, at every concurrency of the sweep; host and
    baseline alternate at each level (who goes first rotates), then the same from the paced model."""
    for paced, script, turns in ((False, streamed.SCRIPT, settings.sweep_turns),
                                 (True, streamed.PACED_SCRIPT, settings.paced_sweep_turns)):
        project = write_project(work / ("sweep-paced" if paced else "sweep"), script)
        model = f", model pausing {streamed.PACE_MS} ms between deltas" if paced else ""
        with running(project) as servers:
            for level_index, level in enumerate(settings.sweep_levels):
                results: dict[str, list[sweep.Sweep]] = {}
                for side in alternating(1, SIDES[level_index % 2:] + SIDES[:level_index % 2]):
                    result = asyncio.run(sweep.run_round(servers[side], level, turns))
                    results.setdefault(side, []).append(result)
                    _progress(f"sweep{' paced' if paced else ''} {level} x {turns} {side}: "
                              f"p50 first {result.first_p50_ms:.1f} ms, "
                              f"{result.turns_per_s:.1f} turns/s")
                section = f"(f) {level} conversations growing threads to {turns} turns{model}"
                _add_sweep(report, section, results, paced)


SWEEP_FIGURES: dict[str, tuple[Callable[[sweep.Sweep], float], str, bool]] = {
    "time to first event p50": (lambda r: r.first_p50_ms, "ms", False),
    "time to first event p99": (lambda r: r.first_p99_ms, "ms", False),
    "turns per second": (lambda r: r.turns_per_s, "/s", True),
    "server CPU per turn": (lambda r: r.cpu_ms_per_turn, "ms", False),
}


def _add_sweep(report: Report, section: str, results: dict[str, list[sweep.Sweep]],
               paced: bool) -> None:
    host, baseline = results["host"], results["baseline"]
    for label, (pick, unit, higher) in SWEEP_FIGURES.items():
        report.add(section, label, median([pick(r) for r in host]),
                   median([pick(r) for r in baseline]), unit, higher)
    report.add(section, "first-event growth, last ÷ first fifth of the thread",
               median([r.growth for r in host]), median([r.growth for r in baseline]), "×", False,
               ratio=False)
    for label in ("time to first event p50", "time to first event p99"):
        pick = SWEEP_FIGURES[label][0]
        ratio = median([pick(r) for r in host]) / median([pick(r) for r in baseline])
        report.check(f"{section}: {label} ≤ 0.7× baseline", ratio <= 0.7, f"{ratio:.2f}×")
    level = host[0].concurrency
    if paced:
        ratio = median([r.cpu_ms_per_turn for r in host]) / median([r.cpu_ms_per_turn for r in baseline])
        report.check(f"{section}: server CPU per turn ≤ 0.6× baseline", ratio <= 0.6, f"{ratio:.2f}×")
    elif level >= 8:
        ratio = median([r.turns_per_s for r in host]) / median([r.turns_per_s for r in baseline])
        report.check(f"{section}: throughput ≥ 1.5× baseline", ratio >= 1.5, f"{ratio:.2f}×")
    growth = (median([r.growth for r in host]), median([r.growth for r in baseline]))
    report.check(f"{section}: first event grows no faster than the baseline's", growth[0] <= growth[1],
                 f"{growth[0]:.2f}× vs {growth[1]:.2f}×")


def run_reads(settings: Settings, work: Path, report: Report) -> None:
    latencies: dict[tuple[str, int, str], float] = {}
    cpu: dict[tuple[str, int, str], float] = {}
    projects = {}
    for threads, items in settings.sizes:
        projects[threads] = write_project(work / f"reads-{threads}", streamed.SCRIPT)
        _progress(f"seeding {threads:,} threads, {items:,} items")
        seed(projects[threads].host_db, projects[threads].baseline_db, threads, items)
    with ExitStack() as stack:
        # Every size is served at once and the rounds rotate over sizes and sides alike, so a
        # change in machine load cannot pass for growth with the store's size.
        servers = {(side, threads): server
                   for threads, project in projects.items()
                   for side, server in stack.enter_context(running(project)).items()}
        for (side, threads), server in servers.items():
            items = dict(settings.sizes)[threads]
            for body in reads.operations(threads, items).values():
                reads.check(server, body)
        for name in reads.operations(1, 1):
            samples: dict[tuple[str, int], list[float]] = {}
            for key in alternating(settings.read_rounds, tuple(servers)):
                side, threads = key
                body = reads.operations(threads, dict(settings.sizes)[threads])[name]
                samples.setdefault(key, []).append(
                    reads.run_round(servers[key], body, settings.requests))
            for (side, threads), values in samples.items():
                latencies[(side, threads, name)] = median([latency for latency, _ in values])
                cpu[(side, threads, name)] = median([used for _, used in values])
    sizes = settings.sizes
    for name in reads.operations(1, 1):
        section = f"(b) {name} (20 per page)"
        for threads, items in sizes:
            store = f"{threads:,} threads" if name.startswith("threads") else f"{items:,} items"
            report.add(section, f"store of {store}", latencies[("host", threads, name)],
                       latencies[("baseline", threads, name)], "ms", False)
        (mid_t, mid_i), (big_t, big_i) = sizes[-2], sizes[-1]
        label = (f"{big_t:,} ÷ {mid_t:,} threads" if name.startswith("threads")
                 else f"{big_i:,} ÷ {mid_i:,} items")
        report.add(section, f"growth {label}",
                   latencies[("host", big_t, name)] / latencies[("host", mid_t, name)],
                   latencies[("baseline", big_t, name)] / latencies[("baseline", mid_t, name)],
                   "×", False, ratio=False)
        report.add(section, f"server CPU per request, {label.split(' ÷ ')[0]} {label.split()[-1]}",
                   cpu[("host", big_t, name)], cpu[("baseline", big_t, name)], "ms", False)
        report.add(section, f"server CPU growth {label}",
                   cpu[("host", big_t, name)] / cpu[("host", mid_t, name)],
                   cpu[("baseline", big_t, name)] / cpu[("baseline", mid_t, name)],
                   "×", False, ratio=False)
        growth = latencies[("host", big_t, name)] / latencies[("host", mid_t, name)]
        report.check(f"{name} flat in store size (≤ 1.5×)", growth <= 1.5, f"{label}: {growth:.2f}×")


def run_memory(settings: Settings, work: Path, report: Report) -> None:
    project = write_project(work / "memory", memory.SCRIPT)
    results: dict[str, list[dict[str, float]]] = {}
    for side in alternating(settings.memory_rounds, SIDES):
        with running(project, (side,)) as servers:  # a fresh process each round
            result = memory.run_round(servers[side], settings.streams)
        results.setdefault(side, []).append(result)
        _progress(f"memory {side}: {result['kb_per_stream']:.0f} KB per stream")
    section = f"(c) memory, {settings.streams:,} idle open streams"
    for key, label, unit in (("before_mb", "RSS before", "MB"), ("after_mb", "RSS with the streams open", "MB"),
                             ("kb_per_stream", "RSS per idle open stream", "KB"),
                             ("open_s", "time to open them all", "s")):
        report.add(section, label, median([r[key] for r in results["host"]]),
                   median([r[key] for r in results["baseline"]]), unit, False)
    per_stream = median([r["kb_per_stream"] for r in results["host"]])
    report.check("≤ 50 KB RSS per idle open stream", per_stream <= 50, f"{per_stream:.0f} KB")


def run_cold_start(settings: Settings, work: Path, report: Report) -> None:
    project = write_project(work / "cold-start", streamed.SCRIPT)
    with running(project):  # create both databases first: a restart, not a first install
        pass
    cold_start.compile_sources()
    timings: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for side in alternating(settings.start_rounds, SIDES):
        elapsed, used = cold_start.run_round(side, project)
        timings.setdefault(side, []).append(elapsed)
        cpu.setdefault(side, []).append(used)
    report.add("(d) cold start", "launch to first 200 on /healthz",
               median(timings["host"]), median(timings["baseline"]), "s", False)
    report.add("(d) cold start", "server CPU until then",
               median(cpu["host"]), median(cpu["baseline"]), "s", False)
    start = median(timings["host"])
    report.check("cold start ≤ 1.5 s", start <= 1.5, f"{start:.2f} s")


RUNNERS = {"streamed": run_streamed, "sweep": run_sweep, "reads": run_reads, "memory": run_memory,
           "cold_start": run_cold_start}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a minute; smaller everything")
    parser.add_argument("--only", default=",".join(WORKLOADS),
                        help=f"comma-separated subset of {', '.join(WORKLOADS)}")
    parser.add_argument("--workdir", type=Path, help="keep projects, databases and logs here")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in RUNNERS]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    settings = QUICK if args.quick else FULL
    report = Report()
    with tempfile.TemporaryDirectory(prefix="chatkit-bench-") as temporary:
        work = args.workdir or Path(temporary)
        for name in chosen:
            _progress(f"== {name}")
            RUNNERS[name](settings, work, report)
    print(f"\n{machine()}; {'--quick' if args.quick else 'full run'}\n")
    print(report.markdown())
    print()
    print(report.targets())
    print("\n(e) reload latency: python -m bench.reload (see bench/README.md)")
    return 0


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
