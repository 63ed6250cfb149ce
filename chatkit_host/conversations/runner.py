"""Run conversation tests over the real ChatKit endpoint, offline.

The app is the one `chatkit-host serve` runs (`create_app`), in-process (ASGI, no socket), built
from the project's own chatkit.yaml with three things changed so a test run touches nothing of the
user's: the store is `memory://` (and attachment bytes `memory://`), scripted models record their
input to a temporary file (for `model_input` expectations), and each conversation runs as its own
user on a fresh store. Every model must be scripted: conversation tests never call a paid API.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatkit_host.config.loader import LoadedConfig
from chatkit_host.config.models import AgentConfig, AuthConfig, ProviderConfig, StoreConfig
from chatkit_host.conversations.expectations import Failure, check_step
from chatkit_host.conversations.spec import Conversation, Step
from chatkit_host.context import RequestContext
from chatkit_host.host import Host
from chatkit_host.runtime.build import Runtime, build_runtime
from chatkit_host.runtime.models import split_reference
from chatkit_host.runtime.workflows.run import RAN as WORKFLOW_RAN
from chatkit_host.testing import ChatKitClient, ChatKitHTTPError, Turn, run_host

TEST_PROVIDER = "conversation-tests"
"""The provider `--script` adds; every agent is pointed at it."""
DEFAULT_USER = "conversation-test"


class NotOffline(Exception):
    """An agent would call a real model; the message names it and how to fix it."""


@dataclass
class Outcome:
    """What running one conversation found."""

    conversation: Conversation
    failures: list[Failure] = field(default_factory=list)
    steps_run: int = 0

    @property
    def passed(self) -> bool:
        return not self.failures


def offline_config(loaded: LoadedConfig, record: Path, script: Path | None = None) -> LoadedConfig:
    """``loaded`` made safe to test: memory store, recorded scripted models, nothing else changed.

    Raises:
        NotOffline: when an agent's model is not scripted (and no ``script`` replaces them).
    """
    config = loaded.config
    providers = dict(config.models.providers)
    agents = dict(config.agents)
    default = config.models.default
    if script is not None:
        providers[TEST_PROVIDER] = ProviderConfig(scripted=str(script.resolve()))
        default = f"{TEST_PROVIDER}/scripted"
        agents = {name: _with_model(spec, default) for name, spec in agents.items()}
    for name, spec in agents.items():
        if spec.python is not None and spec.model is None:
            raise NotOffline(
                f"agent '{name}' comes from code and its model is not set in chatkit.yaml: "
                "conversation tests run offline (hint: set its `model` to a scripted provider, or "
                "pass --script demo.yaml to answer every agent from that script)"
            )
        provider, _ = split_reference(spec.model or default, providers)
        if provider not in providers or not providers[provider].scripted:
            raise NotOffline(
                f"agent '{name}' uses the model '{spec.model or default}', which is not scripted: "
                "conversation tests run offline (hint: point models.default at a scripted provider, "
                "or pass --script demo.yaml to answer every agent from that script)"
            )
    providers = {
        name: p.model_copy(update={"record": str(record)}) if p.scripted else p
        for name, p in providers.items()
    }
    update: dict[str, Any] = {
        "store": StoreConfig(url="memory://"),
        "models": config.models.model_copy(update={"providers": providers, "default": default}),
        "agents": agents,
    }
    files = getattr(config, "files", None)
    if files is not None:
        update["files"] = files.model_copy(update={"url": "memory://conversation-tests"})
    return dataclasses.replace(loaded, config=config.model_copy(update=update))


def build_offline(loaded: LoadedConfig, record: Path, script: Path | None = None) -> Runtime:
    """The runtime conversation tests run on (see `offline_config`)."""
    return build_runtime(offline_config(loaded, record, script))


async def run_conversation(runtime: Runtime, conversation: Conversation, record: Path) -> Outcome:
    """Run every step of ``conversation`` on a fresh in-memory store; collect what fails."""
    user = conversation.user or DEFAULT_USER
    config = runtime.config.model_copy(update={"auth": AuthConfig(mode="none", user=user)})
    runtime = dataclasses.replace(runtime, loaded=dataclasses.replace(runtime.loaded, config=config))
    outcome = Outcome(conversation)
    async with run_host(runtime) as running:
        state = _Thread(running.client(), running.host, RequestContext(user_id=user))
        for index, step in enumerate(conversation.steps):
            outcome.steps_run += 1
            failures = await _run_step(state, step, index, record)
            outcome.failures += failures
            if any(f.key == "request" for f in failures):
                break  # later steps build on this one's answer
    return outcome


@dataclass
class _Thread:
    """The conversation so far, as the client has seen it."""

    client: ChatKitClient
    host: Host
    context: RequestContext
    """The conversation's user, to read what the protocol does not send (the nodes a workflow ran)."""
    thread_id: str | None = None
    items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def saw(self, turn: Turn) -> None:
        self.thread_id = self.thread_id or turn.thread_id
        for event in turn.events:
            if event["type"] in ("thread.item.done", "thread.item.replaced"):
                self.items[event["item"]["id"]] = event["item"]
            elif event["type"] == "thread.item.removed":
                self.items.pop(event["item_id"], None)

    def latest(self, type: str, status: str | None = None) -> dict[str, Any] | None:
        for item in reversed(self.items.values()):
            if item["type"] == type and (status is None or item.get("status") == status):
                return item
        return None


class _StepRefused(Exception):
    """The step cannot be sent (no form is waiting, no user message to retry, …)."""


async def _run_step(state: _Thread, step: Step, index: int, record: Path) -> list[Failure]:
    before = len(_calls(record))
    try:
        turn = await _send(state, step)
    except _StepRefused as refused:
        return [Failure(step, index, "request", str(refused))]
    except ChatKitHTTPError as error:
        body = error.body if isinstance(error.body, dict) else {"error": {"message": error.body}}
        refusal = {"status": error.status, **body.get("error", {})}
        if "error" in step.expect:
            return check_step(step, index, {"error": refusal}, only=("error",))
        return [Failure(step, index, "request", "the host refused it: HTTP {status} {code}: "
                        "{message}".format_map({"code": "", "message": "", **refusal}))]
    state.saw(turn)
    calls = _calls(record)[before:]
    observed = await _observe(state, step, turn, calls)
    failures = check_step(step, index, observed)
    if turn.errors and "error" not in step.expect:
        messages = "; ".join(str(e.get("message") or e.get("code")) for e in turn.errors)
        failures.append(Failure(step, index, "request", f"the stream reported an error: {messages}"))
    return failures


async def _send(state: _Thread, step: Step) -> Turn:
    client, thread_id, value = state.client, state.thread_id, step.value
    if step.kind == "user":
        if thread_id is None:
            return await client.create_thread(value)
        return await client.add_message(thread_id, value)
    assert thread_id is not None  # the first step is always `user` (checked when loading)
    if step.kind == "action":
        widget = state.latest("widget")
        item_id = value["item"] if "item" in value else (widget["id"] if widget else None)
        return await client.custom_action(thread_id, value["type"], value.get("payload"), item_id)
    if step.kind == "form":
        form = state.latest("structured_input", "pending")
        if form is None:
            raise _StepRefused("no form is waiting for answers in this thread")
        if value == "skip":
            return await client.add_structured_input(thread_id, form["id"], {}, skipped=True)
        answers = {key: None if v is None else [str(x) for x in (v if isinstance(v, list) else [v])]
                   for key, v in value.items()}
        return await client.add_structured_input(thread_id, form["id"], answers)
    if step.kind == "client_tool":
        call = state.latest("client_tool_call", "pending")
        if call is None:
            raise _StepRefused("no client tool call is waiting for a result in this thread")
        if "name" in value and value["name"] != call["name"]:
            raise _StepRefused(f"the pending client tool call is '{call['name']}', not '{value['name']}'")
        return await client.add_client_tool_output(thread_id, value["result"])
    if step.kind == "retry":
        message = state.latest("user_message")
        if message is None:
            raise _StepRefused("there is no user message to retry")
        return await client.retry_after_item(thread_id, message["id"])
    raise AssertionError(f"unknown step kind {step.kind}")


async def _observe(state: _Thread, step: Step, turn: Turn,
                   calls: list[dict[str, Any]]) -> dict[str, Any]:
    """The actual value for each expectation key the step names."""
    observed: dict[str, Any] = {
        "assistant": turn.assistant_text,
        "items": turn.items_done,
        "widgets": [item["widget"] for item in turn.widgets],
        "progress": turn.progress,
        "model_input": calls,
    }
    observed["widget"] = observed["widgets"][-1] if observed["widgets"] else None
    observed["client_tool"] = _last(turn.items_done, "client_tool_call")
    observed["form"] = _last(turn.items_done, "structured_input")
    observed["error"] = turn.errors[-1] if turn.errors else None
    observed["effects"] = [{"name": e["name"], "data": e.get("data")}
                           for e in turn.events if e["type"] == "client_effect"]
    if "state" in step.expect and state.thread_id is not None:
        try:
            observed["state"] = await state.client.get_state(state.thread_id)
        except ChatKitHTTPError:
            observed["state"] = None  # a host without `state:` answers 404
    if "workflow" in step.expect and state.thread_id is not None:
        metadata = (await state.host.store.load_thread(state.thread_id, state.context)).metadata
        observed["workflow"] = metadata.get(WORKFLOW_RAN)
    if "thread" in step.expect and state.thread_id is not None:
        thread = await state.client.get_thread(state.thread_id)
        thread.pop("items", None)
        observed["thread"] = thread
    return observed


def _last(items: list[dict[str, Any]], type: str) -> dict[str, Any] | None:
    found = [item for item in items if item["type"] == type]
    return found[-1] if found else None


def _calls(record: Path) -> list[dict[str, Any]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines() if line.strip()]


def _with_model(spec: AgentConfig, model: str) -> AgentConfig:
    return spec.model_copy(update={"model": model})
