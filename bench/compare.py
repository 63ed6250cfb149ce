"""Before and after: the host from several checkouts, and the baseline, in one interleaved run.

    python -m bench.compare --tree before=/path/to/old/checkout --tree after=.
    python -m bench.compare --tree before=../old --tree after=. --only cold_start --rounds 9

A change's effect on start-up or on streamed turns is a few percent, and this machine's speed
moves by more than that from minute to minute; two separate `python -m bench` runs cannot tell
them apart. Here every side runs in every round, in an order that rotates, against the same
projects, and every figure is the median over rounds:

- **cold start**: a fresh process on an existing project until `/healthz` answers 200, and the
  CPU it used by then (each checkout byte-compiled first, as an install is);
- **streamed turns**: 8 conversations at once, 40 turns a round, new threads (200 deltas, no
  pause); **follow-ups**, the same as the next message on each conversation's thread (its history
  loaded, the thread leased, the user's message written before the first event); and new threads
  from the model pausing 5 ms between deltas (**paced**). Turns per second, time to first event
  and server CPU per turn.

Each checkout runs with its own code (`PYTHONPATH` and working directory) and this one's Python
environment, so the dependencies are the same on every side.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

if __package__ in (None, ""):  # `python bench/compare.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import streamed  # noqa: E402
from bench.report import machine  # noqa: E402
from bench.servers import Project, Server, launch, stop, wait_healthy, write_project  # noqa: E402
from bench.stats import median  # noqa: E402

BASELINE = "baseline"
WORKLOADS = ("cold_start", "streamed", "followups", "paced")


@contextmanager
def serving(trees: dict[str, Path], project: Project) -> Iterator[dict[str, Server]]:
    servers: dict[str, Server] = {}
    try:
        for side, tree in trees.items():
            servers[side] = launch(side, project, tree)
            wait_healthy(servers[side])
        yield servers
    finally:
        for server in servers.values():
            stop(server)


def rotations(sides: list[str], rounds: int) -> Iterator[str]:
    for number in range(rounds):
        shift = number % len(sides)
        yield from sides[shift:] + sides[:shift]



def cold_start(trees: dict[str, Path], work: Path, rounds: int) -> dict[str, dict[str, float]]:
    project = write_project(work / "cold-start", streamed.SCRIPT)
    for tree in set(trees.values()):
        for folder in ("chatkit_host", "bench"):
            compileall.compile_dir(tree / folder, quiet=1)
    with serving(trees, project):  # the databases exist: a restart, not a first install
        pass
    samples: dict[str, list[tuple[float, float]]] = {side: [] for side in trees}
    for side in rotations(list(trees), rounds):
        server = launch(side, project, trees[side])
        try:
            elapsed = wait_healthy(server)
            samples[side].append((elapsed, server.cpu_seconds()))
        finally:
            stop(server)
    return {side: {"launch to first 200 on /healthz (s)": median([s[0] for s in rows]),
                   "server CPU until then (s)": median([s[1] for s in rows])}
            for side, rows in samples.items()}


def turns(trees: dict[str, Path], work: Path, rounds: int, paced: bool,
          follow_up: bool = False) -> dict[str, dict[str, float]]:
    name = "streamed-paced" if paced else "streamed"
    project = write_project(work / name, streamed.PACED_SCRIPT if paced else streamed.SCRIPT)
    results: dict[str, list[streamed.Round]] = {side: [] for side in trees}
    with serving(trees, project) as servers:
        for side in rotations(list(trees), rounds):
            results[side].append(asyncio.run(streamed.run_round(servers[side], 8, 40, follow_up)))
    return {side: {"turns per second": median([r.turns_per_s for r in rows]),
                   "time to first event p50 (ms)": median([r.first_p50_ms for r in rows]),
                   "time to first event p99 (ms)": median([r.first_p99_ms for r in rows]),
                   "server CPU per turn (ms)": median([r.cpu_ms_per_turn for r in rows])}
            for side, rows in results.items()}


def table(title: str, figures: dict[str, dict[str, float]]) -> str:
    sides = list(figures)
    lines = [f"| {title} | " + " | ".join(sides) + " |", "|---|" + "---:|" * len(sides)]
    for label in next(iter(figures.values())):
        cells = []
        for side in sides:
            value = figures[side][label]
            cell = f"{value:.3g}"
            if BASELINE in figures and side != BASELINE:
                cell += f" ({value / figures[BASELINE][label]:.2f}×)"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", required=True, metavar="NAME=PATH",
                        help="a checkout of the host to run, named for the table (repeatable)")
    parser.add_argument("--only", default=",".join(WORKLOADS), help=f"any of {', '.join(WORKLOADS)}")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per workload (default 5)")
    parser.add_argument("--no-baseline", action="store_true", help="hosts only")
    args = parser.parse_args()
    trees = {name: Path(path).resolve() for name, _, path in (t.partition("=") for t in args.tree)}
    if not args.no_baseline:
        trees[BASELINE] = Path(__file__).resolve().parent.parent
    only = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = set(only) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    print(f"{machine()}; {args.rounds} rounds, sides rotating", flush=True)
    with tempfile.TemporaryDirectory(prefix="chatkit-compare-") as work:
        if "cold_start" in only:
            print("\n" + table("cold start", cold_start(trees, Path(work), args.rounds)), flush=True)
        if "streamed" in only:
            print("\n" + table("streamed turns, 8 at once", turns(trees, Path(work), args.rounds, False)),
                  flush=True)
        if "followups" in only:
            print("\n" + table("follow-up turns, 8 threads at once",
                               turns(trees, Path(work), args.rounds, False, follow_up=True)), flush=True)
        if "paced" in only:
            print("\n" + table("the same, the model pausing 5 ms between deltas",
                               turns(trees, Path(work), args.rounds, True)), flush=True)


if __name__ == "__main__":
    main()
