"""Model providers beyond OpenAI (Azure OpenAI, LiteLLM) and the credentials check before serving.

The providers answer from a loopback stand-in of the Chat Completions API, so the requests the
host makes are real HTTP and what the user reads is what the stand-in streamed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from chatkit_host.testing import run_host
from logcapture import captured_logs
from loopback import JsonHandler, serving
from projects import base_config, write_project
from test_cli import run


@contextmanager
def chat_completions_stand_in(reply: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Streams `reply` as Chat Completions chunks; records each request's path, headers and body."""
    seen: list[dict[str, Any]] = []

    class Handler(JsonHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.read_json()
            seen.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
            chunks = [{"role": "assistant", "content": ""}, *({"content": word} for word in
                                                             reply.split(" ") if word)]
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for index, delta in enumerate(chunks):
                if index > 1:
                    delta = {"content": " " + delta["content"]}
                event = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0,
                         "model": body["model"],
                         "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            done = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0,
                    "model": body["model"], "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}
            self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())
            self.wfile.flush()

    with serving(Handler) as url:
        yield url, seen


def provider_project(root: Path, model: str, provider: dict[str, Any]) -> Path:
    config = base_config()
    config["models"] = {"default": model, "providers": {"remote": provider}}
    config["agents"] = {"triage": {"instructions": "You are terse."}}
    config.pop("tools")
    return write_project(root, config)


async def reply_from(path: Path, text: str) -> str:
    async with run_host(path) as running:
        turn = await running.client().create_thread(text)
    assert turn.errors == [], turn.events
    return turn.assistant_text


async def test_an_azure_provider_answers_from_its_deployment(tmp_path: Path) -> None:
    with chat_completions_stand_in("Hello from Azure") as (url, seen):
        path = provider_project(tmp_path, "remote/support-deployment", {
            "azure": {"endpoint": url, "api_version": "2024-10-21"},
            "api_key": "azure-test-key", "api": "chat_completions",
        })
        assert await reply_from(path, "hi") == "Hello from Azure"
    [request] = seen
    assert request["path"].startswith("/openai/deployments/support-deployment/chat/completions")
    assert "api-version=2024-10-21" in request["path"]
    assert request["headers"]["api-key"] == "azure-test-key"


async def test_a_litellm_provider_answers_through_litellm(tmp_path: Path) -> None:
    with chat_completions_stand_in("Hello through LiteLLM") as (url, seen):
        path = provider_project(tmp_path, "remote/openai/small-model", {
            "litellm": True, "base_url": url, "api_key": "litellm-test-key",
        })
        assert await reply_from(path, "hi") == "Hello through LiteLLM"
    [request] = seen
    assert request["path"] == "/chat/completions"
    assert request["body"]["model"] == "small-model"
    assert request["headers"]["authorization"] == "Bearer litellm-test-key"


def test_serve_refuses_to_start_when_a_provider_in_use_has_no_key(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    config = base_config()
    config["models"]["default"] = "gpt-4.1-mini"
    config["models"]["providers"]["azure"] = {"azure": {"endpoint": "https://example.invalid"}}
    config["agents"]["billing"]["model"] = "azure/billing-deployment"
    write_project(tmp_path, config)

    code, output = run("serve", "--port", "1", cwd=tmp_path)
    errors = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert code == 1
    assert errors == [
        "Error: chatkit.yaml:5:12: models.default: model 'gpt-4.1-mini' is served by OpenAI "
        "(provider 'openai'), which needs an API key (hint: set OPENAI_API_KEY, or "
        "models.providers.openai.api_key: \"${MY_KEY}\"; for an offline model see `scripted:` providers)",
        "Error: chatkit.yaml:22:12: agents.billing.model: model 'azure/billing-deployment' is served "
        "by Azure OpenAI (provider 'azure'), which needs an API key (hint: set AZURE_OPENAI_API_KEY, "
        "or models.providers.azure.api_key: \"${MY_KEY}\")",
    ]
    assert "serving" not in output
    assert "Traceback" not in output

    # validate says the same as warnings: it often runs where no secret is.
    code, output = run("validate", cwd=tmp_path)
    assert code == 0, output
    assert len([line for line in output.splitlines() if line.startswith("Warning: ")]) == 2

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-test-not-real")
    code, output = run("validate", cwd=tmp_path)
    assert code == 0 and "Warning" not in output, output


def test_a_provider_is_one_kind(tmp_path: Path) -> None:
    config = base_config()
    config["models"]["providers"]["mixed"] = {"litellm": True, "azure": {"endpoint": "https://x.invalid"}}
    write_project(tmp_path, config)
    code, output = run("validate", cwd=tmp_path)
    assert code == 1
    assert "models.providers.mixed: a provider is one kind; this one says azure and litellm" in output


async def test_an_app_built_without_the_key_tells_the_user_and_logs_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = base_config()
    config["models"]["default"] = "gpt-4.1-mini"
    path = write_project(tmp_path, config)
    with captured_logs() as records:
        async with run_host(path) as running:
            turn = await running.client().create_thread("hi")
    assert [error.get("message") for error in turn.errors] == [
        "The assistant's model is not set up on this server yet."]
    warnings = [record for record in records if record.levelno >= logging.WARNING
                and record.name == "chatkit_host.runtime.models"]
    assert [record.getMessage().split(":")[0] for record in warnings] == ["model provider cannot answer"]
    assert all(record.exc_info is None for record in records if record.levelno >= logging.ERROR)
