"""Bad input: thousands of malformed, oversized and wrongly typed requests, and hostile text.

The fuzzed requests come from mallory, a real user with a valid token, aimed at alice's data. The
invariants, checked after every single request against a snapshot of the whole SQLite file:
never a 5xx, never a traceback in a body, nothing stored changes when the request is refused,
alice's rows never change, and no 2xx answer carries any of alice's data.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from chatkit.types import ChatKitReq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from chatkit_host.web.app import create_app
from chatkit_host.config.loader import load_config
from chatkit_host.host import Host
from chatkit_host.runtime.build import build_runtime
from chatkit_host.testing import ChatKitClient, run_host, user_input
from attack_requests import TEMPLATES, encoded, sdk_request, valid_request
from loopback import JsonHandler, serving
from projects import base_config, write_project

ALICE, MALLORY = "alice-token-0123456789", "mallory-token-0123456789"
SECRET_TEXT = "alice-secret-passphrase"
MAX_BODY = 64 * 1024
REQUEST_TYPES = [
    "threads.get_by_id", "threads.create", "threads.list", "threads.add_user_message",
    "threads.add_client_tool_output", "threads.retry_after_item", "threads.custom_action",
    "threads.sync_custom_action", "threads.add_structured_input", "threads.update",
    "threads.delete", "items.feedback", "items.list", "attachments.create", "attachments.delete",
    "input.transcribe",
]
STATS = {"requests": 0, "refused": 0, "cross_user_reads": 0}


class Target:
    """The app in-process, alice's data, and a snapshot of everything stored."""

    def __init__(self, root: Path):
        config = base_config()
        config["store"] = {"url": "sqlite:///data/chatkit.db"}
        config["auth"] = {"mode": "bearer", "tokens": {"alice": ALICE, "mallory": MALLORY}}
        config["server"] = {"max_body": MAX_BODY}
        self.path = write_project(root, config)
        self.db = root / "data" / "chatkit.db"
        self.client: TestClient[Any] | None = None
        self.alice_thread = ""
        self.alice_items: list[str] = []

    def post(self, body: bytes, token: str | None = MALLORY) -> tuple[int, bytes]:
        assert self.client is not None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.client.post("/chatkit", content=body, headers=headers)
        return response.status_code, response.content

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        with sqlite3.connect(self.db) as connection:
            tables = [row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            return {table: sorted(map(tuple, connection.execute(f'SELECT * FROM "{table}"')), key=repr)
                    for table in tables}

    def alice_rows(self, snapshot: dict[str, list[tuple[Any, ...]]]) -> list[Any]:
        return [(table, row) for table, rows in snapshot.items() for row in rows
                if any(value in (self.alice_thread, "alice") for value in row)
                or any(isinstance(value, str) and SECRET_TEXT in value for value in row)]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    target = Target(tmp_path_factory.mktemp("fuzz"))
    host = Host(build_runtime(load_config(target.path, environ={})))
    with TestClient(create_app(host), timeout=30) as client:
        target.client = client
        first = _stream(client, {"type": "threads.create",
                                 "params": {"input": user_input(f"hello {SECRET_TEXT}")}})
        target.alice_thread = first["thread"]["id"]
        _stream(client, {"type": "threads.add_user_message",
                         "params": {"thread_id": target.alice_thread, "input": user_input("more")}})
        listed = json.loads(client.post("/chatkit", headers={"Authorization": f"Bearer {ALICE}"},
                                        content=json.dumps({"type": "items.list", "params": {
                                            "thread_id": target.alice_thread}})).content)
        target.alice_items = [item["id"] for item in listed["data"]]
        yield target
    print(f"\nrequests fuzzed: {STATS['requests']} ({STATS['refused']} refused); "
          f"cross-user reads that succeeded: {STATS['cross_user_reads']}")


def _stream(client: TestClient[Any], request: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/chatkit", content=json.dumps(request),
                           headers={"Authorization": f"Bearer {ALICE}"})
    events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]
    return next((e for e in events if e["type"] == "thread.created"), events[0])


# --- strategies -------------------------------------------------------------------------------

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False), st.text(max_size=40),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def id_like(draw: st.DrawFn, target: Target) -> Any:
    """Ids that exist (alice's), look right but do not, or are not ids at all."""
    return draw(st.one_of(
        st.sampled_from([target.alice_thread, *target.alice_items]),
        st.from_regex(r"\A(thr|msg|atc|cti)_[0-9a-f]{0,40}\Z"),
        json_value,
    ))


@st.composite
def shaped_request(draw: st.DrawFn, target: Target) -> Any:
    """Requests shaped like ChatKit's, with fields missing, extra or of the wrong type."""
    params: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from([
        "thread_id", "item_id", "item_ids", "input", "title", "action", "result", "limit", "after",
        "order", "attachment_id", "kind", "name", "size", "mime_type", "audio_base64", "metadata",
    ]), max_size=5, unique=True)):
        params[key] = draw(st.one_of(
            id_like(target), json_value,
            st.builds(user_input, st.text(max_size=30)),
            st.fixed_dictionaries({"content": json_value, "attachments": json_value}),
            st.lists(id_like(target), max_size=3),
        ))
    request: dict[str, Any] = {
        "type": draw(st.one_of(st.sampled_from(REQUEST_TYPES), st.text(max_size=20))),
        "params": draw(st.one_of(st.just(params), json_value)),
    }
    if draw(st.booleans()):
        request[draw(st.text(max_size=10))] = draw(json_value)
    return draw(st.one_of(st.just(request), st.just(json.dumps(request)[: draw(st.integers(0, 200))])))


def _encode(value: Any) -> bytes:
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else json.dumps(value).encode()


# --- the invariants ---------------------------------------------------------------------------

def check(target: Target, body: bytes, token: str | None = MALLORY) -> int:
    before = target.snapshot()
    status, answer = target.post(body, token)
    after = target.snapshot()
    STATS["requests"] += 1
    # 501 is the documented answer for what this host was not given (no files, no transcription).
    not_supported = status == 501 and json.loads(answer)["error"]["code"] == "not_supported"
    assert status < 500 or not_supported, (status, body[:300], answer[:500])
    assert b"Traceback" not in answer and b'File "' not in answer
    if status >= 400:
        STATS["refused"] += 1
        assert after == before, f"a refused request ({status}) changed stored data: {body[:300]!r}"
        # A JSON error body in one shape, never HTML, bare text or Litestar's own (a 413 included).
        assert set(json.loads(answer)["error"]) == {"code", "message"}, answer[:300]
    assert target.alice_rows(after) == target.alice_rows(before), body[:300]
    # Alice's text, or one of her ids the request did not itself carry, in an answer to mallory.
    leaked = SECRET_TEXT.encode() in answer or (status < 400 and any(
        ident.encode() in answer and ident.encode() not in body
        for ident in (target.alice_thread, *target.alice_items)))
    if leaked and token != ALICE:
        STATS["cross_user_reads"] += 1
    assert not (leaked and token != ALICE), f"alice's data reached mallory: {body[:300]!r}"
    return status


FUZZ = settings(max_examples=1400, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(data=st.data())
def test_wrongly_shaped_requests_change_nothing_and_never_crash(target: Target, data: st.DataObject) -> None:
    check(target, _encode(data.draw(shaped_request(target))))


def test_every_request_type_of_the_sdk_is_fuzzed() -> None:
    assert sorted(TEMPLATES) == sorted(REQUEST_TYPES) == sorted(
        model.model_fields["type"].default for model in get_args(get_args(ChatKitReq)[0]))


def _id_sets(target: Target) -> list[dict[str, str]]:
    alice = {"thread": target.alice_thread, "item": target.alice_items[0], "widget": target.alice_items[-1],
             "attachment": "atc_" + "a" * 32}
    return [alice, {"thread": "thr_" + "0" * 32, "item": "msg_1", "widget": "", "attachment": ""}]


@settings(FUZZ, max_examples=500)
@given(data=st.data())
def test_sdk_requests_with_hostile_leaves_change_nothing_and_never_crash(
    target: Target, data: st.DataObject
) -> None:
    # Valid requests of every type (checked against the SDK's models), then NUL, control and astral
    # characters, numbers past 64 bits and deep nesting put in their leaves: past parsing, into the handlers.
    request = data.draw(sdk_request(_id_sets(target)))
    check(target, json.dumps(request, ensure_ascii=data.draw(st.booleans())).encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_an_empty_id_is_refused_before_any_stream(target: Target, kind: str) -> None:
    # An empty thread id slipped past the ownership check; the SDK then failed after the 200,
    # leaving a broken response and a traceback (#18 attack pass).
    request = valid_request(kind, {"thread": "", "item": "", "widget": "", "attachment": ""})
    status = check(target, encoded(request))
    if "thread_id" in request["params"] or kind == "attachments.delete":
        assert status == 404, (kind, status)


@settings(FUZZ, max_examples=700)
@given(body=st.one_of(st.binary(max_size=300), json_value.map(json.dumps).map(str.encode)))
def test_arbitrary_bytes_and_json_change_nothing_and_never_crash(target: Target, body: bytes) -> None:
    check(target, body)


@settings(FUZZ, max_examples=60)
@given(extra=st.integers(min_value=1, max_value=4 * MAX_BODY), fill=st.sampled_from(["a", "{", "\u00e9"]))
def test_oversized_bodies_are_refused_unread(target: Target, extra: int, fill: str) -> None:
    text = fill * (MAX_BODY + extra)
    body = json.dumps({"type": "threads.create", "params": {"input": user_input(text)}}).encode()
    check(target, body)


@settings(FUZZ, max_examples=200)
@given(header=st.one_of(st.none(), st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=200),
                        st.just(f"Bearer {ALICE}x"), st.just(f"Bearer {ALICE[:-1]}"), st.just(ALICE)))
def test_bad_credentials_are_401_and_read_nothing(target: Target, header: str | None) -> None:
    body = json.dumps({"type": "threads.get_by_id", "params": {"thread_id": target.alice_thread}})
    assert target.client is not None
    headers = {} if header is None else {"Authorization": header}
    before = target.snapshot()
    response = target.client.post("/chatkit", content=body, headers=headers)
    STATS["requests"] += 1
    STATS["refused"] += response.status_code >= 400
    assert response.status_code == 401
    assert SECRET_TEXT.encode() not in response.content
    assert target.snapshot() == before


# --- hostile text -------------------------------------------------------------------------------

HOSTILE = "{{ 7*7 }} {% raw %}x{% endraw %} {{ user }} {# c #} {% for i in range(3) %}{{ i }}{% endfor %}"


async def test_user_text_never_becomes_template_code(tmp_path: Path) -> None:
    config = base_config()
    config["store"] = {"url": "sqlite:///data/chatkit.db"}
    async with run_host(write_project(tmp_path, config)) as running:
        http = running.http
        client = ChatKitClient("/chatkit", client=http)
        first = await client.create_thread(HOSTILE)
        second = await client.add_message(first.thread_id, "{% raw %}")
        thread = await client.get_thread(first.thread_id)
    assert first.assistant_text == f"Echo 1: {HOSTILE}"
    assert second.assistant_text == "Echo 2: {% raw %}"
    assert thread["title"].startswith("{{ 7*7 }} {% raw %}")
    assert "49" not in first.assistant_text + thread["title"]


# --- http tools' allow-list ---------------------------------------------------------------------

class _Api(JsonHandler):
    calls = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).calls += 1
        self.send_json({"answer": "from the api"})


@pytest.mark.parametrize(("allow_hosts", "reached"), [(["localhost", "*.example.com"], False),
                                                      (["127.0.0.1"], True)])
async def test_http_tools_call_only_allowed_hosts(tmp_path: Path, allow_hosts: list[str],
                                                  reached: bool) -> None:
    _Api.calls = 0
    with serving(_Api) as url:
        config = base_config()
        config["store"] = {"url": "sqlite:///data/chatkit.db"}
        config["agents"]["triage"]["tools"] = ["fetch"]
        port = url.rsplit(":", 1)[1]
        config["tools"] = {"fetch": {"http": {"url": f"http://{{target}}:{port}/data", "allow_hosts": allow_hosts,
                                              "parameters": {"target": "string"}}}}
        script = {"replies": [{"steps": [
            {"call": "fetch", "arguments": {"target": "127.0.0.1"}},
            {"say": "Tool said: {{ tool_output }}"},
        ]}]}
        async with run_host(write_project(tmp_path, config, script)) as running:
            http = running.http
            turn = await ChatKitClient("/chatkit", client=http).create_thread("go")
    if reached:
        assert turn.assistant_text == 'Tool said: {"answer": "from the api"}'
        assert _Api.calls == 1
    else:
        assert turn.assistant_text == "Tool said: error: the host 127.0.0.1 is not in this tool's allow_hosts"
        assert _Api.calls == 0


def test_the_numbers(target: Target) -> None:
    """Runs last in this module: the totals the acceptance asks for."""
    assert STATS["requests"] >= 2000
    assert STATS["cross_user_reads"] == 0
