"""Workflow mistakes in chatkit.yaml: every one reported at once, at its file and line, with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatkit_host.config.loader import load_config
from chatkit_host.errors import ConfigError

HEAD = """\
version: 1
models: { default: demo/m, providers: { demo: { scripted: demo.yaml } } }
agents:
  classifier: { instructions: Classify. }
  writer: { instructions: Write. }
"""


def _errors(tmp_path: Path, workflows: str, entry: str = "support") -> list[str]:
    (tmp_path / "demo.yaml").write_text("replies: [{steps: [{say: hi}]}]\n")
    path = tmp_path / "chatkit.yaml"
    path.write_text(HEAD + f"entry: {entry}\n" + workflows)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    return error.value.render(tmp_path).splitlines()


def test_every_workflow_mistake_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    errors = _errors(tmp_path, """\
workflows:
  support:
    nodes:
      classify:
        agent: clasifier
        output: { type: object, properties: { category: { type: string } } }
        next: route
      route:
        if:
          - { when: 'outputs.classify.categroy == "booking"', then: bok }
          - { when: 'state.tries > 1', then: write }
        else: write
      write: { agent: writer, next: again }
      again: { agent: writer, next: write }
      spin: { while: 'true', max: 2, do: spin_body, next: route }
      spin_body: { agent: writer }
""")
    assert errors == [
        "chatkit.yaml:11:16: workflows.support.nodes.classify.agent: unknown agent 'clasifier' "
        "(hint: did you mean 'classifier'?)",
        "chatkit.yaml:16:21: workflows.support.nodes.route.if[0].when: node 'classify' outputs no field "
        "'categroy' (hint: did you mean 'category'?)",
        "chatkit.yaml:16:69: workflows.support.nodes.route.if[0].then: branches to nowhere: unknown node 'bok' "
        "(hint: nodes: classify, route, write, again, spin, spin_body)",
        "chatkit.yaml:17:21: workflows.support.nodes.route.if[1].when: unknown state variable 'tries' "
        "(hint: declare it under `state:`)",
        "chatkit.yaml:20:37: workflows.support.nodes.again.next: a loop with no exit or maximum: 'again' goes "
        "back to a node before it without passing a `while` node (hint: make the loop a `while` node with "
        "`max`, and end its body with `next:` it)",
        "chatkit.yaml:21:7: workflows.support.nodes.spin: node 'spin' is never reached from 'classify' "
        "(hint: point a `next`, `then`, `else` or `do` at it, or remove it)",
        "chatkit.yaml:21:42: workflows.support.nodes.spin.do: the loop's body never comes back to 'spin' "
        "(hint: end the body with `next: spin`)",
        "chatkit.yaml:22:7: workflows.support.nodes.spin_body: node 'spin_body' is never reached from "
        "'classify' (hint: point a `next`, `then`, `else` or `do` at it, or remove it)",
    ]


def test_a_while_without_a_maximum_and_a_node_of_two_kinds_are_refused(tmp_path: Path) -> None:
    errors = _errors(tmp_path, """\
workflows:
  support:
    nodes:
      loop: { while: 'true', do: write, next: done }
      write: { agent: writer, end: {}, next: loop }
      done: { end: { message: Bye } }
""")
    assert errors == [
        "chatkit.yaml:10:7: workflows.support.nodes.loop: a `while` node needs `max` (the most rounds) "
        "and `do` (the loop's first node)",
        "chatkit.yaml:11:7: workflows.support.nodes.write: a node has exactly one of agent, if, while, "
        "set_state, transform, approval, end (got agent, end)",
    ]


def test_an_unknown_entry_names_agents_and_workflows(tmp_path: Path) -> None:
    errors = _errors(tmp_path, "workflows: { support: { nodes: { a: { agent: writer } } } }\n", entry="suport")
    assert errors == ["chatkit.yaml:6:8: entry: unknown agent 'suport' (hint: did you mean 'support'?)"]


def test_a_bad_output_schema_and_end_template_are_refused(tmp_path: Path) -> None:
    errors = _errors(tmp_path, """\
workflows:
  support:
    nodes:
      classify: { agent: classifier, output: { type: object, properties: { a: { type: strin } } }, next: done }
      done: { end: { message: "Bye {{ outputs.classify.a " } }
""")
    assert errors == [
        "chatkit.yaml:10:87: workflows.support.nodes.classify.output.properties.a.type: not a valid JSON "
        "Schema: 'strin' is not valid under any of the given schemas",
        "chatkit.yaml:11:31: workflows.support.nodes.done.end.message: template does not parse: unexpected "
        "end of template, expected 'end of print statement'.",
    ]


def test_a_workflow_tool_names_a_declared_workflow(tmp_path: Path) -> None:
    errors = _errors(tmp_path, """\
tools: { ask: { workflow: suport } }
workflows: { support: { nodes: { a: { agent: writer } } } }
""")
    assert errors == ["chatkit.yaml:7:27: tools.ask.workflow: unknown workflow 'suport' "
                      "(hint: did you mean 'support'?)"]


def test_a_tool_approval_is_always_never_or_a_condition_on_a_kind_the_host_runs(tmp_path: Path) -> None:
    errors = _errors(tmp_path, """\
tools:
  a: { python: "./t.py:a", approval: "amount > 1" }
  b: { python: "./t.py:b", approval: "arguments.amount >" }
  c: { hosted: web_search, approval: always }
workflows: { support: { nodes: { a: { agent: writer } } } }
""")
    assert errors == [
        "chatkit.yaml:8:38: tools.a.approval: unknown name 'amount' (hint: a condition reads `arguments`)",
        "chatkit.yaml:9:38: tools.b.approval: neither always, never nor a condition that parses: "
        "arguments.amount > ^ (hint: e.g. `arguments.amount > 100`)",
        "chatkit.yaml:10:38: tools.c.approval: a hosted tool cannot wait for approval "
        "(hint: approval works with python, http, agent, workflow tools)",
    ]
