"""Hot reload: the time from saving a file to the new configuration serving.

    python -m bench.reload              # 20 edits per row
    python -m bench.reload --edits 50

For each project, `chatkit-host serve --reload` runs as a real process; each edit saves a file (a
changed instruction file or widget) and the clock stops when `GET /healthz` shows a new
`config_version`, polled over one keep-alive connection every 2 ms. That is what a user waits for:
watchfiles noticing the save (its step is 25 ms of quiet, see `chatkit_host/reload.py`), loading and
building the new runtime in a thread, and the swap. Two projects: the example (the repository's
chatkit.yaml) and a generated one with 10 agents and 50 widgets.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent


def example_project(root: Path) -> None:
    for name in ("chatkit.yaml", "demo.yaml"):
        shutil.copy(REPO / name, root / name)
    for folder in ("agents", "tools", "widgets"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, root / folder)


def generated_project(root: Path, agents: int = 10, widgets: int = 50) -> None:
    """`agents` agents handing off to each other, each with its own instruction file, and
    `widgets` widget templates, each shown by a widget tool of one of the agents."""
    card = json.loads((REPO / "widgets/order_card.widget").read_text())
    (root / "widgets").mkdir()
    (root / "agents").mkdir()
    for number in range(widgets):
        widget = {**card, "name": f"Card {number}"}
        (root / f"widgets/card{number:02}.widget").write_text(json.dumps(widget, indent=2))
    names = [f"agent{number}" for number in range(agents)]
    for name in names:
        (root / f"agents/{name}.md").write_text(f"You are {name} of {{{{ vars.company }}}}.\n")
    shutil.copy(REPO / "demo.yaml", root / "demo.yaml")
    config = {
        "version": 1,
        "store": {"url": "sqlite:///.chatkit/chatkit.db"},
        "models": {"default": "demo/offline", "providers": {"demo": {"scripted": "demo.yaml"}}},
        "agents": {
            name: {
                "instructions": f"agents/{name}.md",
                "handoffs": [other for other in names if other != name][:3],
                "tools": [f"show_card{n:02}" for n in range(widgets) if n % agents == index],
            }
            for index, name in enumerate(names)
        },
        "entry": names[0],
        "tools": {f"show_card{n:02}": {"widget": f"card{n:02}"} for n in range(widgets)},
        "vars": {"company": "Acme"},
    }
    (root / "chatkit.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def append_line(path: Path) -> Callable[[int], None]:
    original = path.read_text()
    return lambda number: path.write_text(f"{original}\nEdit {number}.\n")


def retitle_widget(path: Path) -> Callable[[int], None]:
    widget = json.loads(path.read_text())
    return lambda number: path.write_text(json.dumps({**widget, "name": f"Edit {number}"}, indent=2))


@contextmanager
def serving(root: Path) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (root / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "chatkit_host", "serve", "--reload", "--port", str(port),
         "--log-level", "warning"],
        cwd=root, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PORT": str(port)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):  # up to 60 s on a busy machine
            if process.poll() is not None:
                raise SystemExit(f"serve exited:\n{(root / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
        log.close()


def save_to_serving(base: str, edit: Callable[[int], None], edits: int) -> list[float]:
    """Milliseconds from each save to /healthz showing the new version."""
    times = []
    with httpx.Client(base_url=base, timeout=5) as http:
        for number in range(edits):
            before = http.get("/healthz").json()["config_version"]
            started = time.perf_counter()
            edit(number)
            while True:
                body = http.get("/healthz").json()
                if body["config_version"] != before:
                    break
                if body["last_error"]:
                    raise SystemExit(f"the edit broke the configuration: {body['last_error']}")
                if time.perf_counter() - started > 10:
                    raise SystemExit("no reload within 10 s")
                time.sleep(0.002)
            times.append((time.perf_counter() - started) * 1000)
            time.sleep(0.1)  # let the watcher settle; edits a user makes are seconds apart
    return times


ROWS = [
    ("example", example_project, "agents/triage.md", append_line),
    ("10 agents, 50 widgets", generated_project, "agents/agent3.md", append_line),
    ("10 agents, 50 widgets", generated_project, "widgets/card17.widget", retitle_widget),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    args = parser.parse_args(argv)
    print(f"{'project':<24} {'file saved':<24} {'median ms':>9} {'p90 ms':>7} {'max ms':>7}")
    for label, make, file, editor in ROWS:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            make(root)
            with serving(root) as base:
                times = sorted(save_to_serving(base, editor(root / file), args.edits))
        p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
        print(f"{label:<24} {file:<24} {statistics.median(times):>9.0f} {p90:>7.0f} {times[-1]:>7.0f}")
    return 0


if __name__ == "__main__":
    if __package__ in (None, ""):  # `python bench/reload.py`
        sys.path.insert(0, str(REPO))
    sys.exit(main())
