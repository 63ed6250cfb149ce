"""`server.static`: the app's own pages served beside the endpoint (#15)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatkit_host.config.loader import load_config
from chatkit_host.errors import ConfigError
from chatkit_host.testing import run_host
from projects import base_config, write_project

PAGE = "<!doctype html><title>Panel</title><script src='panel.js'></script>\n"


def _config(static: dict[str, str]) -> dict[str, Any]:
    config = base_config()
    config["server"] = {"static": static}
    return config


async def test_a_folder_is_served_under_its_path(tmp_path: Path) -> None:
    path = write_project(tmp_path / "project", _config({"/panel": "page"}),
                         files={"page/index.html": PAGE, "page/panel.js": "console.log('hi');\n"})
    (tmp_path / "secret.txt").write_text("not for the web")
    async with run_host(path) as running:
        client = running.http
        index = await client.get("/panel/")
        assert (index.status_code, index.text) == (200, PAGE)
        assert index.headers["content-type"].startswith("text/html")
        script = await client.get("/panel/panel.js")
        assert (script.status_code, script.text) == (200, "console.log('hi');\n")
        assert (await client.get("/panel/missing.js")).status_code == 404
        assert (await client.get("/panel/../../secret.txt")).status_code == 404
        assert (await client.get("/panel/%2e%2e/%2e%2e/secret.txt")).status_code == 404
        # the host's own routes are still there
        assert (await client.get("/healthz")).status_code == 200


def _problems(tmp_path: Path, static: dict[str, str], files: dict[str, str] | None = None) -> list[str]:
    path = write_project(tmp_path, _config(static), files=files)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    return [problem.render(tmp_path) for problem in error.value.problems]


def _line(tmp_path: Path, text: str) -> int:
    lines = (tmp_path / "chatkit.yaml").read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def test_a_missing_folder_or_a_clash_is_a_located_error(tmp_path: Path) -> None:
    problems = _problems(tmp_path, {"/panel": "pages"})
    assert problems == [f"chatkit.yaml:{_line(tmp_path, '/panel:')}:13: server.static./panel: folder pages not found "
                        "(hint: paths are relative to chatkit.yaml)"]
    problems = _problems(tmp_path, {"/chatkit": "page", "/healthz": "page"}, files={"page/index.html": PAGE})
    assert problems == [
        f"chatkit.yaml:{_line(tmp_path, '/chatkit:')}:15: server.static./chatkit: /chatkit would hide the ChatKit "
        "endpoint (hint: serve the folder under another path)",
        f"chatkit.yaml:{_line(tmp_path, '/healthz:')}:15: server.static./healthz: /healthz would hide the health "
        "route (hint: serve the folder under another path)",
    ]
    problems = _problems(tmp_path, {"/": "page", "/a b": "page"}, files={"page/index.html": PAGE})
    assert problems == [
        f"chatkit.yaml:{_line(tmp_path, 'static:')}:3: server.static: '/', '/a b' are not a URL path below the root: "
        "write one like /app (letters, digits, '.', '_', '-' and '/')"]
