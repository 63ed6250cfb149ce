"""Exported workflows imported with `chatkit-host import agents-sdk`, validated and driven over HTTP
offline: every branch ends in its own agent's reply, loops stop at their maximum, and whatever the
import could not translate keeps `validate` failing until it is acknowledged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from projects import invoke_cli
from chatkit_host.testing import run_host

FIXTURES = Path(__file__).parent / "fixtures"

# One script for every agent: the classifier's and triage's structured replies depend on the user's
# words; every other agent says who it is, so a reply shows which branch ran.
SCRIPT = {"replies": [{"steps": [{"say": (
    "{% if agent == 'classifier' %}"
    "{% if 'book' in user_text %}{\"category\": \"booking\", \"confidence\": 0.9}"
    "{% elif 'invoice' in user_text %}{\"category\": \"billing\", \"confidence\": 0.8}"
    "{% else %}{\"category\": \"other\", \"confidence\": 0.4}{% endif %}"
    "{% elif agent == 'triage' %}{\"urgent\": {{ 'true' if 'now' in user_text else 'false' }}}"
    "{% elif agent == 'reviewer' %}{\"verdict\": \"{{ 'approve' if 'easy' in user_text else 'revise' }}\"}"
    "{% else %}{{ agent }} answers.{% endif %}")}]}], "stream": "whole"}


def _cli(*args: str, cwd: Path) -> tuple[int, str]:
    result = invoke_cli(*args, cwd=cwd)
    return result.exit_code, result.output


def _import(tmp_path: Path, fixture: str) -> tuple[Path, str]:
    """Import `fixture`, then let the scripted model stand in for OpenAI, as the header says to."""
    code, output = _cli("import", "agents-sdk", str(FIXTURES / fixture), "--out", "project", cwd=tmp_path)
    assert code == 0, output
    path = tmp_path / "project" / "chatkit.yaml"
    config = yaml.safe_load(path.read_text())
    config["models"]["providers"] = {"openai": {"scripted": "demo.yaml"}}
    config["store"] = {"url": "sqlite:///chatkit.db"}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    (path.parent / "demo.yaml").write_text(yaml.safe_dump(SCRIPT))
    return path, output


async def _replies(path: Path, *messages: str) -> list[tuple[str, list[str]]]:
    """Each message in a new thread: the reply, and the workflow's progress tasks."""
    found = []
    async with run_host(path) as running:
        client = running.client()
        for message in messages:
            turn = await client.create_thread(message)
            assert turn.errors == []
            tasks = [t["title"] for item in turn.items_done if item["type"] == "workflow"
                     for t in item["workflow"]["tasks"]]
            found.append((turn.assistant_text, tasks))
    return found


async def test_a_classifier_with_three_branches_is_imported_and_each_branch_answers(tmp_path: Path) -> None:
    path, output = _import(tmp_path, "classifier_workflow.py")
    assert "Everything translated." in output
    workflow = yaml.safe_load(path.read_text())["workflows"]["workflow"]
    assert workflow["nodes"]["if_line_62"] == {"if": [
        {"when": 'outputs.classifier.category == "booking"', "then": "booking"},
        {"when": 'outputs.classifier.category == "billing"', "then": "billing"}], "else": "concierge"}
    code, output = _cli("validate", "-c", str(path), cwd=tmp_path)
    assert code == 0 and "4 agent(s), 0 tool(s), entry workflow 'workflow'." in output, output
    assert await _replies(path, "book me a flight", "where is my invoice", "what's on tonight") == [
        ("booking_agent answers.", ["classifier", "if_line_62: booking"]),
        ("billing_agent answers.", ["classifier", "if_line_62: billing"]),
        ("concierge answers.", ["classifier", "if_line_62: concierge"]),
    ]


async def test_a_write_review_loop_is_imported_with_its_maximum(tmp_path: Path) -> None:
    path, _ = _import(tmp_path, "review_loop_workflow.py")
    nodes = yaml.safe_load(path.read_text())["workflows"]["workflow"]["nodes"]
    assert nodes["loop_line_27"] == {"while": "true", "max": 3, "do": "draft"}
    assert _cli("validate", "-c", str(path), cwd=tmp_path)[0] == 0
    async with run_host(path) as running:
        client = running.client()
        approved = await client.create_thread("an easy one")
        assert approved.assistant_text == "writer answers."  # one round: the reviewer approved
        stubborn = await client.create_thread("a hard one")
        # Three rounds, each draft shown (a text agent's reply is), then the loop stops at its maximum.
        assert stubborn.assistant_text == "writer answers.\nwriter answers.\nwriter answers."
        tasks = [t["title"] for item in stubborn.items_done if item["type"] == "workflow"
                 for t in item["workflow"]["tasks"]]
        assert tasks[-1] == "loop_line_27: stopped at its maximum after 3 round(s)"


async def test_a_typed_context_agent_a_guardrail_call_and_an_approval(tmp_path: Path) -> None:
    path, output = _import(tmp_path, "guarded_workflow.py")
    config = yaml.safe_load(path.read_text())
    # `Agent[SupportContext](...)` agents are translated like any other.
    assert set(config["agents"]) == {"triage", "urgent_desk", "helpdesk"}
    assert all("python" not in agent for agent in config["agents"].values())
    assert "guarded_workflow.py:49: run_workflow(): results = await run_guardrails(" in output

    code, errors = _cli("validate", "-c", str(path), cwd=tmp_path)
    assert code == 1
    lines = [line for line in errors.splitlines() if line.startswith("Error:")]
    assert len(lines) == 2  # the Jailbreak check, and what the code did when it tripped
    assert lines[0].startswith("Error: project/chatkit.yaml:")
    assert "workflows.workflow.unresolved[1]: not translated: guarded_workflow.py:49: results = await " \
           "run_guardrails(" in lines[0]
    assert "(Jailbreak) not translated" in lines[0]
    assert lines[0].endswith("(hint: handle it, then delete this entry or set `acknowledged: true`)")
    assert "unresolved[2]: not translated: guarded_workflow.py:50: if any(" in lines[1]

    for item in config["workflows"]["workflow"]["unresolved"]:
        item["acknowledged"] = True
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    assert _cli("validate", "-c", str(path), cwd=tmp_path)[0] == 0
    assert [reply for reply, _ in await _replies(path, "a question")] == ["helpdesk answers."]
    async with run_host(path) as running:  # urgent: the human approval is asked, then each answer
        client = running.client()
        for answer, reply in (("Approve", "urgent_desk answers."), ("Reject", "Understood: no page.")):
            turn = await client.create_thread("help me now")
            question = next(i for i in turn.items_done if i["type"] == "structured_input")
            assert question["inputs"][0]["question"] == "Page the on-call team now?"
            answered = await client.stream("threads.add_structured_input", {
                "thread_id": turn.thread_id, "item_id": question["id"],
                "input": {"status": "answered", "answers": {"approval": {"values": [answer]}}}})
            assert answered.assistant_text == reply


@pytest.mark.parametrize("spelling", [
    "Agent[Ctx](name='A', instructions='x')",
    "agents.Agent[Ctx](name='A', instructions='x')",
    "Agent(name='A', instructions='x')",
])
def test_common_spellings_of_an_agent_are_read(tmp_path: Path, spelling: str) -> None:
    module = tmp_path / "m.py"
    module.write_text(f"import agents\nfrom agents import Agent\nclass Ctx: ...\na = {spelling}\n")
    code, output = _cli("import", "agents-sdk", str(module), "--out", "out", cwd=tmp_path)
    assert code == 0, output
    config: dict[str, Any] = yaml.safe_load((tmp_path / "out" / "chatkit.yaml").read_text())
    assert config["agents"] == {"a": {"instructions": "agents/a.md"}}


def test_guardrails_package_checks_become_host_guardrails_where_there_is_one(tmp_path: Path) -> None:
    module = tmp_path / "exported.py"
    module.write_text('''
from agents import Agent, Runner
from guardrails.runtime import instantiate_guardrails, load_config_bundle, run_guardrails

CONFIG = {"guardrails": [{"name": "Moderation", "config": {"categories": ["hate", "violence"]}},
                         {"name": "Contains PII", "config": {"entities": ["CREDIT_CARD"]}}]}

first = Agent(name="First", instructions="One.")
second = Agent(name="Second", instructions="Two.")


async def run_and_apply_guardrails(text, config):
    return await run_guardrails(None, text, "text/plain", instantiate_guardrails(load_config_bundle(config)))


async def run_workflow(workflow_input):
    workflow = workflow_input.model_dump()
    checked = await run_and_apply_guardrails(workflow["input_as_text"], CONFIG)
    if checked["has_tripwire"]:
        return checked["fail_output"]
    one = await Runner.run(first, input=workflow["input_as_text"])
    two = await Runner.run(second, input=workflow["input_as_text"])
''')
    code, output = _cli("import", "agents-sdk", str(module), "--out", "out", cwd=tmp_path)
    assert code == 0, output
    config = yaml.safe_load((tmp_path / "out" / "chatkit.yaml").read_text())
    assert config["agents"]["first"]["guardrails"] == {"input": [{"moderation": {"categories": ["hate", "violence"]}}]}
    unresolved = config["workflows"]["workflow"]["unresolved"]
    assert [(item["source"], item.get("acknowledged", False)) for item in unresolved] == [
        ("exported.py:18", False),  # Contains PII has no equivalent
        ("exported.py:19", False),  # so what the code does when it trips is left to you
        ("exported.py:21", False), ("exported.py:22", False),  # input= is the text, not the history
    ]
    assert "guardrails Contains PII have no chatkit.yaml equivalent" in unresolved[0]["what"]


def test_a_pipeline_translated_in_full_needs_no_acknowledgement(tmp_path: Path) -> None:
    module = tmp_path / "exported.py"
    module.write_text(
        "from agents import Agent, Runner\n"
        "from guardrails.runtime import instantiate_guardrails, load_config_bundle, run_guardrails\n"
        "CONFIG = {'guardrails': [{'name': 'Moderation', 'config': {}}]}\n"
        "first = Agent(name='First', instructions='One.')\n"
        "second = Agent(name='Second', instructions='Two.')\n"
        "async def run_workflow(workflow_input):\n"
        "    conversation_history = []\n"
        "    pipeline = instantiate_guardrails(load_config_bundle(CONFIG))\n"
        "    results = await run_guardrails(None, 'x', 'text/plain', pipeline)\n"
        "    if any(r.tripwire_triggered for r in results):\n"
        "        return {'output_text': 'no'}\n"
        "    one = await Runner.run(first, input=[*conversation_history])\n"
        "    two = await Runner.run(second, input=[*conversation_history])\n"
    )
    code, output = _cli("import", "agents-sdk", str(module), "--out", "out", cwd=tmp_path)
    assert code == 0 and "Everything translated." in output, output
    config = yaml.safe_load((tmp_path / "out" / "chatkit.yaml").read_text())
    assert config["agents"]["first"]["guardrails"] == {"input": [{"moderation": {}}]}
    assert all(item["acknowledged"] for item in config["workflows"]["workflow"]["unresolved"])
