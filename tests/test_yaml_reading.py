"""Every YAML file the host reads goes through one reader: one bound, one wording (#18, #14).

Driven through the CLI, in child processes with a deadline: a reader without the bound does not
fail, it runs for minutes and eats gigabytes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from projects import base_config, invoke_cli, write_project

pytestmark = pytest.mark.serial

# 9 levels of 9 aliases: 491 bytes that stand for 9^9 (387 million) strings.
LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi")
)


def cli(project: Path, *args: str) -> tuple[int, str]:
    """`chatkit-host ARGS` in `project`; fails the test when it takes more than 30 s."""
    result = subprocess.run([sys.executable, "-m", "chatkit_host", *args], cwd=project,
                            capture_output=True, text=True, timeout=30)
    return result.returncode, result.stdout + result.stderr


def in_process(project: Path, *args: str) -> tuple[int, str]:
    """`chatkit-host ARGS` in `project`, in this process (for what cannot hang)."""
    result = invoke_cli(*args, cwd=project)
    return result.exit_code, result.output


def errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error: ")]


def project_with(tmp_path: Path, file: str, text: str) -> Path:
    """A valid project (with a conversation test) whose `file` is replaced by `text`."""
    config = base_config()
    config["entities"] = {"sources": [{"static": "entities.yaml", "type": "order"}]}
    write_project(tmp_path, config, files={
        "entities.yaml": "- {id: A-1001, title: Order A-1001}\n",
        "conversations/orders.yaml": "steps:\n  - user: hello\n",
    })
    (tmp_path / file).write_text(text)
    return tmp_path


ALIAS_HINT = "(hint: aliases may bring in at most 10,000 values; write the values out)"


@pytest.mark.parametrize(("file", "command"), [
    ("chatkit.yaml", "validate"),
    ("demo.yaml", "validate"),
    ("entities.yaml", "validate"),
    ("conversations/orders.yaml", "test"),
])
def test_nested_aliases_are_refused_promptly(tmp_path: Path, file: str, command: str) -> None:
    code, output = cli(project_with(tmp_path, file, LAUGHS), command)
    assert code == 1
    # The alias that would pass the bound is the first one of `e` (10 + 9*10 + 9*100 + 9*1000 > 10,000).
    assert errors(output) == [
        f"Error: {file}:5:8: invalid YAML: aliases expand to too many values {ALIAS_HINT}"]


def test_a_file_over_the_size_bound_is_refused(tmp_path: Path) -> None:
    big = "vars:\n" + "".join(f"  v{i}: {'x' * 100}\n" for i in range(11_000))
    code, output = cli(project_with(tmp_path, "chatkit.yaml", big), "validate")
    assert code == 1
    assert errors(output) == ["Error: chatkit.yaml: configuration file is larger than 1 MiB "
                              "(hint: a YAML file the host reads is at most 1 MiB)"]


def test_sharing_settings_through_aliases_still_works(tmp_path: Path) -> None:
    config = """\
version: 1
models:
  default: demo/offline
  providers:
    demo: { scripted: demo.yaml }
agents:
  triage: &agent
    instructions: agents/triage.md
    tools: &tools [lookup_order]
  billing:
    <<: *agent
    tools: *tools
tools:
  lookup_order: { python: "./tools.py:lookup_order" }
vars: { company: Acme }
"""
    code, output = cli(project_with(tmp_path, "chatkit.yaml", config), "validate")
    assert code == 0, output


@pytest.mark.parametrize(("file", "command"), [
    ("chatkit.yaml", "validate"),
    ("demo.yaml", "validate"),
    ("entities.yaml", "validate"),
    ("conversations/orders.yaml", "test"),
])
@pytest.mark.parametrize(("text", "problem"), [
    ("replies:\n  - steps: [\n  bad: : x\n",
     "3:8: invalid YAML: expected the node content, but found ':' (while parsing a flow node on line 3)"),
    ("replies:\n\t- steps: []\n",
     "2:1: invalid YAML: found character '\\t' that cannot start any token "
     "(hint: indent with spaces; YAML does not allow tabs)"),
])
def test_a_syntax_error_reads_the_same_in_every_file(
    tmp_path: Path, file: str, command: str, text: str, problem: str
) -> None:
    # One reader, one wording: these were "invalid YAML", "not valid YAML" and a pyyaml dump (#14).
    code, output = in_process(project_with(tmp_path, file, text), command)
    assert code == 1
    assert errors(output) == [f"Error: {file}:{problem}"]
