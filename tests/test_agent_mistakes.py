"""What agents and their models get wrong, handled where a user can see it (#18): a title agent
declared in YAML, a call to a tool the agent lacks (at run time and in `validate`), and a
structured answer that is not the JSON its schema asks for."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import yaml
from click.testing import CliRunner

from chatkit_host.cli import main
from chatkit_host.protocol.turn_watch import UNUSABLE_ANSWER
from chatkit_host.testing import ChatKitClient, run_host
from logcapture import captured_logs
from projects import DEMO_SCRIPT, base_config, recorded_calls, write_project


@asynccontextmanager
async def chatting(path: Path) -> AsyncIterator[ChatKitClient]:
    async with run_host(path) as running:
        yield running.client()


async def test_a_yaml_title_agent_writes_the_title(tmp_path: Path) -> None:
    config = base_config()
    config["models"]["providers"]["titling"] = {"scripted": "titles.yaml"}
    config["agents"]["titler"] = {"instructions": "Title a chat with {{ user }}.", "model": "titling/any"}
    config["titles"] = {"agent": "titler"}
    titles = yaml.safe_dump({"replies": [{"steps": [{"say": "\"A friendly greeting\""}]}]})
    project = write_project(tmp_path, config, files={"titles.yaml": titles})
    with captured_logs() as records:
        async with chatting(project) as client:
            turn = await client.create_thread("hello there")
            assert (await client.get_thread(turn.thread_id))["title"] == "A friendly greeting"
    assert [r.getMessage() for r in records if r.levelno >= logging.WARNING] == []


async def test_a_call_to_a_tool_the_agent_lacks_goes_back_to_the_model(tmp_path: Path) -> None:
    # triage may call lookup_order, billing may not; after the handoff billing's step calls it.
    script = {"replies": [{"when": ["refund"], "steps": [
        {"call": "transfer_to_billing", "arguments": {}},
        {"call": "lookup_order", "arguments": {"order_id": "A-1"}},
        {"say": "Billing saw: {{ tool_output }}"},
    ]}, *DEMO_SCRIPT["replies"]]}
    with captured_logs() as records, sdk_logs() as sdk:
        async with chatting(write_project(tmp_path, base_config(), script)) as client:
            turn = await client.create_thread("a refund please")
    assert turn.errors == []
    assert turn.assistant_text.startswith("Billing saw: ")
    assert "lookup_order" in turn.assistant_text and "not found" in turn.assistant_text
    last = recorded_calls(tmp_path)[-1]["input"]
    [output] = [item for item in last if item.get("type") == "function_call_output"
                and "not found" in str(item.get("output"))]
    assert "lookup_order" in output["output"]
    assert not [r for r in records if r.levelno >= logging.ERROR or r.exc_info]
    assert not [r for r in sdk if r.levelno >= logging.ERROR or r.exc_info]


def test_validate_flags_scripted_calls_to_tools_the_agents_lack(tmp_path: Path) -> None:
    script = {"replies": [
        {"when": ["order"], "steps": [
            {"call": "lookup_ordr", "arguments": {"order_id": "A-1"}},
            {"say": "ok"},
        ]},
        {"when": ["refund"], "steps": [{"call": "transfer_to_billing", "arguments": {}}, {"say": "ok"}]},
        {"steps": [{"say": "hi"}]},
    ]}
    write_project(tmp_path, base_config(), script)
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, ["validate"], catch_exceptions=False)
    finally:
        os.chdir(old)
    # A warning, not an error: at run time the model is told the tool is missing, and a script
    # shared by several agents may hold steps only one of them plays.
    assert result.exit_code == 0
    line = (tmp_path / "demo.yaml").read_text().splitlines().index("  - call: lookup_ordr") + 1
    assert (
        f"Warning: demo.yaml:{line}: replies[0].steps[0].call: no tool 'lookup_ordr' in any agent "
        "that plays this script (billing, triage) (hint: did you mean 'lookup_order'?)"
    ) in result.output
    assert result.output.count("Warning:") == 1  # transfer_to_billing is triage's handoff


STRUCTURED_AGENT = '''
from agents import Agent
from pydantic import BaseModel


class Verdict(BaseModel):
    approved: bool


judge = Agent(name="judge", instructions="Judge.", output_type=Verdict)
'''


async def test_a_structured_answer_that_is_not_json_is_a_clear_error_and_one_log_line(tmp_path: Path) -> None:
    config = base_config()
    config["agents"] = {"judge": {"python": "./judge.py:judge", "model": "demo/offline"}}
    config["entry"] = "judge"
    config["tools"] = {}
    script = {"replies": [{"steps": [{"say": "certainly not JSON"}]}]}
    project = write_project(tmp_path, config, script, files={"judge.py": STRUCTURED_AGENT})
    with captured_logs() as records, sdk_logs() as sdk:
        async with chatting(project) as client:
            turn = await client.create_thread("is this ok?")
    assert [(e["code"], e.get("message"), e["allow_retry"]) for e in turn.errors] == [
        ("custom", UNUSABLE_ANSWER, True)]
    problems = [r for r in records if r.levelno >= logging.WARNING and r.name != "chatkit_host.requests"]
    assert [r.getMessage() for r in problems] == ["the model's answer could not be used"]
    assert not any(r.exc_info for r in records + sdk)


@contextmanager
def sdk_logs() -> Iterator[list[logging.LogRecord]]:
    """Warnings and errors the SDKs log (where a traceback would land)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.WARNING)
    loggers = [logging.getLogger(name) for name in ("chatkit", "openai.agents")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
