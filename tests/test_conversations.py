"""`chatkit-host test`: conversation tests in YAML, run offline over the real endpoint."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from contextlib import chdir
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from chatkit_host.cli import main
from projects import REPO, base_config, write_project

pytestmark = pytest.mark.serial


def run_tests(project: Path, *args: str) -> tuple[int, str]:
    """`chatkit-host test` run in the project folder (paths are shown relative to it)."""
    with chdir(project):
        result = CliRunner().invoke(main, ["test", *args], catch_exceptions=False)
    return result.exit_code, result.output


def conversation(root: Path, name: str, text: str) -> Path:
    path = root / "conversations" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_the_examples_own_conversation_tests_pass() -> None:
    # What CI runs: the CLI, as a process, in the example project at the repository root.
    result = subprocess.run([sys.executable, "-m", "chatkit_host", "test"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ conversations/orders.yaml: An order lookup" in result.stdout
    assert "✓ conversations/billing.yaml: A refund question" in result.stdout
    assert "✓ conversations/interactive.yaml: The order card's Refresh button" in result.stdout
    assert "✓ conversations/interactive.yaml: A ticket form is asked" in result.stdout
    assert "✓ conversations/interactive.yaml: A client tool call waits" in result.stdout
    assert "✗" not in result.stdout
    assert "failed" not in result.stdout


def test_a_failing_expectation_prints_a_diff_and_exits_1(tmp_path: Path) -> None:
    project = write_project(tmp_path).parent
    conversation(project, "orders.yaml", """\
        name: order status
        steps:
          - user: hello
            expect:
              assistant: "Echo 1: hello"
          - user: where is my order?
            expect:
              items: [user_message, widget, assistant_message]
              assistant: "Order status: lost"
    """)
    code, output = run_tests(project)
    assert code == 1
    # The passing step is not mentioned; each failing expectation shows only what differs.
    assert output.splitlines() == [
        "✗ conversations/orders.yaml: order status",
        "  step 2 (conversations/orders.yaml:6) user: 'where is my order?'",
        "    expect.items: does not match",
        "      --- expected",
        "      +++ actual",
        "      @@ -1,3 +1,2 @@",
        "       - user_message",
        "      -- widget",
        "       - assistant_message",
        "    expect.assistant: does not match",
        "      --- expected",
        "      +++ actual",
        "      @@ -1 +1 @@",
        "      -Order status: lost",
        '      +Order status: {"order_id":"A-1001","status":"shipped"}',
        "1 of 1 conversation(s) failed (2 step(s) run).",
    ]


def test_partial_expectations_on_the_model_input_and_the_thread(tmp_path: Path) -> None:
    project = write_project(tmp_path).parent
    conversation(project, "input.yaml", """\
        - name: as alice
          user: alice
          steps:
            - user: where is my order?
              expect:
                progress: []
                thread: { title: "where is my order?" }
                model_input:
                  calls: 2
                  instructions: { contains: "the user is alice" }
                  tools: [lookup_order, transfer_to_billing]
                  includes: [{ type: function_call, name: lookup_order }, shipped]
            - user: I want a refund
              expect:
                assistant: { matches: "^Billing here, turn \\\\d\\\\.$" }
        - name: wrong input
          steps:
            - user: hello
              expect:
                model_input: { includes: [a refund] }
    """)
    code, output = run_tests(project)
    assert code == 1
    assert "✓ conversations/input.yaml: as alice" in output
    assert "✗ conversations/input.yaml: wrong input" in output
    assert output.splitlines()[3:] == [
        "    expect.model_input: does not match",
        "      --- expected",
        "      +++ actual",
        "      @@ -1,2 +1,2 @@",
        "       includes:",
        "      -- a refund",
        "      +- <not in the model input>",
        "      the model's input was:",
        "        user: hello",
        "1 of 2 conversation(s) failed (3 step(s) run).",
    ]


def test_the_users_store_is_never_touched(tmp_path: Path) -> None:
    config = base_config()  # store: sqlite:///data/chatkit.db
    project = write_project(tmp_path, config).parent
    conversation(project, "one.yaml", "steps: [{user: hello, expect: {assistant: 'Echo 1: hello'}}]\n")
    assert run_tests(project) == (0, "✓ conversations/one.yaml: one\n"
                                     "1 conversation(s) passed (1 step(s) run).\n")
    assert not (project / "data").exists()
    assert not (project / "calls.jsonl").exists()  # the recording went to a scratch file


def test_each_conversation_starts_on_an_empty_store(tmp_path: Path) -> None:
    project = write_project(tmp_path).parent
    conversation(project, "two.yaml", """\
        - steps: [{user: first, expect: {assistant: "Echo 1: first"}}]
        - steps: [{user: second, expect: {assistant: "Echo 1: second"}}]
    """)
    code, output = run_tests(project)
    assert code == 0, output
    assert "✓ conversations/two.yaml: two #2" in output


def test_mistakes_in_a_conversation_file_are_located(tmp_path: Path) -> None:
    project = write_project(tmp_path).parent
    conversation(project, "bad.yaml", """\
        steps:
          - form: { priority: High }
          - user: hi
            expect: { assistnt: hello }
          - user: hi
            action: { type: x }
    """)
    code, output = run_tests(project)
    assert code == 1
    assert output.splitlines() == [
        "Error: conversations/bad.yaml:2:5: steps[0]: the first step starts the thread, "
        "so it must be `user`, not `form`",
        "Error: conversations/bad.yaml:4:15: steps[1].expect.assistnt: unknown key "
        "'assistnt' (hint: did you mean 'assistant'?)",
        "Error: conversations/bad.yaml:5:5: steps[2]: has several request kinds: one of "
        "user, action, form, client_tool, retry (hint: make them separate steps)",
    ]


def test_steps_that_need_something_pending_say_what_is_missing(tmp_path: Path) -> None:
    project = write_project(tmp_path).parent
    conversation(project, "pending.yaml", """\
        steps:
          - user: hello
          - form: { priority: High }
          - user: never sent
    """)
    code, output = run_tests(project)
    assert code == 1
    assert output.splitlines()[1:4] == [
        "  step 2 (conversations/pending.yaml:3) form: {priority: High}",
        "    the request: no form is waiting for answers in this thread",
        "1 of 1 conversation(s) failed (2 step(s) run).",
    ]


def test_a_real_model_is_refused_unless_a_script_replaces_it(tmp_path: Path) -> None:
    config = base_config()
    config["models"]["default"] = "gpt-4.1"
    project = write_project(tmp_path, config).parent
    conversation(project, "one.yaml", "steps: [{user: hello, expect: {assistant: 'Echo 1: hello'}}]\n")
    code, output = run_tests(project)
    assert code == 1
    assert output == (
        "Error: agent 'triage' uses the model 'gpt-4.1', which is not scripted: conversation tests "
        "run offline (hint: point models.default at a scripted provider, or pass --script demo.yaml "
        "to answer every agent from that script)\n"
    )
    assert run_tests(project, "--script", str(project / "demo.yaml"))[0] == 0


def test_no_conversations_is_an_error_not_a_green_run(tmp_path: Path) -> None:
    project = write_project(tmp_path).parent
    code, output = run_tests(project)
    assert code == 1
    assert "no conversation tests found in" in output
    assert "write conversations/*.yaml beside chatkit.yaml" in output


def test_an_expected_refusal_passes_and_an_unexpected_one_stops_the_conversation(
        tmp_path: Path) -> None:
    project = write_project(tmp_path).parent
    conversation(project, "refusals.yaml", """\
        - name: expected
          steps:
            - user: hello
            - action: { type: order.refresh, payload: {}, item: itm_nobody_has }
              expect:
                error: { status: 404 }
        - name: unexpected
          steps:
            - user: hello
            - action: { type: order.refresh, payload: {}, item: itm_nobody_has }
            - user: never sent
    """)
    code, output = run_tests(project)
    assert code == 1
    lines = output.splitlines()
    assert lines[0] == "✓ conversations/refusals.yaml: expected"
    assert lines[1] == "✗ conversations/refusals.yaml: unexpected"
    assert lines[2] == ("  step 2 (conversations/refusals.yaml:10) action: "
                        "{type: order.refresh, payload: {}, item: itm_nobody_has}")
    assert lines[3].startswith("    the request: the host refused it: HTTP 404 not_found: ")
    assert lines[4] == "1 of 2 conversation(s) failed (4 step(s) run)."  # step 3 never sent


def test_state_and_effects_expectations(tmp_path: Path) -> None:
    from test_state import write_pet

    project = write_pet(tmp_path).parent
    conversation(project, "pet.yaml", """\
        - name: fed
          steps:
            - user: feed
              expect:
                state: { hunger: 3 }
                effects: [{ name: pet.fed, data: { hunger: 3 } }]
            - user: hello
              expect:
                effects: []
        - name: wrong
          steps:
            - user: feed
              expect:
                state: { hunger: 4 }
                effects: [{ name: pet.fed }, { name: pet.fed }]
    """)
    code, output = run_tests(project)
    assert code == 1
    assert "✓ conversations/pet.yaml: fed" in output
    assert output.splitlines()[2:] == [
        "  step 1 (conversations/pet.yaml:12) user: 'feed'",
        "    expect.state: does not match",
        "      --- expected",
        "      +++ actual",
        "      @@ -1 +1 @@",
        "      -hunger: 4",
        "      +hunger: 3",
        "    expect.effects: does not match",
        "      --- expected",
        "      +++ actual",
        "      @@ -1,2 +1 @@",
        "       - name: pet.fed",
        "      -- name: pet.fed",
        "1 of 2 conversation(s) failed (3 step(s) run).",
    ]


def test_a_state_expectation_without_state_says_so(tmp_path: Path) -> None:
    project = write_project(tmp_path).parent
    conversation(project, "one.yaml", "steps: [{user: hello, expect: {state: {plan: pro}}}]\n")
    code, output = run_tests(project)
    assert code == 1
    assert "    expect.state: the host keeps no thread state (no `state` in chatkit.yaml)" in output


def test_a_conversation_asserts_which_branch_of_a_workflow_ran(tmp_path: Path) -> None:
    from workflow_projects import CLASSIFIER_SCRIPTS, classifier_config, write_workflow_project

    project = write_workflow_project(tmp_path, classifier_config(), CLASSIFIER_SCRIPTS).parent
    conversation(project, "branches.yaml", """\
        name: routing
        steps:
          - user: I want to book a flight
            expect:
              workflow: [classify, route, book]
              assistant: "Booking agent: your flight is held."
          - user: where is my invoice?
            expect:
              workflow: { name: support, nodes: [classify, route, book] }
    """)
    code, output = run_tests(project)
    assert code == 1
    assert output.splitlines() == [
        "✗ conversations/branches.yaml: routing",
        "  step 2 (conversations/branches.yaml:7) user: 'where is my invoice?'",
        "    expect.workflow: does not match",
        "      --- expected",
        "      +++ actual",
        "      @@ -3,3 +3,3 @@",
        "       - classify",
        "       - route",
        "      -- book",
        "      +- bill",
        "1 of 1 conversation(s) failed (2 step(s) run).",
    ]


def test_a_conversation_answers_a_workflows_approval(tmp_path: Path) -> None:
    from workflow_projects import REFUND_SCRIPTS, refund_config, write_workflow_project

    project = write_workflow_project(tmp_path, refund_config(), REFUND_SCRIPTS).parent
    conversation(project, "refund.yaml", """\
        name: refund approved
        steps:
          - user: I want a refund
            expect:
              form: { inputs: [{ question: "Refund 40 EUR?" }] }
              workflow: [assess, count, confirm]
          - form: { approval: Approve }
            expect:
              assistant: "Payer: 40 EUR are on their way."
              workflow: [assess, count, confirm, pay]
    """)
    code, output = run_tests(project)
    assert code == 0, output
    assert "✓ conversations/refund.yaml: refund approved" in output


async def test_the_documented_python_test_passes_on_the_example(tmp_path: Path) -> None:
    """docs/conversation-tests.md shows a test written with `chatkit_host.testing`: it must pass."""
    doc = (REPO / "docs" / "conversation-tests.md").read_text()
    code = doc.split("## Tests in Python")[1].split("```python\n")[1].split("```")[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/conversation-tests.md", "exec"), namespace)
    for name in ("chatkit.yaml", "demo.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    for folder in ("agents", "tools", "widgets"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    with chdir(tmp_path):
        await namespace["test_an_order_is_looked_up"](tmp_path)
