"""Widget files: loaded, validated and sandboxed; shown by widget tools; listed and rendered by the CLI."""

from __future__ import annotations

import json
import textwrap
import shutil
from pathlib import Path
from typing import Any

import pytest

from chatkit_host.config.loader import load_config
from chatkit_host.errors import ConfigError
from chatkit_host.runtime.build import build_runtime
from chatkit_host.runtime.widgets import widget_json
from chatkit_host.testing import run_host
from projects import base_config, invoke_cli, recorded_calls, write_project
from ui_project import ORDER_CARD, write_ui_project

FIXTURES = Path(__file__).parent / "fixtures" / "widgets"
FIXTURE_DATA: dict[str, Any] = {  # from fixtures/widgets/README.md
    "list_view_no_data": None,
    "card_no_data": None,
    "list_view_with_data": {"items": [
        {"id": "blue", "label": "Blue line", "color": "blue-500"},
        {"id": "orange", "label": "Orange line", "color": "orange-500"},
        {"id": "purple", "label": "Purple line", "color": "purple-500"}]},
    "card_with_data": {"channel": "#proj-chatkit", "time": "4:48 PM",
                       "user": {"image": "/pam.png", "name": "Pam Beesly"}},
    "basic_root": {"name": "Harry Potter", "bio": "The boy who lived"},
}


def _fixture_project(root: Path) -> Path:
    """A project whose widget folder holds the Widget Studio exports (not their .json renders)."""
    for file in FIXTURES.glob("*.widget"):
        (root / "studio").mkdir(parents=True, exist_ok=True)
        shutil.copy(file, root / "studio" / file.name)
    config = base_config()
    config["widgets"] = {"folder": "studio"}
    return write_project(root, config)


def _cli(*args: str, cwd: Path) -> tuple[int, str, str]:
    result = invoke_cli(*args, cwd=cwd)
    return result.exit_code, result.stdout, result.stderr


def _problems(root: Path, files: dict[str, str]) -> list[str]:
    path = write_ui_project(root, files=files)
    with pytest.raises(ConfigError) as error:
        build_runtime(load_config(path, environ={}))
    return [p.render(root) for p in error.value.problems]


@pytest.mark.parametrize("name", sorted(FIXTURE_DATA))
def test_every_widget_studio_fixture_renders_exactly(tmp_path: Path, name: str) -> None:
    runtime = build_runtime(load_config(_fixture_project(tmp_path), environ={}))
    rendered = widget_json(runtime.widgets[name].render(FIXTURE_DATA[name]))
    assert rendered == json.loads((FIXTURES / f"{name}.json").read_text())


def test_the_cli_lists_widgets_and_renders_one(tmp_path: Path) -> None:
    _fixture_project(tmp_path)
    code, listing, _ = _cli("widgets", cwd=tmp_path)
    assert code == 0
    assert "basic_root  Author preview (basic_root.widget)" in listing
    assert '"minLength": 1' in listing and "card_no_data  Enable Notification (card_no_data.widget)\n  data: none" in listing

    (tmp_path / "data.json").write_text(json.dumps(FIXTURE_DATA["card_with_data"]))
    code, out, _ = _cli("widgets", "render", "card_with_data", "--data", "data.json", cwd=tmp_path)
    assert code == 0 and json.loads(out) == json.loads((FIXTURES / "card_with_data.json").read_text())

    (tmp_path / "bad.json").write_text(json.dumps({"channel": 5, "user": {"name": "Pam"}, "extra": 1}))
    code, out, errors = _cli("widgets", "render", "card_with_data", "--data", "bad.json", cwd=tmp_path)
    assert code == 1 and out == ""
    assert errors.splitlines() == [
        "Error: widget 'card_with_data': the data does not match the widget's jsonSchema:",
        "  data: 'time' is a required property",
        "  data: Additional properties are not allowed ('extra' was unexpected)",
        "  channel: 5 is not of type 'string'",
        "  user: 'image' is a required property",
    ]
    code, _, errors = _cli("widgets", "render", "nope", cwd=tmp_path)
    assert code == 1 and errors.startswith("Error: unknown widget 'nope' (widgets: basic_root, card_no_data,")


def test_broken_widget_files_are_reported_with_file_and_reason(tmp_path: Path) -> None:
    broken_template = json.loads(ORDER_CARD)
    broken_template["template"] = '{"type": "Card", "children": [{% for x in items %}]}'
    bad_schema = json.loads(ORDER_CARD)
    bad_schema["jsonSchema"] = {"type": "object", "properties": {"x": {"type": "strnig"}}}
    problems = _problems(tmp_path, {
        "widgets/syntax.widget": json.dumps(broken_template, indent=2),
        "widgets/schema.widget": json.dumps(bad_schema, indent=2),
        "widgets/tree.json": json.dumps({"type": "Banana", "children": []}),
        "widgets/notjson.widget": "{\n  \"version\": \"1.0\",\n  oops\n}",
    })
    assert problems == [
        "widgets/notjson.widget:3: not JSON: Expecting property name enclosed in double quotes (column 3)",
        "widgets/schema.widget:5: jsonSchema: invalid jsonSchema: 'strnig' is not valid under any of the given schemas",
        "widgets/syntax.widget:4: template: template syntax error on line 1 of the template: "
        "Unexpected end of template. Jinja was looking for the following tags: 'endfor' or 'else'. "
        "The innermost block that needs to be closed is 'for'.",
        "widgets/tree.json: invalid widget tree: type: Input should be 'Card', 'ListView' or 'Basic'",
    ]


def test_a_broken_widget_never_takes_down_a_running_host(tmp_path: Path) -> None:
    path = write_ui_project(tmp_path)

    async def scenario() -> None:
        async with run_host(path) as running:
            client = running.client()
            thread_id = (await client.create_thread("show me my order")).thread_id
            before = await client.list_items(thread_id)
            (tmp_path / "widgets" / "order_card.widget").write_text(
                ORDER_CARD.replace("{{ status | tojson }}", "{{ status | tojson }"))
            with pytest.raises(ConfigError) as error:  # what a reload would do: build the new config
                build_runtime(load_config(path, environ={}))
            assert "widgets/order_card.widget" in str(error.value) and "template syntax error" in str(error.value)
            assert await client.list_items(thread_id) == before  # still serving, nothing changed
            again = await client.add_message(thread_id, "show it again")
            assert [i["type"] for i in again.items_done] == ["user_message", "widget", "assistant_message"]

    import asyncio
    asyncio.run(scenario())


def test_unknown_widgets_and_forms_are_config_errors(tmp_path: Path) -> None:
    config = base_config()
    config["tools"]["show"] = {"widget": "order_crad"}
    config["tools"]["ask"] = {"form": "nope"}
    config["actions"] = {"x.y": {"do": [{"call": "show"}, {"show_widget": {"widget": "order_card"}},
                                         {"hidden_context": "{{ oops"}, {"respond": "nobody"}]}}
    path = write_project(tmp_path, config, files={"widgets/order_card.widget": ORDER_CARD})
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert [p.render(tmp_path) for p in error.value.problems] == [
        "chatkit.yaml:23:13: tools.show.widget: unknown widget 'order_crad' (hint: did you mean 'order_card'?)",
        "chatkit.yaml:25:11: tools.ask.form: unknown form 'nope' (hint: no forms are declared)",
        "chatkit.yaml:31:13: actions.x.y.do[0].call: tool 'show' is a widget tool; actions call python and "
        "http tools (hint: show widgets with show_widget and ask forms with ask)",
        "chatkit.yaml:34:23: actions.x.y.do[2].hidden_context: template syntax error: unexpected end of "
        "template, expected 'end of print statement'.",
        "chatkit.yaml:35:16: actions.x.y.do[3].respond: unknown agent 'nobody' (hint: known agents: triage, billing)",
    ]


def test_names_action_templates_will_not_have_are_config_errors(tmp_path: Path) -> None:
    # They passed validate and failed only when a user clicked (#18).
    write_project(tmp_path, files={"widgets/order_card.widget": ORDER_CARD})
    (tmp_path / "chatkit.yaml").write_text(textwrap.dedent("""\
        models: { default: demo/offline, providers: { demo: { scripted: demo.yaml } } }
        agents: { triage: { instructions: Be brief. } }
        tools: { lookup_order: { python: "./tools.py:lookup_order" } }
        actions:
          order.refresh:
            payload: { order_id: string }
            do:
              - call: lookup_order
                arguments: { order_id: "{{ paylod.order_id }}" }
              - update_widget: { widget: order_card, data: "{{ reslt }}" }
              - hidden_context: "Order {{ payload.ordr_id }} for {{ user }} in {{ thread.id }}: {{ results.lookup_order }} {{ sender.id }}"
              - hidden_context: "{% for i in range(2) %}{{ loop.index }}{{ i }}{% endfor %}{{ payload['order_id'] }}"
        """))
    code, _, errors = _cli("validate", cwd=tmp_path)
    assert code == 1
    assert [line for line in errors.splitlines() if line.startswith("Error: ")] == [
        "Error: chatkit.yaml:9:32: actions.order.refresh.do[0].arguments.order_id: unknown template "
        "variable 'paylod' (hint: did you mean 'payload'?)",
        "Error: chatkit.yaml:10:52: actions.order.refresh.do[1].update_widget.data: unknown template "
        "variable 'reslt' (hint: did you mean 'result'?)",
        "Error: chatkit.yaml:11:25: actions.order.refresh.do[2].hidden_context: the payload has no field "
        "'ordr_id' (hint: did you mean 'order_id'?)",
    ]


async def test_a_widget_tool_streams_its_widget_and_its_text(tmp_path: Path) -> None:
    async with run_host(write_ui_project(tmp_path)) as running:
        host, client = running.host, running.client()
        turn = await client.create_thread("show me my order")
        kinds = [e["type"] for e in turn.events]
        assert "thread.item.added" in kinds
        deltas = [e["update"] for e in turn.events if e["type"] == "thread.item.updated"
                  and e["update"]["type"] == "widget.streaming_text.value_delta"]
        summary = "Carrier: not assigned yet. Arrives: next week."
        assert {d["component_id"] for d in deltas} == {"summary"} and len(deltas) > 3
        assert "".join(d["delta"] for d in deltas) == summary
        widget = next(i for i in turn.items_done if i["type"] == "widget")
        assert widget["widget"]["children"][1]["value"] == summary
        assert turn.assistant_text == "Here is the card."
        stored = (await client.list_items(turn.thread_id))["data"]
        assert [i["type"] for i in stored] == ["user_message", "widget", "assistant_message"]
        show = next(t for t in host.runtime.agents["triage"].tools if t.name == "show_order")
    assert "show_order" in recorded_calls(tmp_path)[0]["tools"]
    assert show.strict_json_schema is True
    assert show.params_json_schema["required"] == ["order_id", "status", "carrier", "eta"]
    assert show.params_json_schema["properties"]["eta"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}


async def test_data_that_breaks_the_widget_schema_is_not_shown(tmp_path: Path) -> None:
    async with run_host(write_ui_project(tmp_path)) as running:
        client = running.client()
        turn = await client.create_thread("a bad card please")
        assert [i["type"] for i in turn.items_done] == ["user_message", "assistant_message"]
        assert turn.assistant_text.startswith("The card said: The widget was not shown: the arguments do not "
                                              "fit it (order_id: '' should be non-empty)")
        stored = (await client.list_items(turn.thread_id))["data"]
        assert [i["type"] for i in stored] == ["user_message", "assistant_message"]


def test_untrusted_data_renders_in_a_sandbox(tmp_path: Path) -> None:
    hostile = json.loads(ORDER_CARD)
    hostile["template"] = hostile["template"].replace(
        "{{ status | tojson }}", "{{ status.__class__.__mro__ | string | tojson }}")
    path = write_ui_project(tmp_path, files={"widgets/order_card.widget": json.dumps(hostile)})
    runtime = build_runtime(load_config(path, environ={}))
    from chatkit_host.runtime.widgets import WidgetError

    with pytest.raises(WidgetError) as refused:
        runtime.widgets["order_card"].render({"order_id": "A-1", "status": "x"})
    assert refused.value.reason == "the template failed"
    assert "unsafe" in refused.value.errors[0] or "__class__" in refused.value.errors[0]
