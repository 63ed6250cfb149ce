"""`http` tools over HTTP, against a local API server the test starts; hosted tools as built."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from chatkit_host.app import create_app
from chatkit_host.config.loader import load_config
from chatkit_host.errors import ConfigError
from chatkit_host.host import Host
from chatkit_host.runtime.build import build_runtime
from chatkit_host.testing import ChatKitClient
from projects import base_config, recorded_calls, write_project


class API(BaseHTTPRequestHandler):
    """Orders API: GET /orders/{id}, POST /orders/{id}/notes (echoes), /big, /slow, /fail."""

    seen: list[dict[str, Any]] = []

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        API.seen.append({"method": "GET", "path": self.path, "auth": self.headers.get("Authorization")})
        if self.path.startswith("/big"):
            return self._answer(200, b"x" * 5000)
        if self.path.startswith("/fail"):
            return self._answer(503, b'{"detail": "down for maintenance"}')
        order = self.path.split("/")[2].split("?")[0]
        return self._answer(200, json.dumps({"order": order, "status": "shipped"}).encode())

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        API.seen.append({"method": "POST", "path": self.path, "body": body})
        return self._answer(201, json.dumps({"saved": body}).encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), API)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


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
    host = Host(build_runtime(load_config(path, environ=environ or {})))
    async with AsyncTestClient(create_app(host)) as http:
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


async def test_a_post_sends_the_other_arguments_as_json(tmp_path: Path, api: str) -> None:
    tool = {"http": {"method": "POST", "url": api + "/orders/{order_id}/notes",
                     "parameters": {"order_id": "string", "note": "string", "tags": "array"}}}
    await ask(project(tmp_path, api, tool, {"order_id": "A1", "note": "fragile", "tags": ["x"]}))
    assert API.seen[-1] == {"method": "POST", "path": "/orders/A1/notes",
                            "body": {"note": "fragile", "tags": ["x"]}}
    assert json.loads(last_tool_output(tmp_path)) == {"saved": {"note": "fragile", "tags": ["x"]}}


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


class FakeAudioAPI(BaseHTTPRequestHandler):
    """An OpenAI-compatible `/v1/audio/transcriptions` on loopback."""

    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802
        FakeAudioAPI.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({"text": " hello from the microphone "}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


async def test_dictation_through_the_audio_api(tmp_path: Path) -> None:
    import base64

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAudioAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = base_config()
    config["models"]["providers"]["audio"] = {"base_url": f"http://127.0.0.1:{server.server_address[1]}/v1",
                                              "api_key": "sk-test"}
    config["transcription"] = {"provider": "audio", "model": "gpt-4o-transcribe"}
    host = Host(build_runtime(load_config(write_project(tmp_path, config), environ={})))
    try:
        async with AsyncTestClient(create_app(host)) as http:
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
    finally:
        server.shutdown()


async def test_dictation_is_off_without_a_transcription_section(tmp_path: Path) -> None:
    from chatkit_host.testing import ChatKitHTTPError

    host = Host(build_runtime(load_config(write_project(tmp_path, base_config()), environ={})))
    async with AsyncTestClient(create_app(host)) as http:
        with pytest.raises(ChatKitHTTPError) as off:
            await ChatKitClient("/chatkit", client=http).call(
                "input.transcribe", {"audio_base64": "AAAA", "mime_type": "audio/webm"})
    assert off.value.status == 501
    assert "add a `transcription` section" in off.value.body["error"]["message"]
