"""Agents SDK code in chatkit-host: `import agents-sdk`, and agents served by import path (issue 8)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from chatkit_host.config.loader import load_config
from chatkit_host.refs import resolve
from chatkit_host.runtime.build import build_runtime
from chatkit_host.testing import ChatKitClient, run_host, serve_host
from projects import invoke_cli, recorded_calls, write_project

pytestmark = pytest.mark.serial

FIXTURE = Path(__file__).parent / "fixtures" / "exported_workflow.py"

CHECKLIST = [
    "exported_workflow.py:81: agent research_agent: model_settings store=True: chatkit.yaml has no "
    "such setting; left out — to keep it, serve the agent from the module "
    "(python: ../exported_workflow.py:research_agent)",
    "exported_workflow.py:81: agent research_agent: model_settings reasoning summary='auto': "
    "chatkit.yaml has no such setting; left out — to keep it, serve the agent from the module "
    "(python: ../exported_workflow.py:research_agent)",
    "exported_workflow.py:91: agent escalation_agent: instructions: escalation_agent_instructions is "
    "not a string constant (a function computes it at run time?); the agent is served from the "
    "module (python: ../exported_workflow.py:escalation_agent)",
    "exported_workflow.py:109: runner function run_workflow(): not translated — chatkit-host runs "
    "the entry agent (triage_agent) on every turn with the thread's history; what the function adds "
    "(its RunConfig sets trace_metadata) stays in the module, unused",
]

ORDER_SCRIPT = {"replies": [
    {"when": ["order"], "steps": [
        {"call": "transfer_to_orders_agent", "arguments": {}},
        {"call": "lookup_order", "arguments": {"order_id": "A-1001"}},
        {"say": "Order status: {{ tool_output }}"},
    ]},
    {"steps": [{"say": "Echo {{ turn }}: {{ user_text }}"}]},
]}


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = invoke_cli(*args, cwd=cwd, env=env)
    return result.exit_code, result.output


def imported_project(tmp_path: Path) -> Path:
    """The fixture copied into `tmp_path` and imported into `tmp_path/backend`."""
    shutil.copy(FIXTURE, tmp_path / "exported_workflow.py")
    code, output = run("import", "agents-sdk", "exported_workflow.py", "--out", "backend", cwd=tmp_path)
    assert code == 0, output
    return tmp_path / "backend"


def offline(project: Path, script: dict[str, Any]) -> None:
    """Let the scripted model answer for every plain model name, as the generated file suggests."""
    path = project / "chatkit.yaml"
    config = yaml.safe_load(path.read_text())
    config["models"]["providers"] = {"openai": {"scripted": "demo.yaml", "record": "calls.jsonl"}}
    config["store"] = {"url": "sqlite:///data/chatkit.db"}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    (project / "demo.yaml").write_text(yaml.safe_dump(script, sort_keys=False))


def test_import_writes_what_maps_and_lists_exactly_what_does_not(tmp_path: Path) -> None:
    shutil.copy(FIXTURE, tmp_path / "exported_workflow.py")
    code, output = run("import", "agents-sdk", "exported_workflow.py", "--out", "backend", cwd=tmp_path)
    assert code == 0, output
    lines = output.splitlines()
    start = lines.index("Not translated (4): the module stays the source for these.")
    assert lines[start + 1 : start + 5] == CHECKLIST

    backend = tmp_path / "backend"
    config = yaml.safe_load((backend / "chatkit.yaml").read_text())
    assert config["entry"] == "triage_agent"
    assert config["models"] == {"default": "gpt-4.1"}
    assert config["agents"] == {
        "billing_agent": {
            "instructions": "agents/billing_agent.md", "model": "gpt-4.1",
            "model_settings": {"temperature": 0.2, "max_tokens": 800}, "tools": ["lookup_order"],
            "handoff_description": "Refunds, invoices and payment questions.",
        },
        "orders_agent": {
            "instructions": "agents/orders_agent.md", "model": "gpt-4.1-mini", "tools": ["lookup_order"],
            "handoffs": ["billing_agent"], "handoff_description": "Where an order is and when it arrives.",
        },
        "research_agent": {
            "instructions": "agents/research_agent.md", "model": "gpt-5",
            "model_settings": {"reasoning_effort": "low"}, "tools": ["web_search_preview"],
            "handoff_description": "Product questions that need the web.",
        },
        "escalation_agent": {"python": "../exported_workflow.py:escalation_agent"},
        "triage_agent": {
            "instructions": "agents/triage_agent.md", "model": "gpt-4.1",
            "handoffs": ["orders_agent", "billing_agent", "research_agent", "escalation_agent"],
            "guardrails": {"input": [{"python": "../exported_workflow.py:no_card_numbers"}]},
        },
    }
    assert config["tools"] == {
        "lookup_order": {"python": "../exported_workflow.py:lookup_order"},
        "web_search_preview": {"hosted": {"type": "web_search", "search_context_size": "medium",
                                          "user_location": {"type": "approximate"}}},
    }
    assert (backend / "agents" / "billing_agent.md").read_text() == (
        "You handle billing for Acme Outfitters: refunds, invoices and payments.\n"
        "Never promise a refund before the order is found.\n"
    )
    assert (backend / "agents" / "orders_agent.md").read_text() == (  # an f-string without placeholders
        "You answer questions about orders. Look orders up before answering.\n"
    )
    assert sorted(p.name for p in (backend / "agents").iterdir()) == [
        "billing_agent.md", "orders_agent.md", "research_agent.md", "triage_agent.md"]

    # The OpenAI client wants a key when it is built; validate makes no call with it.
    code, output = run("validate", cwd=backend, env={"OPENAI_API_KEY": "sk-never-used"})
    assert code == 0, output
    assert "5 agent(s), 2 tool(s), entry agent 'triage_agent'" in output


def test_import_never_overwrites_without_force(tmp_path: Path) -> None:
    backend = imported_project(tmp_path)
    (backend / "agents" / "orders_agent.md").write_text("My own edits.\n")
    code, output = run("import", "agents-sdk", "exported_workflow.py", "--out", "backend", cwd=tmp_path)
    assert code == 1
    assert output.splitlines()[0] == (
        "Error: backend/chatkit.yaml, backend/agents/billing_agent.md, backend/agents/orders_agent.md, "
        "backend/agents/research_agent.md, backend/agents/triage_agent.md already exist; nothing was "
        "written (hint: --force overwrites them)"
    )
    assert (backend / "agents" / "orders_agent.md").read_text() == "My own edits.\n"
    code, _ = run("import", "agents-sdk", "exported_workflow.py", "--out", "backend", "--force", cwd=tmp_path)
    assert code == 0
    assert (backend / "agents" / "orders_agent.md").read_text().startswith("You answer questions")


def test_import_reads_the_module_without_running_it(tmp_path: Path) -> None:
    source = tmp_path / "export.py"
    source.write_text(
        "import not_installed_anywhere\n"
        "raise SystemExit('ran')\n"
        "from agents import Agent\n"
        "helper = Agent(name='Helper', instructions='You help.')\n"
    )
    code, output = run("import", "agents-sdk", "export.py", cwd=tmp_path)
    assert code == 0, output
    assert "Everything translated." in output
    assert (tmp_path / "agents" / "helper.md").read_text() == "You help.\n"


async def test_the_imported_project_answers_a_turn_over_http_with_the_scripted_model(
    tmp_path: Path,
) -> None:
    backend = imported_project(tmp_path)
    offline(backend, ORDER_SCRIPT)
    with serve_host(backend) as host:
        async with ChatKitClient(host.url) as client:
            turn = await client.create_thread("where is my order?")
    assert turn.assistant_text == 'Order status: {"order_id":"A-1001","status":"shipped"}'
    calls = recorded_calls(backend)
    # Each agent kept its own model name; the scripted provider answered for every one of them.
    assert [(c["model"], c["instructions"]) for c in calls] == [
        ("gpt-4.1", "You greet customers of Acme Outfitters and route them to the right agent.\n"),
        ("gpt-4.1-mini", "You answer questions about orders. Look orders up before answering.\n"),
        ("gpt-4.1-mini", "You answer questions about orders. Look orders up before answering.\n"),
    ]
    assert "transfer_to_escalation_agent" in calls[0]["tools"]
    assert calls[1]["tools"] == ["lookup_order", "transfer_to_billing_agent"]


# --- an agent served straight from the module ---------------------------------------------------

NOTE_TOOL = '''
def order_note(order_id: str) -> str:
    """Write a note on an order.

    Args:
        order_id: The order id.
    """
    return f"note added to {order_id}"
'''

DIRECT_SCRIPT = {"replies": [
    {"when": ["note"], "steps": [
        {"call": "order_note", "arguments": {"order_id": "A-7"}},
        {"say": "Done: {{ tool_output }}"},
    ]},
    {"when": ["refund"], "steps": [
        {"call": "transfer_to_billing_agent", "arguments": {}},
        {"say": "Billing here, turn {{ turn }}."},
    ]},
    {"steps": [{"say": "Echo {{ turn }}: {{ user_text }}"}]},
]}

DIRECT_CONFIG = {
    "version": 1,
    "store": {"url": "sqlite:///data/chatkit.db"},
    "models": {"providers": {"openai": {"scripted": "demo.yaml", "record": "calls.jsonl"}}},
    "agents": {"triage": {"python": "./exported_workflow.py:triage_agent", "tools": ["order_note"]}},
    "tools": {"order_note": {"python": "./tools.py:order_note"}},
}


async def test_an_agent_served_by_import_path_gets_the_yaml_tools_and_keeps_its_own(tmp_path: Path) -> None:
    path = write_project(tmp_path, DIRECT_CONFIG, DIRECT_SCRIPT,
                         files={"exported_workflow.py": FIXTURE.read_text(), "tools.py": NOTE_TOOL})
    async with run_host(path) as running:
        client = running.client()
        first = await client.create_thread("please note order A-7")
        assert first.assistant_text == "Done: note added to A-7"
        refund = await client.add_message(first.thread_id, "I want a refund")
        assert refund.assistant_text == "Billing here, turn 2."
        later = await client.add_message(first.thread_id, "thanks")
        assert later.assistant_text == "Echo 3: thanks"

    calls = recorded_calls(tmp_path)
    triage = "You greet customers of Acme Outfitters and route them to the right agent."
    billing = ("You handle billing for Acme Outfitters: refunds, invoices and payments.\n"
               "Never promise a refund before the order is found.")
    assert [(c["model"], c["instructions"]) for c in calls] == [
        ("gpt-4.1", triage), ("gpt-4.1", triage), ("gpt-4.1", triage),
        ("gpt-4.1", billing),  # reached through the code's handoff; its plain model name still scripted
        ("gpt-4.1", billing),  # the conversation stays with the agent it was handed to
    ]
    assert calls[0]["tools"] == [
        "order_note", "transfer_to_orders_agent", "transfer_to_billing_agent",
        "transfer_to_research_agent", "transfer_to_escalation_agent",
    ]
    # The module's own object is unchanged: the host served a clone.
    original = resolve("./exported_workflow.py:triage_agent", tmp_path)
    assert original.name == "Triage agent" and original.tools == []


async def test_yaml_instructions_and_model_override_the_code(tmp_path: Path) -> None:
    config = {**DIRECT_CONFIG, "agents": {"triage": {
        "python": "./exported_workflow.py:triage_agent", "model": "openai/gpt-4.1-nano",
        "instructions": "You are triage for {{ vars.company }}.",
    }}, "vars": {"company": "Acme"}}
    path = write_project(tmp_path, config, DIRECT_SCRIPT,
                         files={"exported_workflow.py": FIXTURE.read_text(), "tools.py": NOTE_TOOL})
    async with run_host(path) as running:
        client = running.client()
        turn = await client.create_thread("hello")
    assert turn.assistant_text == "Echo 1: hello"
    [call] = recorded_calls(tmp_path)
    assert (call["model"], call["instructions"]) == ("gpt-4.1-nano", "You are triage for Acme.")


def validate_errors(tmp_path: Path, agents: dict[str, Any]) -> list[str]:
    write_project(tmp_path, {**DIRECT_CONFIG, "agents": agents}, DIRECT_SCRIPT,
                  files={"exported_workflow.py": FIXTURE.read_text(), "tools.py": NOTE_TOOL})
    code, output = run("validate", cwd=tmp_path)
    assert code == 1
    return [line for line in output.splitlines() if line.startswith("Error: ")]


def test_validate_says_when_a_python_agent_is_not_an_agent(tmp_path: Path) -> None:
    assert validate_errors(tmp_path, {"triage": {"python": "./exported_workflow.py:lookup_order"}}) == [
        "Error: chatkit.yaml:11:13: agents.triage.python: './exported_workflow.py:lookup_order' is a "
        "FunctionTool, not an Agents SDK Agent (hint: name an object built with Agent(...), e.g. "
        "./exported.py:triage_agent)",
    ]


def test_an_agent_needs_instructions_or_code(tmp_path: Path) -> None:
    assert validate_errors(tmp_path, {"triage": {"model": "gpt-4.1"}}) == [
        "Error: chatkit.yaml:10:3: agents.triage: an agent needs `instructions`, or `python` naming an "
        "Agent in your code",
    ]


async def test_a_handoff_in_code_goes_to_the_agent_yaml_declares_under_its_name(tmp_path: Path) -> None:
    config = {**DIRECT_CONFIG, "agents": {
        "triage": {"python": "./exported_workflow.py:triage_agent"},
        "billing_agent": {"instructions": "You are the YAML billing agent.", "model": "gpt-4.1-mini"},
    }}
    path = write_project(tmp_path, config, DIRECT_SCRIPT,
                         files={"exported_workflow.py": FIXTURE.read_text(), "tools.py": NOTE_TOOL})
    async with run_host(path) as running:
        client = running.client()
        turn = await client.create_thread("a refund please")
    assert turn.assistant_text == "Billing here, turn 1."
    assert [(c["model"], c["instructions"]) for c in recorded_calls(tmp_path)][1:] == [
        ("gpt-4.1-mini", "You are the YAML billing agent."),
    ]


async def test_an_agent_served_by_import_path_shows_a_widget_declared_in_yaml(tmp_path: Path) -> None:
    from ui_project import ORDER_CARD

    script = {"replies": [{"steps": [
        {"call": "show_order",
         "arguments": {"order_id": "A-1001", "status": "processing", "eta": "next week"}},
        {"say": "Here is the card."},
    ]}]}
    config = {**DIRECT_CONFIG, "agents": {"triage": {"python": "./exported_workflow.py:triage_agent",
                                                     "tools": ["show_order"]}},
              "tools": {"show_order": {"widget": "order_card"}}}
    path = write_project(tmp_path, config, script, files={
        "exported_workflow.py": FIXTURE.read_text(), "widgets/order_card.widget": ORDER_CARD})
    async with run_host(path) as running:
        client = running.client()
        turn = await client.create_thread("show me my order")
        assert turn.assistant_text == "Here is the card."
        stored = (await client.list_items(turn.thread_id))["data"]
    assert [i["type"] for i in stored] == ["user_message", "widget", "assistant_message"]
    assert stored[1]["widget"]["children"][1]["value"] == "Carrier: not assigned yet. Arrives: next week."


def test_an_edit_to_the_agent_module_reaches_the_next_runtime(tmp_path: Path) -> None:
    # Reload builds a new runtime when a watched file changes: the module must be watched, and
    # rebuilding must run its new code rather than a cached module.
    path = write_project(tmp_path, DIRECT_CONFIG, DIRECT_SCRIPT,
                         files={"exported_workflow.py": FIXTURE.read_text(), "tools.py": NOTE_TOOL})
    loaded = load_config(path, environ={})
    assert (tmp_path / "exported_workflow.py") in loaded.files
    before = build_runtime(loaded)
    module = tmp_path / "exported_workflow.py"
    module.write_text(module.read_text().replace("You greet customers", "You welcome customers"))
    after = build_runtime(load_config(path, environ={}))
    assert after.version != before.version
    assert after.agents["triage"].instructions.startswith("You welcome customers")
    assert before.agents["triage"].instructions.startswith("You greet customers")


def test_a_module_without_agents_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("def make():\n    return Agent(name='Later')\n")
    code, output = run("import", "agents-sdk", "empty.py", cwd=tmp_path)
    assert (code, output.splitlines()) == (1, [
        "Error: empty.py has no module-level `name = Agent(...)`; nothing was written (hint: agents "
        "built inside functions can be served by import path instead)"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.py"]
