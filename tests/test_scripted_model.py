"""The offline scripted model, driven through the Agents SDK runner the way the host drives it."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import textwrap
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, ModelSettings, RunConfig, Runner, function_tool
from agents.agent import StopAtTools
from agents.exceptions import UserError
from agents.models.fake_id import FAKE_RESPONSES_ID
from agents.models.interface import ModelTracing
from agents.result import RunResultStreaming

from chatkit_host.errors import ConfigError
from chatkit_host.runtime.scripted import ScriptedProvider, ScriptedReplyModel, load_script

ORDER_SCRIPT = """
replies:
  - when: "order"
    steps:
      - call: lookup_order
        arguments: { order_id: "A-1001" }
      - say: "Order {{ tool_output }} is on its way."
  - when: ["hello", "/^hi\\\\b/"]
    steps:
      - say: "Hello!  You said:\\n{{ user_text }}"
  - steps:
      - say: "I'm the offline demo model. You said: {{ user_text }}"
"""

lookups: list[str] = []


@function_tool
def lookup_order(order_id: str) -> str:
    """Look an order up."""
    lookups.append(order_id)
    return f"#{order_id} (shipped)"


@function_tool
def pick_date(question: str) -> str:
    """Ask the user for a date in the browser (a client tool: the run stops at the call)."""
    return "pending"


@pytest.fixture(autouse=True)
def _clear_lookups() -> None:
    lookups.clear()


def write(tmp_path: Path, text: str, name: str = "demo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def config(tmp_path: Path, script: str, record: Path | None = None) -> RunConfig:
    provider = ScriptedProvider(load_script(write(tmp_path, script)), record=record)
    return RunConfig(model_provider=provider, tracing_disabled=True)


async def run(
    agent: Agent[Any], input: Any, run_config: RunConfig
) -> tuple[RunResultStreaming, list[str]]:
    """Run streamed to the end; the text deltas in the order they came."""
    result = Runner.run_streamed(agent, input, run_config=run_config)
    deltas = [
        event.data.delta
        async for event in result.stream_events()
        if event.type == "raw_response_event" and event.data.type == "response.output_text.delta"
    ]
    return result, deltas


def support(**kwargs: Any) -> Agent[Any]:
    return Agent(name="Support", instructions="Help.", tools=[lookup_order], **kwargs)


async def test_the_matching_reply_is_said_and_streamed_word_by_word(tmp_path: Path) -> None:
    result, deltas = await run(support(), "hello there", config(tmp_path, ORDER_SCRIPT))

    assert result.final_output == "Hello!  You said:\nhello there"
    assert "".join(deltas) == result.final_output
    assert len(deltas) == len(result.final_output.split()) == 5


async def test_patterns_are_case_insensitive_and_regexes_work(tmp_path: Path) -> None:
    run_config = config(tmp_path, ORDER_SCRIPT)

    hi, _ = await run(support(), "HI friend", run_config)
    high, _ = await run(support(), "highway", run_config)

    assert hi.final_output.startswith("Hello!")
    assert high.final_output == "I'm the offline demo model. You said: highway"


async def test_a_scripted_call_runs_the_real_tool_and_its_output_reaches_the_next_step(
    tmp_path: Path,
) -> None:
    result, _ = await run(support(), "Where is my ORDER?", config(tmp_path, ORDER_SCRIPT))

    assert lookups == ["A-1001"]
    assert result.final_output == "Order #A-1001 (shipped) is on its way."
    assert result.context_wrapper.usage.requests == 2


async def test_non_streamed_runs_play_the_same_script(tmp_path: Path) -> None:
    result = await Runner.run(support(), "my order?", run_config=config(tmp_path, ORDER_SCRIPT))

    assert lookups == ["A-1001"]
    assert result.final_output == "Order #A-1001 (shipped) is on its way."


async def test_user_text_is_data_never_template_code(tmp_path: Path) -> None:
    result, _ = await run(
        support(), "{{ 7*7 }} {% if true %}x{% endif %}", config(tmp_path, ORDER_SCRIPT)
    )

    assert result.final_output == (
        "I'm the offline demo model. You said: {{ 7*7 }} {% if true %}x{% endif %}"
    )


async def test_a_stop_at_tool_call_ends_the_run_and_the_next_run_continues_the_turn(
    tmp_path: Path,
) -> None:
    script = """
    replies:
      - steps:
          - call: pick_date
            arguments: { question: "When for {{ user_text }}?" }
          - say: "Booked for {{ tool_output }} (turn {{ turn }})."
    """
    agent = Agent(
        name="Booker",
        instructions="Book.",
        tools=[pick_date],
        tool_use_behavior=StopAtTools(stop_at_tool_names=["pick_date"]),
    )
    run_config = config(tmp_path, script)

    first, deltas = await run(agent, "dinner", run_config)

    assert deltas == []
    call = next(item.raw_item for item in first.new_items if item.type == "tool_call_item")
    assert call.name == "pick_date"
    assert json.loads(call.arguments) == {"question": "When for dinner?"}
    # The browser answers the client tool: its output replaces the stub's.
    history = [
        {**item, "output": "2025-06-01"} if item.get("type") == "function_call_output" else item
        for item in first.to_input_list()
    ]
    second, _ = await run(agent, history, run_config)

    assert second.final_output == "Booked for 2025-06-01 (turn 1)."


async def test_a_turn_ending_in_a_call_ends_with_an_empty_message(tmp_path: Path) -> None:
    script = """
    replies:
      - steps:
          - call: lookup_order
            arguments: { order_id: "B-2" }
    """
    result, _ = await run(support(), "go", config(tmp_path, script))

    assert lookups == ["B-2"]
    assert result.final_output == ""


async def test_a_final_say_repeats_past_the_end_of_its_turn(tmp_path: Path) -> None:
    script = """
    replies:
      - steps:
          - say: "Outputs so far: {{ tool_outputs | join(', ') }}"
    """
    history = [
        {"role": "user", "content": "go"},
        {"type": "function_call", "call_id": "c1", "name": "lookup_order", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "one"},
    ]
    result, _ = await run(support(), history, config(tmp_path, script))

    assert result.final_output == "Outputs so far: one"


async def test_a_handoff_is_a_scripted_call_and_the_next_agent_continues_the_turn(
    tmp_path: Path,
) -> None:
    script = """
    replies:
      - steps:
          - call: transfer_to_billing
          - say: "{{ agent }} here, about: {{ user_text }}"
    """
    billing = Agent(name="billing", instructions="Bill.")
    triage = Agent(name="triage", instructions="Route.", handoffs=[billing])

    result, _ = await run(triage, "my invoice", config(tmp_path, script))

    assert result.last_agent is billing
    assert result.final_output == "billing here, about: my invoice"


async def test_sequence_order_gives_the_nth_user_message_the_nth_reply_cycling(
    tmp_path: Path,
) -> None:
    script = """
    order: sequence
    replies:
      - when: "never matches"
        steps: [{ say: "one ({{ turn }})" }]
      - steps: [{ say: "two ({{ turn }})" }]
    """
    run_config = config(tmp_path, script)
    history: list[Any] = []
    answers = []
    for text in ["a", "b", "c"]:
        result, _ = await run(support(), [*history, {"role": "user", "content": text}], run_config)
        answers.append(result.final_output)
        history = result.to_input_list()

    assert answers == ["one (1)", "two (2)", "one (3)"]


async def test_user_text_comes_from_the_typed_message_not_chatkits_context_after_it(
    tmp_path: Path,
) -> None:
    history = [
        {"role": "user", "type": "message", "content": [{"type": "input_text", "text": "hello"}]},
        {
            "role": "user",
            "type": "message",
            "content": [
                {"type": "input_text", "text": "The user is referring to this in particular: x"}
            ],
        },
    ]
    result, _ = await run(support(), history, config(tmp_path, ORDER_SCRIPT))

    assert result.final_output == "Hello!  You said:\nhello"


@pytest.mark.parametrize(
    ("stream", "expected"),
    [("char", list("Hi, you")), ("whole", ["Hi, you"]), ("word", ["Hi, ", "you"])],
)
async def test_stream_modes(tmp_path: Path, stream: str, expected: list[str]) -> None:
    script = f"""
    stream: {stream}
    replies:
      - steps: [{{ say: "Hi, {{{{ user_text }}}}" }}]
    """
    _, deltas = await run(support(), "you", config(tmp_path, script))

    assert deltas == expected


async def test_messages_carry_the_sdk_fake_id_and_no_response_id(tmp_path: Path) -> None:
    result, _ = await run(support(), "hello", config(tmp_path, ORDER_SCRIPT))

    assert [item.raw_item.id for item in result.new_items] == [FAKE_RESPONSES_ID]
    assert result.raw_responses[0].response_id == FAKE_RESPONSES_ID
    unstreamed = await Runner.run(support(), "hello", run_config=config(tmp_path, ORDER_SCRIPT))
    assert unstreamed.raw_responses[0].response_id is None


async def test_server_side_conversation_state_is_refused(tmp_path: Path) -> None:
    run_config = config(tmp_path, ORDER_SCRIPT)

    with pytest.raises(UserError, match="no server-side conversation state"):
        await Runner.run(support(), "hello", run_config=run_config, previous_response_id="resp_1")


async def test_usage_counts_words(tmp_path: Path) -> None:
    result, _ = await run(support(), "hello big world", config(tmp_path, ORDER_SCRIPT))

    usage = result.context_wrapper.usage
    assert result.final_output == "Hello!  You said:\nhello big world"
    assert (usage.input_tokens, usage.output_tokens) == (4, 6)  # instructions + input; reply


async def test_delay_lets_a_caller_cancel_mid_message(tmp_path: Path) -> None:
    script = """
    delay_ms: 200
    replies:
      - steps: [{ say: "one two three four five" }]
    """
    result = Runner.run_streamed(support(), "go", run_config=config(tmp_path, script))
    deltas = []
    async for event in result.stream_events():
        if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
            deltas.append(event.data.delta)
            result.cancel()

    assert deltas == ["one "]


async def test_the_record_file_has_one_line_per_model_call_with_its_input(tmp_path: Path) -> None:
    record = tmp_path / "calls.jsonl"
    run_config = config(tmp_path, ORDER_SCRIPT, record=record)

    await run(support(), "order please", run_config)

    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(lines) == 2
    assert lines[0] == {
        "model": "scripted",
        "instructions": "Help.",
        "input": [{"role": "user", "content": "order please"}],
        "tools": ["lookup_order"],
        "previous_response_id": None,
        "tool_choice": None,
    }
    assert [item.get("type") for item in lines[1]["input"]][1:] == [
        "function_call",
        "function_call_output",
    ]
    assert lines[1]["input"][2]["output"] == "#A-1001 (shipped)"


def _record_calls(script_path: Path, record: Path, worker: int) -> None:
    model = ScriptedReplyModel(load_script(script_path), model_name=f"w{worker}", record=record)
    big = "word " * 20_000  # far beyond any pipe/page size: a torn write would show

    async def calls() -> None:
        for _ in range(10):
            await model.get_response(
                None,
                [{"role": "user", "content": big}],
                ModelSettings(),
                [],
                None,
                [],
                ModelTracing.DISABLED,
                previous_response_id=None,
                conversation_id=None,
                prompt=None,
            )

    asyncio.run(calls())


def test_record_lines_stay_whole_under_appends_from_several_processes(tmp_path: Path) -> None:
    script_path = write(tmp_path, ORDER_SCRIPT)
    record = tmp_path / "calls.jsonl"
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_record_calls, args=(script_path, record, n)) for n in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    lines = record.read_text().splitlines()
    assert len(lines) == 40
    assert sorted({json.loads(line)["model"] for line in lines}) == ["w0", "w1", "w2", "w3"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "replies:\n  - steps: [\n  bad: : x\n",
            "demo.yaml:3:8: invalid YAML: expected the node content, but found ':' "
            "(while parsing a flow node on line 3)",
        ),
        (
            "replies:\n  - steps:\n      - sya: hi\n",
            "demo.yaml:3:9: replies[0].steps[0].sya: unknown key 'sya' (hint: did you mean 'say'?)",
        ),
        (
            "replies:\n  - steps: [{ say: hi }]\nstrem: char\n",
            "demo.yaml:3:1: strem: unknown key 'strem' (hint: did you mean 'stream'?)",
        ),
        (
            "replies:\n  - steps:\n      - arguments: {}\n",
            "demo.yaml:3:9: replies[0].steps[0]: a step needs `say`, `call` or `image`",
        ),
        (
            "replies:\n  - steps:\n      - image: {}\n        say: hi\n",
            "demo.yaml:3:9: replies[0].steps[0]: a step has both `say` and `image`"
            " (hint: make them two steps)",
        ),
        (
            "replies:\n  - steps:\n      - image: { partial_images: 5 }\n",
            "demo.yaml:3:34: replies[0].steps[0].image.partial_images:"
            " must be a whole number from 0 to 3",
        ),
        (
            'replies:\n  - steps:\n      - image: { color: "blue" }\n',
            'demo.yaml:3:25: replies[0].steps[0].image.color: must be a color like "#3366cc"',
        ),
        (
            "replies:\n  - steps:\n      - image: { partials: 2 }\n",
            "demo.yaml:3:18: replies[0].steps[0].image.partials: unknown key 'partials'"
            " (hint: did you mean 'partial_images'?)",
        ),
        (
            "replies:\n  - steps:\n      - image: 2\n",
            "demo.yaml:3:16: replies[0].steps[0].image: must be a mapping,"
            " e.g. `{ partial_images: 2 }` (or `{}`)",
        ),
        (
            "replies:\n  - steps:\n      - say: hi\n        call: lookup_order\n",
            "demo.yaml:3:9: replies[0].steps[0]: a step has both `say` and `call`"
            " (hint: make them two steps)",
        ),
        (
            'replies:\n  - when: ["ok", "/(unclosed/"]\n    steps: [{ say: hi }]\n',
            "demo.yaml:2:18: replies[0].when[1]: bad regular expression:"
            " missing ), unterminated subpattern at position 0",
        ),
        (
            "replies:\n  - steps:\n      - say: |\n          fine\n          {{ user_text\n",
            "demo.yaml:5: replies[0].steps[0].say: template error:"
            " unexpected end of template, expected 'end of print statement'.",
        ),
        (
            'replies:\n  - steps:\n      - say: "{{ user_txt }}"\n',
            "demo.yaml:3:14: replies[0].steps[0].say: unknown template variable 'user_txt'"
            " (hint: did you mean 'user_text'?)",
        ),
        (
            "replies:\n  - steps: [{ say: hi }]\norder: random\n",
            "demo.yaml:3:8: order: must be one of: match, sequence",
        ),
        ("order: match\n", "demo.yaml:1:1: replies: must be a non-empty list of replies"),
    ],
    ids=[
        "yaml",
        "unknown-key",
        "unknown-top-key",
        "neither",
        "image-and-say",
        "image-partials",
        "image-color",
        "image-unknown-key",
        "image-not-mapping",
        "both",
        "regex",
        "jinja",
        "variable",
        "order",
        "no-replies",
    ],
)
def test_load_errors_name_the_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError) as raised:
        load_script(path)

    assert raised.value.render(relative_to=tmp_path) == message


def test_a_missing_script_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_script(tmp_path / "nope.yaml")

    assert raised.value.render(relative_to=tmp_path) == (
        "nope.yaml: script not found"
    )


IMAGE_SCRIPT = """
replies:
  - when: draw
    steps:
      - image: { partial_images: 2, color: "#ff0000" }
      - say: "Here is your picture."
  - steps:
      - say: "Echo: {{ user_text }}"
"""


@pytest.mark.parametrize("chains", [False, True], ids=["full-history", "chained"])
async def test_an_image_step_streams_a_hosted_image_call_then_the_next_step_says(
    tmp_path: Path, chains: bool
) -> None:
    import base64

    from agents import ImageGenerationTool

    from chatkit_host.runtime.scripted.image import scripted_png

    provider = ScriptedProvider(load_script(write(tmp_path, IMAGE_SCRIPT)), chains=chains)
    agent = Agent(name="Painter", instructions="Draw.", tools=[ImageGenerationTool(
        tool_config={"type": "image_generation", "partial_images": 2})])
    result = Runner.run_streamed(
        agent, "draw a cat", auto_previous_response_id=chains,
        run_config=RunConfig(model_provider=provider, tracing_disabled=True),
    )
    events = [event.data async for event in result.stream_events() if event.type == "raw_response_event"]

    kinds = [event.type for event in events]
    image_events = kinds[: kinds.index("response.completed") + 1]
    assert image_events == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.image_generation_call.in_progress", "response.image_generation_call.generating",
        "response.image_generation_call.partial_image", "response.image_generation_call.partial_image",
        "response.image_generation_call.completed", "response.output_item.done", "response.completed",
    ]
    added, done = events[2].item, events[8].item
    assert (added.type, added.status, added.result) == ("image_generation_call", "in_progress", None)
    partials = [event for event in events if event.type.endswith(".partial_image")]
    assert [p.partial_image_index for p in partials] == [0, 1]
    assert all(p.item_id == done.id for p in partials)
    assert base64.b64decode(partials[0].partial_image_b64) != base64.b64decode(partials[1].partial_image_b64)
    assert (done.status, base64.b64decode(done.result)) == ("completed", scripted_png((255, 0, 0)))
    # The runner executes nothing for a hosted call: it asks the model again, which says the next step.
    assert result.final_output == "Here is your picture."
    assert result.context_wrapper.usage.requests == 2
    assert [item.type for item in result.new_items] == ["tool_call_item", "message_output_item"]


def test_a_scripted_png_is_a_valid_png_of_its_color() -> None:
    import struct
    import zlib

    from chatkit_host.runtime.scripted.image import scripted_png

    data = scripted_png((0x33, 0x66, 0xCC))
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    chunks, at = {}, 8
    while at < len(data):
        (length,), kind = struct.unpack(">I", data[at:at + 4]), data[at + 4:at + 8]
        body = data[at + 8:at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0] == zlib.crc32(kind + body)
        chunks[kind] = body
        at += 12 + length
    assert struct.unpack(">IIBB", chunks[b"IHDR"][:10]) == (2, 2, 8, 2)  # 2×2, 8-bit RGB
    assert zlib.decompress(chunks[b"IDAT"]) == (b"\x00" + b"\x33\x66\xcc" * 2) * 2
    assert set(chunks) == {b"IHDR", b"IDAT", b"IEND"}
