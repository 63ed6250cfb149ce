"""`http` tools over HTTP, against a local API server the test starts; hosted tools as built."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatkit_host.config.loader import load_config
from chatkit_host.errors import ConfigError
from chatkit_host.runtime.build import build_runtime
from chatkit_host.testing import ChatKitClient, run_host
from loopback import JsonHandler, serving
from projects import base_config, recorded_calls, write_project


class API(JsonHandler):
    """Orders API: GET /orders/{id}, POST /orders/{id}/notes (echoes), /big, /slow, /fail."""

    seen: list[dict[str, Any]] = []

    def do_GET(self) -> None:  # noqa: N802
        API.seen.append({"method": "GET", "path": self.path, "auth": self.headers.get("Authorization")})
        if self.path.startswith("/big"):
            return self.send_json(b"x" * 5000)
        if self.path.startswith("/fail"):
            return self.send_json({"detail": "down for maintenance"}, status=503)
        order = self.path.split("/")[2].split("?")[0]
        return self.send_json({"order": order, "status": "shipped"})

    def do_POST(self) -> None:  # noqa: N802
        body = self.read_json()
        API.seen.append({"method": "POST", "path": self.path, "body": body})
        return self.send_json({"saved": body}, status=201)


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with serving(API) as url:
        yield url


def project(root: Path, api: str, tool: dict[str, Any], arguments: dict[str, Any]) -> Path:
    config = base_config()
    config["tools"]["api"] = tool
    config["agents"]["triage"]["tools"] = ["api"]
    script = {"replies": [{"steps": [
        {"call": "api", "arguments": arguments},
        {"say": "Result: {{ tool_output }}"},
    ]}]}
    return write_project(root, config, script)


async def ask(path: Path, text: str = "go", environ: dict[str, str] | None = None) -> Any:
    async with run_host(path, environ=environ or {}) as running:
        http = running.http
        return await ChatKitClient("/chatkit", client=http).create_thread(text)


def last_tool_output(root: Path) -> str:
    items = recorded_calls(root)[-1]["input"]
    return next(item["output"] for item in reversed(items) if item.get("type") == "function_call_output")


async def test_a_get_with_a_url_template_and_env_headers(tmp_path: Path, api: str) -> None:
    tool = {"http": {"url": api + "/orders/{order_id}", "headers": {"Authorization": "Bearer ${API_TOKEN}"},
                     "parameters": {"order_id": "string", "verbose": "boolean?"}},
            "progress": "Looking up the order…"}
    turn = await ask(project(tmp_path, api, tool, {"order_id": "A 1/2", "verbose": True}),
                     environ={"API_TOKEN": "s3cret"})
    assert API.seen[-1] == {"method": "GET", "path": "/orders/A%201%2F2?verbose=true", "auth": "Bearer s3cret"}
    expected = '{"order": "A%201%2F2", "status": "shipped"}'
    assert last_tool_output(tmp_path) == expected  # what the model received
    assert turn.assistant_text == f"Result: {expected}"
    assert {"type": "progress_update", "icon": None, "text": "Looking up the order…"} in [
        {k: e.get(k) for k in ("type", "icon", "text")} for e in turn.events if e["type"] == "progress_update"]


async def test_a_query_string_in_the_url_is_kept_beside_the_arguments(tmp_path: Path, api: str) -> None:
    # A key the API wants in the query, and a URL field placed in the query: both reach the API,
    # with the other arguments beside them; an argument cannot replace the configured key.
    tool = {"http": {"url": api + "/orders/x?key=${ORDERS_KEY}&id={order_id}",
                     "parameters": {"order_id": "string", "verbose": "boolean?", "key": "string?"}}}
    await ask(project(tmp_path, api, tool, {"order_id": "A 1", "verbose": True, "key": "forged"}),
              environ={"ORDERS_KEY": "k1"})
    assert API.seen[-1]["path"] == "/orders/x?key=k1&id=A+1&verbose=true"
    await ask(project(tmp_path, api, {"http": {"url": api + "/orders/x?key=${ORDERS_KEY}"}}, {}),
              environ={"ORDERS_KEY": "k1"})
    assert API.seen[-1]["path"] == "/orders/x?key=k1"


async def test_a_post_sends_the_other_arguments_as_json(tmp_path: Path, api: str) -> None:
    tool = {"http": {"method": "POST", "url": api + "/orders/{order_id}/notes",
                     "parameters": {"order_id": "string", "note": "string", "tags": "array"}}}
    await ask(project(tmp_path, api, tool, {"order_id": "A1", "note": "fragile", "tags": ["x"]}))
    assert API.seen[-1] == {"method": "POST", "path": "/orders/A1/notes",
                            "body": {"note": "fragile", "tags": ["x"]}}
    assert json.loads(last_tool_output(tmp_path)) == {"saved": {"note": "fragile", "tags": ["x"]}}


# Values that would leave /orders/… once a client or server removes dot segments (or decodes first).
CLIMBING = ["..", ".", "%2e%2e", "%252E%252E", "a/../..", "..\\..", "x/."]


@pytest.mark.parametrize("order_id", CLIMBING)
async def test_a_value_never_climbs_out_of_the_path_the_url_fixes(
    tmp_path: Path, api: str, order_id: str
) -> None:
    tool = {"http": {"url": api + "/orders/{order_id}", "headers": {"Authorization": "Bearer ${API_TOKEN}"}}}
    before = len(API.seen)
    turn = await ask(project(tmp_path, api, tool, {"order_id": order_id}), environ={"API_TOKEN": "s3cret"})
    expected = "error: order_id may not hold a '.' or '..' path segment: a value cannot change the URL's path"
    assert last_tool_output(tmp_path) == expected  # the model reads why, and may retry
    assert turn.assistant_text == f"Result: {expected}"
    assert API.seen[before:] == []  # nothing was sent, with or without the tool's credentials


async def test_an_expression_in_the_url_never_climbs_either(tmp_path: Path, api: str) -> None:
    tool = {"http": {"url": api + "/orders/{{ arguments.order_id }}/notes", "parameters": {"order_id": "string"}}}
    before = len(API.seen)
    await ask(project(tmp_path, api, tool, {"order_id": ".."}))
    assert last_tool_output(tmp_path) == ("error: {{ arguments.order_id }} may not hold a '.' or '..' path segment: "
                                          "a value cannot change the URL's path")
    assert API.seen[before:] == []


async def test_dots_that_are_not_a_segment_of_their_own_reach_the_api(tmp_path: Path, api: str) -> None:
    tool = {"http": {"url": api + "/orders/{order_id}/notes?q={q}", "method": "POST"}}
    await ask(project(tmp_path, api, tool, {"order_id": "...", "q": ".."}))
    assert API.seen[-1]["path"] == "/orders/.../notes?q=.."
    await ask(project(tmp_path, api, tool, {"order_id": "v1.2..3", "q": "."}))
    assert API.seen[-1]["path"] == "/orders/v1.2..3/notes?q=."


ACTION = {"order.fetch": {"payload": {"order_id": "string"}, "do": [{"call": "api"}, {"say": "Got: {{ result.status if result is mapping else result }}"}]}}


async def test_an_action_payload_never_climbs_out_of_the_path(tmp_path: Path, api: str) -> None:
    config = base_config()
    config["tools"]["api"] = {"http": {"url": api + "/orders/{order_id}"}}
    config["actions"] = ACTION
    path = write_project(tmp_path, config, {"replies": [{"steps": [{"say": "Hi."}]}]})
    async with run_host(path, environ={}) as running:
        client = ChatKitClient("/chatkit", client=running.http)
        thread_id = (await client.create_thread("hello")).thread_id
        before = len(API.seen)
        climbed = await client.stream("threads.custom_action", {
            "thread_id": thread_id, "action": {"type": "order.fetch", "payload": {"order_id": ".."}}})
        assert API.seen[before:] == []
        fetched = await client.stream("threads.custom_action", {
            "thread_id": thread_id, "action": {"type": "order.fetch", "payload": {"order_id": "A1"}}})
    assert climbed.assistant_text == (
        "Got: error: order_id may not hold a '.' or '..' path segment: a value cannot change the URL's path")
    assert [seen["path"] for seen in API.seen[before:]] == ["/orders/A1"]
    assert fetched.assistant_text == "Got: shipped"


@pytest.mark.parametrize(("path", "expected"), [
    ("/big", "x" * 100 + "\n[response cut at 100 bytes]"),
    ("/fail", 'error: the API answered 503 Service Unavailable: {"detail": "down for maintenance"}'),
])
async def test_failures_and_big_answers_reach_the_model_as_text(
    tmp_path: Path, api: str, path: str, expected: str
) -> None:
    tool = {"http": {"url": api + path, "max_response_bytes": 100}}
    turn = await ask(project(tmp_path, api, tool, {}))
    assert last_tool_output(tmp_path) == expected
    assert turn.assistant_text == f"Result: {expected}"


async def test_an_unreachable_api_is_an_error_the_model_sees(tmp_path: Path, api: str) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    tool = {"http": {"url": f"http://127.0.0.1:{port}/x", "timeout": 2}}
    turn = await ask(project(tmp_path, api, tool, {}))
    assert last_tool_output(tmp_path) == "error: the API could not be reached (ConnectError)"
    assert not turn.errors


async def test_hosted_tools_are_given_to_the_model(tmp_path: Path) -> None:
    config = base_config()
    config["tools"] = {
        "search": {"hosted": "web_search"},
        "docs": {"hosted": {"type": "file_search", "vector_store_ids": ["vs_123"], "max_num_results": 3}},
        "draw": {"hosted": {"type": "image_generation", "partial_images": 2, "size": "1024x1024"}},
        "python": {"hosted": "code_interpreter"},
    }
    config["agents"]["triage"]["tools"] = ["search", "docs", "draw", "python"]
    config["files"] = {"url": "file://stored"}  # where generated images go
    runtime = build_runtime(load_config(write_project(tmp_path, config), environ={}))
    tools = {tool.name: tool for tool in runtime.agents["triage"].tools}
    assert sorted(tools) == ["code_interpreter", "file_search", "image_generation", "web_search"]
    assert tools["file_search"].vector_store_ids == ["vs_123"]
    assert tools["file_search"].max_num_results == 3
    assert tools["image_generation"].tool_config["partial_images"] == 2
    assert tools["code_interpreter"].tool_config["container"] == {"type": "auto", "file_ids": []}


def test_file_search_needs_vector_stores(tmp_path: Path) -> None:
    config = base_config()
    config["tools"]["docs"] = {"hosted": "file_search"}
    with pytest.raises(ConfigError) as error:
        load_config(write_project(tmp_path, config), environ={})
    assert "tools.docs.hosted: file_search needs vector stores" in str(error.value)


class FakeAudioAPI(JsonHandler):
    """An OpenAI-compatible `/v1/audio/transcriptions` on loopback."""

    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802
        FakeAudioAPI.received.append(self.read_body())
        self.send_json({"text": " hello from the microphone "})


async def test_dictation_through_the_audio_api(tmp_path: Path) -> None:
    import base64

    with serving(FakeAudioAPI) as url:
        config = base_config()
        config["models"]["providers"]["audio"] = {"base_url": f"{url}/v1", "api_key": "sk-test"}
        config["transcription"] = {"provider": "audio", "model": "gpt-4o-transcribe"}
        async with run_host(write_project(tmp_path, config)) as running:
            http = running.http
            client = ChatKitClient("/chatkit", client=http)
            audio = base64.b64encode(b"\x1a\x45\xdf\xa3 fake webm").decode()
            result = await client.call("input.transcribe",
                                       {"audio_base64": audio, "mime_type": "audio/webm;codecs=opus"})
            assert result == {"text": "hello from the microphone"}
            assert b"gpt-4o-transcribe" in FakeAudioAPI.received[-1]

            from chatkit_host.testing import ChatKitHTTPError

            with pytest.raises(ChatKitHTTPError) as refused:
                await client.call("input.transcribe", {"audio_base64": audio, "mime_type": "video/avi"})
            assert refused.value.status == 400
            assert refused.value.body["error"]["message"] == (
                "audio of type video/avi cannot be transcribed; accepted: "
                "audio/webm, audio/ogg, audio/mp4, audio/mpeg, audio/wav")
            assert len(FakeAudioAPI.received) == 1  # the refused one never left the host


async def test_dictation_is_off_without_a_transcription_section(tmp_path: Path) -> None:
    from chatkit_host.testing import ChatKitHTTPError

    async with run_host(write_project(tmp_path, base_config())) as running:
        http = running.http
        with pytest.raises(ChatKitHTTPError) as off:
            await ChatKitClient("/chatkit", client=http).call(
                "input.transcribe", {"audio_base64": "AAAA", "mime_type": "audio/webm"})
    assert off.value.status == 501
    assert "add a `transcription` section" in off.value.body["error"]["message"]


class ChatModelAPI(JsonHandler):
    """An OpenAI-compatible `/v1/chat/completions` on loopback: keeps each request, streams "ok"."""

    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802
        ChatModelAPI.requests.append(self.read_json())
        chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"},
                              "finish_reason": None}]}
        end = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        body = "".join(f"data: {json.dumps(c)}\n\n" for c in (chunk, end)) + "data: [DONE]\n\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())


async def test_the_model_never_reads_an_http_tools_url_as_its_description(tmp_path: Path) -> None:
    with serving(ChatModelAPI) as url:
        config = base_config()
        config["models"]["providers"]["fake"] = {
            "base_url": f"{url}/v1", "api_key": "sk-test", "api": "chat_completions"}
        config["agents"]["triage"]["model"] = "fake/m"
        config["tools"]["order_api"] = {"http": {
            "url": "https://api.example.test/orders/{order_id}?key=${ORDERS_KEY}",
            "parameters": {"order_id": "string", "verbose": "boolean?"}}}
        config["tools"]["described"] = {"description": "Look up an order by id.", "http": {
            "url": "https://api.example.test/orders/{order_id}?key=${ORDERS_KEY}"}}
        config["agents"]["triage"]["tools"] = ["order_api", "described"]
        turn = await ask(write_project(tmp_path, config), environ={"ORDERS_KEY": "k-never-to-the-model"})
    assert turn.assistant_text == "ok"
    sent = ChatModelAPI.requests[-1]
    assert "k-never-to-the-model" not in json.dumps(sent)
    described = {t["function"]["name"]: t["function"]["description"] for t in sent["tools"]}
    assert {name: described[name] for name in ("order_api", "described")} == {
        "order_api": "HTTP GET tool order_api; parameters: order_id, verbose.",
        "described": "Look up an order by id."}
