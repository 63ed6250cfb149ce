"""The command line: validate, init, schema and serve's safety checks."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from chatkit_host.cli import COMMAND_MODULES, main
from chatkit_host.config.models import json_schema
from projects import REPO, invoke_cli, write_project

pytestmark = pytest.mark.serial

THREE_MISTAKES = """\
version: 1
server:
  port: eighty
models:
  default: demo/offline
  providers:
    demo: { scripted: demo.yaml }
agents:
  triage:
    instructions: agents/missing.md
    handoffs: [bilin]
  billing:
    instructions: You handle billing.
"""


def run(*args: str, cwd: Path) -> tuple[int, str]:
    """Invoke the CLI in ``cwd``, as a user would from that folder."""
    result = invoke_cli(*args, cwd=cwd)
    return result.exit_code, result.output


def test_validate_lists_every_mistake_with_file_and_line(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / "chatkit.yaml").write_text(THREE_MISTAKES)
    code, output = run("validate", cwd=tmp_path)
    assert code == 1
    assert [line for line in output.splitlines() if line.startswith("Error: ")] == [
        "Error: chatkit.yaml:3:9: server.port: expected an integer, got a string",
        "Error: chatkit.yaml:10:19: agents.triage.instructions: instructions file "
        "agents/missing.md not found",
        "Error: chatkit.yaml:11:16: agents.triage.handoffs[0]: unknown agent 'bilin' "
        "(hint: did you mean 'billing'?)",
    ]
    assert output.splitlines()[-1] == "3 problem(s) in chatkit.yaml; the host was not started."


def test_validate_names_a_broken_python_tool(tmp_path: Path) -> None:
    write_project(tmp_path, files={"tools.py": "import not_a_real_module\n"})
    code, output = run("validate", cwd=tmp_path)
    assert code == 1
    assert "tools.lookup_order.python: importing './tools.py' failed: ModuleNotFoundError" in output


def test_the_shipped_example_is_valid(tmp_path: Path) -> None:
    code, output = run("validate", cwd=REPO)
    assert code == 0, output
    assert "chatkit.yaml is valid: 2 agent(s)" in output


def test_init_writes_a_project_that_validates(tmp_path: Path) -> None:
    code, output = run("init", "starter", cwd=tmp_path)
    assert code == 0, output
    project = tmp_path / "starter"
    first_line = (project / "chatkit.yaml").read_text().splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=./chatkit.schema.json"
    assert json.loads((project / "chatkit.schema.json").read_text()) == json_schema()
    code, output = run("validate", cwd=project)
    assert code == 0, output
    # A fresh project's own conversation test passes, and its data is not committed (#18).
    code, output = run("test", cwd=project)
    assert code == 0, output
    assert "✓ conversations/demo.yaml: The demo model greets and echoes" in output
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    ignored = subprocess.run(["git", "check-ignore", ".chatkit/chatkit.db", "chatkit.yaml"],
                             cwd=project, capture_output=True, text=True)
    assert ignored.stdout.splitlines() == [".chatkit/chatkit.db"]

    code, output = run("init", "starter", cwd=tmp_path)
    assert code == 1
    assert "already has chatkit.yaml" in output and "nothing was written" in output


def test_the_schema_in_the_repo_is_current(tmp_path: Path) -> None:
    code, output = run("schema", cwd=tmp_path)
    assert code == 0
    assert json.loads(output) == json_schema()
    shipped = json.loads((REPO / "schemas" / "chatkit.schema.json").read_text())
    assert shipped == json_schema(), "schemas/ is stale: run `chatkit-host schema > schemas/chatkit.schema.json`"


def test_serve_refuses_an_open_host_without_auth(tmp_path: Path) -> None:
    write_project(tmp_path)
    code, output = run("serve", "--host", "0.0.0.0", cwd=tmp_path)
    assert code == 1
    assert "refusing to serve 0.0.0.0 with auth.mode: none" in output


def test_a_missing_config_says_how_to_start(tmp_path: Path) -> None:
    code, output = run("validate", cwd=tmp_path)
    assert code == 1
    assert "chatkit.yaml not found (hint: `chatkit-host init` writes a starter project)" in output




def test_validate_needs_no_api_key_for_openai_models(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    write_project(tmp_path)
    config = (tmp_path / "chatkit.yaml").read_text().replace("default: demo/offline", "default: gpt-4.1-mini")
    (tmp_path / "chatkit.yaml").write_text(config)
    code, output = run("validate", cwd=tmp_path)
    assert code == 0, output


NINE_MISTAKES = """\
version: 1
models:
  default: demo/offline
  providers:
    demo: { scripted: demo.yaml }
agents:
  triage:
    instructions: agents/missing.md
    handoffs: [bilin]
    tools: [lookup, nope]
    temprature: 0.2
  billing:
    instructions: You handle billing.
    model: offlin/x
  broken: Be exact.
tools:
  lookup: { python: "shop.orders" }
  twokinds: { python: "./t.py:f", widget: card }
entry: triag
"""


def test_validate_reports_cross_references_beside_schema_errors_in_agents(tmp_path: Path) -> None:
    # Broken entries in agents: and tools: keep their names, so every reference is still checked
    # and none to them is called unknown (#18).
    write_project(tmp_path)
    (tmp_path / "chatkit.yaml").write_text(NINE_MISTAKES)
    code, output = run("validate", cwd=tmp_path)
    assert code == 1
    assert [line for line in output.splitlines() if line.startswith("Error: ")] == [
        "Error: chatkit.yaml:8:19: agents.triage.instructions: instructions file agents/missing.md "
        "not found",
        "Error: chatkit.yaml:9:16: agents.triage.handoffs[0]: unknown agent 'bilin' "
        "(hint: did you mean 'billing'?)",
        "Error: chatkit.yaml:10:21: agents.triage.tools[1]: unknown tool 'nope' "
        "(hint: declared tools: lookup, twokinds)",
        "Error: chatkit.yaml:11:5: agents.triage.temprature: unknown key 'temprature' (hint: allowed "
        "keys: instructions, python, model, model_settings, tools, handoffs, handoff_description, "
        "vars, guardrails, allow_cancel)",
        "Error: chatkit.yaml:14:12: agents.billing.model: unknown provider 'offlin' "
        "(hint: known providers: openai, demo)",
        "Error: chatkit.yaml:15:11: agents.broken: expected a mapping, got a string",
        "Error: chatkit.yaml:17:21: tools.lookup.python: is not an import path of a function "
        "(hint: name the function after a colon: package.module:function or ./file.py:function)",
        "Error: chatkit.yaml:18:3: tools.twokinds: a tool has exactly one of python, http, client, "
        "hosted, mcp, agent, widget, form, workflow (got python, widget)",
        "Error: chatkit.yaml:19:8: entry: unknown agent 'triag' (hint: did you mean 'triage'?)",
    ]
    assert output.splitlines()[-1] == "9 problem(s) in chatkit.yaml; the host was not started."


def test_serve_on_a_taken_port_says_so_before_serving(tmp_path: Path) -> None:
    write_project(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = run("serve", "--port", str(port), cwd=tmp_path)
    assert code == 1
    assert output.splitlines() == [
        f"Error: port {port} is already in use on 127.0.0.1 (hint: serve on another port with "
        f"--port {port + 1}, or stop what is using it)"]


def test_top_level_help_imports_no_command_module() -> None:
    # --help took ~2 s (14 s on a busy machine) importing every command to show its one line (#18).
    script = (
        "import sys; from click.testing import CliRunner; from chatkit_host.cli import main\n"
        "result = CliRunner().invoke(main, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('agents', 'litestar', 'openai')\n"
        "             or m.startswith(('chatkit_host.commands.', 'chatkit_host.config.'))\n"
        "             and m != 'chatkit_host.commands.lazy'))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout == "[]\n"


def test_lazy_commands_show_their_own_one_line_help() -> None:
    help_text = CliRunner().invoke(main, ["--help"], terminal_width=200).output
    for name, lazy in COMMAND_MODULES.items():
        command = main.get_command(click.Context(main), name)
        assert command is not None and command.help is not None
        assert command.help.strip().splitlines()[0] == lazy.short_help
        assert f"  {name}" in help_text and lazy.short_help in help_text
