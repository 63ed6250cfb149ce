"""The attack pass (#18): what a stranger or another user sends to a running host, with figures.

Run by hand from the checkout (loopback only; bounded by --examples and --seconds):

    .venv/bin/python tests/attack_pass.py [--examples 400] [--seconds 300] [--json out.json]

It starts `chatkit-host serve` four times on loopback — bearer auth (the main target), JWT HS256,
JWT RS256 (a JWKS file), and `auth: none` — each with its own SQLite file, and sends, per category:
fuzzed requests of every ChatKit type, forged tokens, forged or altered signed file URLs and upload
abuse, user B against every id of user A, amplification, and cross-site requests. For each category
it counts requests, statuses, answers >= 500, tracebacks in the server's log, requests refused that
still changed a row of the database (every table snapshotted before and after each one), and
successes that should have been refused. `tests/test_attack_pass.py` runs the same pass, smaller.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
import jwt  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from attack_requests import (  # noqa: E402
    TEMPLATES, encoded, hostile_text, huge_number, sdk_request, user_input, valid_request,
)
from projects import base_config, write_project  # noqa: E402

from chatkit_host.testing import ServedHost, serve_host  # noqa: E402

TOKENS = {"alice": "token-alice-0123456789", "bob": "token-bob-0123456789"}
FILES_SECRET = "attack-pass-files-secret"
JWT_SECRET = "attack-pass-jwt-secret-" + "s" * 32
ISSUER, AUDIENCE = "https://issuer.attack.test/", "chatkit-attack"
SECRET_TEXT = "alice-secret-passphrase"
MAX_BODY = 64 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


@dataclass
class Tally:
    """What one category of the pass sent and saw."""

    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0
    tracebacks: int = 0
    rows_changed: list[str] = field(default_factory=list)
    """Refused requests after which some table of the database differed."""
    wrongly_allowed: list[str] = field(default_factory=list)
    """Requests that succeeded but should have been refused (or leaked another user's data)."""
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds taken by the requests meant to make the host work hard."""

    def figures(self) -> dict[str, Any]:
        return {"sent": self.sent, "statuses": dict(sorted(self.statuses.items())),
                ">=500": self.server_errors, "tracebacks": self.tracebacks,
                "rows changed by refused": len(self.rows_changed), "wrongly allowed": len(self.wrongly_allowed),
                "seconds": round(self.seconds, 1), "timings": self.timings}


class Site:
    """One served host, its database, and the requests sent to it."""

    def __init__(self, served: ServedHost, db: Path):
        self.served, self.db = served, db
        self.http = httpx.Client(base_url=served.base, timeout=60)

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        with sqlite3.connect(self.db) as connection:
            tables = [row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            return {table: sorted(map(tuple, connection.execute(f'SELECT * FROM "{table}"')), key=repr)
                    for table in tables}

    def log_tracebacks(self) -> int:
        return self.served.log.read_text(errors="replace").count("Traceback")

    def send(self, tally: Tally, method: str, path: str, *, expect: str = "refused", label: str = "",
             leak_check: Callable[[bytes, bytes], bool] | None = None, **request: Any) -> httpx.Response:
        """Send one request; `expect` is "refused" (a 2xx is a finding), "ok" or "any"."""
        before = self.snapshot()
        response = self.http.request(method, path, **request)
        after = self.snapshot()
        tally.sent += 1
        tally.statuses[response.status_code] += 1
        # 501 not_supported is the documented answer for a feature this host was not given
        # (input.transcribe without `transcription`); any other 5xx is a finding.
        tally.server_errors += response.status_code >= 500 and not _not_supported(response)
        refused = response.status_code >= 400
        what = label or f"{method} {path}"
        if refused and after != before:
            changed = sorted(table for table in after if after[table] != before.get(table))
            tally.rows_changed.append(f"{what} ({response.status_code}): {', '.join(changed)}")
        if expect == "refused" and not refused:
            tally.wrongly_allowed.append(f"{what}: {response.status_code} {response.text[:200]}")
        if expect == "ok" and refused:
            raise AssertionError(f"a control request failed: {what}: {response.status_code} {response.text[:300]}")
        # What the request itself carried (its URL included): an id it named may come back.
        body = request.get("content", b"")
        sent = (body if isinstance(body, bytes) else b"") + str(response.request.url).encode()
        if leak_check is not None and leak_check(sent, response.content):
            tally.wrongly_allowed.append(f"{what}: leaked another user's data")
        return response

    def chatkit(self, tally: Tally, token: str | None, request: Any, **options: Any) -> httpx.Response:
        headers = {"Content-Type": "application/json", **options.pop("headers", {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = request if isinstance(request, bytes) else encoded(request)
        label = options.pop("label", "") or (request.get("type", "?") if isinstance(request, dict) else "bytes")
        return self.send(tally, "POST", "/chatkit", content=body, headers=headers, label=label, **options)


def _not_supported(response: httpx.Response) -> bool:
    try:
        return response.status_code == 501 and response.json()["error"]["code"] == "not_supported"
    except (ValueError, KeyError, TypeError):
        return False


def events(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]


# --- the projects ------------------------------------------------------------------------------

def _project(root: Path, auth: dict[str, Any]) -> Path:
    config = base_config()
    config["auth"] = auth
    config["store"] = {"url": "sqlite:///data/chatkit.db"}
    config["server"] = {"max_body": MAX_BODY}
    config["files"] = {"url": "file://stored", "secret": FILES_SECRET, "upload": "two_phase",
                       "max_bytes": "1MB", "accept": ["image/*", "text/plain"]}
    config["state"] = {"properties": {"plan": "string?"}}
    config["forms"] = {"priority": [{"id": "priority", "question": "Priority?", "choices": ["Low", "High"]}]}
    config["actions"] = {
        "note.add": {"payload": {"note": "string"}, "do": [{"say": "Noted."}]},
        "plan.set": {"payload": {"plan": "string"}, "do": [{"set_state": {"plan": "{{ payload.plan }}"}}]},
    }
    return write_project(root, config)


@contextmanager
def site(root: Path, auth: dict[str, Any], files: dict[str, str] | None = None) -> Iterator[Site]:
    path = _project(root, auth)
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    with serve_host(path.parent, timeout=60) as served:
        target = Site(served, root / "data" / "chatkit.db")
        try:
            yield target
        finally:
            target.http.close()


@dataclass
class Account:
    """A user's token and the ids of what they own."""

    token: str
    thread: str = ""
    item: str = ""
    widget: str = ""
    attachment: str = ""
    preview_url: str = ""

    @property
    def ids(self) -> dict[str, str]:
        return {"thread": self.thread, "item": self.item, "widget": self.widget, "attachment": self.attachment}


def upload(target: Site, tally: Tally, token: str, data: bytes = PNG, name: str = "a.png") -> dict[str, Any]:
    return target.send(tally, "POST", "/files", expect="ok", files={"file": (name, data, "image/png")},
                       headers={"Authorization": f"Bearer {token}"}).json()


def populate(target: Site, tally: Tally, name: str) -> Account:
    """A thread with a message, an answer, feedback, state and an attachment, made through the API."""
    account = Account(TOKENS[name])
    attachment = upload(target, tally, account.token)
    account.attachment, account.preview_url = attachment["id"], attachment.get("preview_url") or ""
    text = f"hello {SECRET_TEXT}" if name == "alice" else "hello from bob"
    created = target.chatkit(tally, account.token, valid_request(
        "threads.create", {"attachment": account.attachment}), expect="ok")
    account.thread = next(e for e in events(created) if e["type"] == "thread.created")["thread"]["id"]
    target.chatkit(tally, account.token, {"type": "threads.add_user_message", "params": {
        "thread_id": account.thread, "input": user_input(text)}}, expect="ok")
    items = target.chatkit(tally, account.token, {"type": "items.list", "params": {
        "thread_id": account.thread, "order": "asc"}}, expect="ok").json()["data"]
    account.item = next(i["id"] for i in items if i["type"] == "user_message")
    account.widget = next(i["id"] for i in items if i["type"] == "assistant_message")
    target.chatkit(tally, account.token, {"type": "items.feedback", "params": {
        "thread_id": account.thread, "item_ids": [account.widget], "kind": "positive"}}, expect="ok")
    target.chatkit(tally, account.token, {"type": "threads.custom_action", "params": {
        "thread_id": account.thread, "action": {"type": "plan.set", "payload": {"plan": "gold"}}}}, expect="ok")
    return account


# --- the categories ----------------------------------------------------------------------------

def fuzz(target: Site, tally: Tally, alice: Account, bob: Account, examples: int, deadline: float) -> None:
    """Hostile requests of every type from bob, aimed at alice's ids, his own, and ids of nothing."""
    junk = {"thread": "thr_" + "f" * 32, "item": "msg_" + "0" * 32, "widget": "", "attachment": "atc_x"}
    before = _rows_of(target.snapshot(), alice)

    def leaked(body: bytes, answer: bytes) -> bool:
        return SECRET_TEXT.encode() in answer or any(
            ident.encode() in answer and ident.encode() not in body
            for ident in (alice.thread, alice.item, alice.widget, alice.attachment))

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(request=sdk_request([alice.ids, bob.ids, junk]), as_bytes=st.booleans())
    def one(request: dict[str, Any], as_bytes: bool) -> None:
        if time.monotonic() > deadline:
            return
        body = json.dumps(request, ensure_ascii=as_bytes).encode("utf-8", "surrogatepass")
        response = target.chatkit(tally, bob.token, body, expect="any", leak_check=leaked,
                                  label=f"{request.get('type')}: {body[:120]!r}")
        if response.status_code < 400 and request.get("type") in ("threads.delete", "attachments.delete"):
            _refresh(target, tally, bob)

    one()
    if _rows_of(target.snapshot(), alice) != before:
        tally.wrongly_allowed.append("fuzz: alice's rows changed")


def fuzz_routes(target: Site, tally: Tally, alice: Account, bob: Account, examples: int, deadline: float) -> None:
    """Hostile ids and query values on the routes beside the ChatKit endpoint, from bob."""
    bearer = {"Authorization": f"Bearer {bob.token}"}
    ids = st.one_of(hostile_text, st.sampled_from([alice.attachment, alice.thread, bob.attachment]))

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(route=st.sampled_from(["download", "preview", "upload", "state"]), ident=ids, o=hostile_text,
           e=st.one_of(hostile_text, huge_number.map(str)), s=hostile_text)
    def one(route: str, ident: str, o: str, e: str, s: str) -> None:
        if time.monotonic() > deadline:
            return
        segment = quote(ident, safe="")
        if route == "state":
            response = target.send(tally, "GET", "/chatkit/state", params={"thread_id": ident}, headers=bearer,
                                   expect="any", label=f"state {ident!r}"[:120])
        elif route == "download":
            response = target.send(tally, "GET", f"/files/{segment}", headers=bearer, expect="any",
                                   label=f"download {ident!r}"[:120])
        else:
            method = "GET" if route == "preview" else "POST"
            response = target.send(tally, method, f"/files/{segment}/{route}", params={"o": o, "e": e, "s": s},
                                   content=PNG if method == "POST" else None, expect="any",
                                   label=f"{route} {ident!r} o={o!r} e={e!r}"[:160])
        # Only bob's own things may answer 200, and never with alice's.
        if response.status_code < 400 and (SECRET_TEXT.encode() in response.content or ident in (
                alice.attachment, alice.thread)):
            tally.wrongly_allowed.append(f"{route} {ident!r}: {response.status_code}")

    one()


def _refresh(target: Site, tally: Tally, bob: Account) -> None:
    """Bob deleted something of his own: give him a whole set of ids again."""
    fresh = populate(target, Tally(), "bob")
    bob.thread, bob.item, bob.widget, bob.attachment = fresh.thread, fresh.item, fresh.widget, fresh.attachment


def _rows_of(snapshot: dict[str, list[tuple[Any, ...]]], alice: Account) -> list[Any]:
    marks = {alice.thread, alice.attachment, "alice"}
    return [(table, row) for table, rows in snapshot.items() for row in rows
            if any(value in marks for value in row)
            or any(isinstance(value, str) and SECRET_TEXT in value for value in row)]


def cross_user(target: Site, tally: Tally, alice: Account, bob: Account) -> None:
    """Bob names alice's ids in every request type that takes one, and on every route."""
    def leaked(body: bytes, answer: bytes) -> bool:
        return SECRET_TEXT.encode() in answer or (
            alice.thread.encode() in answer and alice.thread.encode() not in body)

    for kind in sorted(TEMPLATES):
        if kind in ("threads.list", "attachments.create", "input.transcribe"):
            continue  # they name no one's id: below and in the fuzz
        target.chatkit(tally, bob.token, valid_request(kind, alice.ids), leak_check=leaked, label=f"{kind} (alice's)")
    # Alice's ids inside bob's own requests: her attachment or items in his thread, her thread as a cursor.
    mixed = {**bob.ids, "attachment": alice.attachment}
    target.chatkit(tally, bob.token, valid_request("threads.create", mixed), leak_check=leaked,
                   label="threads.create with alice's attachment")
    target.chatkit(tally, bob.token, {"type": "threads.add_user_message", "params": {
        "thread_id": bob.thread, "input": user_input("mine", [alice.attachment])}}, leak_check=leaked,
        label="add_user_message with alice's attachment")
    for kind in ("items.feedback", "threads.retry_after_item", "threads.add_structured_input",
                 "threads.sync_custom_action", "threads.custom_action"):
        target.chatkit(tally, bob.token, valid_request(kind, {**bob.ids, "item": alice.item, "widget": alice.widget}),
                       leak_check=leaked, label=f"{kind}: bob's thread, alice's item")
    target.chatkit(tally, bob.token, {"type": "threads.list", "params": {"after": alice.thread}},
                   expect="any", leak_check=leaked, label="threads.list after alice's thread")
    target.chatkit(tally, bob.token, {"type": "items.list", "params": {"thread_id": bob.thread,
                   "after": alice.item}}, expect="any", leak_check=leaked, label="items.list after alice's item")
    bearer = {"Authorization": f"Bearer {bob.token}"}
    target.send(tally, "GET", "/chatkit/state", params={"thread_id": alice.thread}, headers=bearer,
                leak_check=leaked)
    target.send(tally, "GET", f"/files/{alice.attachment}", headers=bearer)
    target.send(tally, "GET", "/chatkit/entities/preview", params={"id": alice.attachment}, headers=bearer,
                expect="any")


def tokens(target: Site, tally: Tally, alice: Account) -> None:
    """Bearer headers that are not alice's token, on every route that wants one."""
    token = alice.token
    headers: list[dict[str, str]] = [{}] + [{"Authorization": value} for value in (
        "Bearer", f"Bearer {token}x", f"Bearer {token[:-1]}", f"bearer{token}", f"Basic {token}",
        token, f"Bearer {token.upper()}", f"Bearer  {token} extra", "Bearer " + "A" * 10000,
        "Bearer " + base64.b64encode(token.encode()).decode(),
    )]
    headers.append({"Authorization": "Bearer \u00e9t\u00e9".encode()})  # type: ignore[dict-item]  # raw UTF-8
    for header in headers:
        probe(target, tally, alice, header)


def probe(target: Site, tally: Tally, alice: Account, headers: dict[str, str]) -> None:
    """One set of credentials on every authenticated route; all must be refused."""
    target.chatkit(tally, None, {"type": "threads.get_by_id", "params": {"thread_id": alice.thread}},
                   headers=headers, label=f"get_by_id {headers}"[:120])
    target.chatkit(tally, None, {"type": "threads.delete", "params": {"thread_id": alice.thread}},
                   headers=headers, label=f"delete {headers}"[:120])
    target.send(tally, "GET", f"/files/{alice.attachment}", headers=headers)
    target.send(tally, "GET", "/chatkit/state", params={"thread_id": alice.thread}, headers=headers)
    target.send(tally, "POST", "/files", files={"file": ("x.png", PNG, "image/png")}, headers=headers)
    target.send(tally, "GET", "/metrics", headers=headers)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    return {key: value for key, value in {**base, **overrides}.items() if value is not None}


def _unsigned(payload: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part(header)}.{part(payload)}."


def _hs256_raw(payload: dict[str, Any], key: bytes) -> str:
    unsigned = _unsigned(payload, {"alg": "HS256", "typ": "JWT"})[:-1]
    signature = hmac.new(key, unsigned.encode(), hashlib.sha256).digest()
    return unsigned + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def forged_jwts(secret: str | None, key: rsa.RSAPrivateKey | None) -> dict[str, str]:
    """Tokens a stranger can make for this host's issuer; none must be accepted."""
    def good(**overrides: Any) -> str:
        if secret:
            return jwt.encode(claims(**overrides), secret, algorithm="HS256")
        return jwt.encode(claims(**overrides), key, algorithm="RS256", headers={"kid": "k1"})

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    valid = good()
    head, body, signature = valid.split(".")
    forged = {
        "alg none": _unsigned(claims(), {"alg": "none", "typ": "JWT"}),
        "alg None": _unsigned(claims(), {"alg": "None"}),
        "alg none, signature kept": _unsigned(claims(), {"alg": "none"}) + signature,
        "wrong HS256 key": jwt.encode(claims(), "w" * 48, algorithm="HS256"),
        "stranger RS256 key": jwt.encode(claims(), stranger, algorithm="RS256", headers={"kid": "k1"}),
        "expired": good(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
        "not yet valid": good(nbf=int(time.time()) + 3600),
        "no exp": good(exp=None),
        "wrong audience": good(aud="someone-else"),
        "wrong issuer": good(iss="https://evil.attack.test/"),
        "no issuer": good(iss=None),
        "payload swapped": f"{head}.{base64.urlsafe_b64encode(json.dumps(claims(sub='bob')).encode()).rstrip(b'=').decode()}.{signature}",
        "signature flipped": f"{head}.{body}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}",
        "signature dropped": f"{head}.{body}.",
        "two dots only": f"{head}.{body}",
        "garbage": "a.b.c",
        "huge": "e" * 20000,
        "kid unknown": good() if secret else jwt.encode(claims(), key, algorithm="RS256", headers={"kid": "k9"}),
        "sub NUL": good(sub="alice\x00admin"),
        "sub not a string": good(sub=12345678901234567890),
        "sub empty": good(sub=""),
    }
    if secret:
        del forged["kid unknown"]  # HS256 has no key ids: that token is valid
    if key is not None:
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        forged["alg confusion (HS256 with the public key)"] = _hs256_raw(claims(), public_pem)
    return forged


def jwt_attack(target: Site, tally: Tally, secret: str | None, key: rsa.RSAPrivateKey | None) -> None:
    def good(**overrides: Any) -> str:
        if secret:
            return jwt.encode(claims(**overrides), secret, algorithm="HS256")
        return jwt.encode(claims(**overrides), key, algorithm="RS256", headers={"kid": "k1"})

    created = target.chatkit(tally, good(), {"type": "threads.create", "params": {"input": user_input(SECRET_TEXT)}},
                             expect="ok")
    thread = next(e for e in events(created) if e["type"] == "thread.created")["thread"]["id"]
    for name, token in forged_jwts(secret, key).items():
        for request in ({"type": "threads.get_by_id", "params": {"thread_id": thread}},
                        {"type": "threads.delete", "params": {"thread_id": thread}},
                        {"type": "threads.list", "params": {}}):
            target.chatkit(tally, token, request, label=f"jwt {name}: {request['type']}")
    # Signed properly but hostile: a subject with newlines and escapes is someone else, never alice.
    for sub in ("alice\nfake log line", "alice\r\n\x1b[31m", "alice "):
        response = target.chatkit(tally, good(sub=sub), {"type": "threads.get_by_id", "params": {
            "thread_id": thread}}, label=f"jwt sub {sub!r}")
        if SECRET_TEXT.encode() in response.content:
            tally.wrongly_allowed.append(f"jwt sub {sub!r} read alice's thread")


def file_urls(target: Site, tally: Tally, alice: Account, bob: Account) -> None:
    """Signed preview links altered, expired, moved to another file or user; the download route."""
    parts = urlsplit(alice.preview_url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    path = parts.path
    target.send(tally, "GET", path, params=query, expect="ok", label="alice's own preview link")
    signature, expires, owner = query["s"], query["e"], query["o"]
    flipped = [signature[:i] + ("0" if signature[i] != "0" else "1") + signature[i + 1:] for i in (0, 17, 63)]
    past = int(time.time()) - 60
    signed_past = hmac.new(FILES_SECRET.encode(), f"preview\x00{owner}\x00{alice.attachment}\x00{past}".encode(),
                           hashlib.sha256).hexdigest()  # a link that was real, once
    bob_owner = parse_qs(urlsplit(bob.preview_url).query)["o"][0]
    variants: dict[str, dict[str, str]] = {
        **{f"signature flipped at {i}": {**query, "s": s} for i, s in zip((0, 17, 63), flipped, strict=True)},
        "signature upper-case": {**query, "s": signature.upper()},
        "signature empty": {**query, "s": ""},
        "signature non-ASCII": {**query, "s": signature[:-1] + "\u00e9"},
        "signature missing": {"o": owner, "e": expires},
        "expiry + 1": {**query, "e": str(int(expires) + 1)},
        "expiry far future": {**query, "e": "9" * 12},
        "expiry superscript": {**query, "e": expires[:-1] + "\u00b2"},
        "expiry 5000 digits": {**query, "e": "9" * 5000},
        "expiry negative": {**query, "e": "-1"},
        "expired, signed": {"o": owner, "e": str(past), "s": signed_past},
        "owner bob": {**query, "o": bob_owner},
        "owner empty": {**query, "o": ""},
        "no query": {},
    }
    for name, params in variants.items():
        target.send(tally, "GET", path, params=params, label=f"preview {name}")
    target.send(tally, "GET", f"/files/{bob.attachment}/preview", params=query, label="alice's signature on bob's file")
    target.send(tally, "GET", f"/files/{alice.attachment}/upload", params=query, label="preview link as upload (GET)")
    target.send(tally, "POST", f"/files/{alice.attachment}/upload", params=query, content=PNG,
                headers={"Content-Type": "image/png"}, label="preview link used to upload")
    target.send(tally, "GET", "/files/atc_%00/preview", params=query, label="NUL id")
    bearer = {"Authorization": f"Bearer {bob.token}"}
    target.send(tally, "GET", f"/files/{alice.attachment}", headers=bearer, label="bob downloads alice's file")
    target.send(tally, "GET", f"/files/{alice.attachment}", label="download without auth")


def uploads(target: Site, tally: Tally, alice: Account, bob: Account) -> None:
    """Two-phase links used twice or altered, bytes that are not what was announced, bodies that are
    not multipart."""
    def announce(account: Account, mime: str = "image/png", name: str = "p.png") -> dict[str, Any]:
        answer = target.chatkit(tally, account.token, {"type": "attachments.create", "params": {
            "name": name, "size": len(PNG), "mime_type": mime}}, expect="ok").json()
        return answer

    first = announce(alice)
    link = first["upload_descriptor"]["url"]
    link_path, link_query = urlsplit(link).path, {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    target.send(tally, "POST", link_path, params=link_query, files={"file": ("p.png", PNG, "image/png")},
                expect="ok", label="two-phase upload, first use")
    target.send(tally, "POST", link_path, params=link_query, files={"file": ("p.png", PNG, "image/png")},
                label="two-phase link, second use")
    target.send(tally, "PUT", link_path, params=link_query, content=PNG, label="two-phase link, third use (PUT)")
    second = announce(alice)
    path2 = urlsplit(second["upload_descriptor"]["url"]).path
    query2 = {k: v[0] for k, v in parse_qs(urlsplit(second["upload_descriptor"]["url"]).query).items()}
    target.send(tally, "POST", path2, params={**query2, "s": query2["s"][::-1]}, content=PNG,
                label="upload link, signature reversed")
    target.send(tally, "POST", path2, params={**query2, "e": str(int(query2["e"]) + 10)}, content=PNG,
                label="upload link, expiry moved")
    bob_owner = parse_qs(urlsplit(bob.preview_url).query)["o"][0]
    target.send(tally, "POST", path2, params={**query2, "o": bob_owner}, content=PNG,
                label="upload link, owner bob")
    target.send(tally, "POST", link_path, params=query2, content=PNG, label="link of one id on another id")
    target.send(tally, "POST", path2, params=query2, files={"file": ("p.png", HTML, "image/png")},
                label="HTML bytes announced as PNG")
    target.send(tally, "POST", path2, params=query2, files={"other": ("p.png", PNG, "image/png")},
                label="multipart without a file field")
    target.send(tally, "POST", path2, params=query2, content=b"x" * (1_000_000 + 70_000),
                headers={"Content-Type": "image/png"}, label="upload larger than files.max_bytes")
    bearer = {"Authorization": f"Bearer {alice.token}"}
    target.send(tally, "POST", "/files", content=PNG, headers={**bearer, "Content-Type": "image/png"},
                label="direct upload, raw body")
    target.send(tally, "POST", "/files", content=b'{"file": "x"}', headers={**bearer, "Content-Type": "application/json"},
                label="direct upload, JSON")
    # A direct upload is stored as what its bytes are (text/plain here, which this host accepts).
    html = target.send(tally, "POST", "/files", files={"file": ("x.png", HTML, "image/png")}, headers=bearer,
                       expect="any", label="direct upload, HTML as PNG")
    if html.status_code < 400 and html.json()["mime_type"].startswith("image/"):
        tally.wrongly_allowed.append(f"HTML stored as {html.json()['mime_type']}")
    target.send(tally, "POST", "/files", files={"file": ("x.exe", b"MZ\x90\x00" + b"\x00" * 60, "application/x-msdownload")},
                headers=bearer, label="direct upload, type not accepted")
    for mime, size in (("application/x-msdownload", 10), ("image/png", 10**12), ("image/png", -1)):
        target.chatkit(tally, alice.token, {"type": "attachments.create", "params": {
            "name": "x", "size": size, "mime_type": mime}}, label=f"announce {mime} {size}")


def amplification(target: Site, tally: Tally, bob: Account) -> None:
    """Lists and bodies sized to make the host work: each refused, or merged to what was meant."""
    def timed(label: str, request: dict[str, Any], expect: str = "refused") -> httpx.Response:
        started = time.monotonic()
        response = target.chatkit(tally, bob.token, request, expect=expect, label=label)
        took = time.monotonic() - started
        tally.timings[label] = round(took, 3)
        if took > 5:
            tally.wrongly_allowed.append(f"{label}: took {took:.1f}s")
        return response

    # Lists sized to fit under server.max_body (64 KiB here), so the list bounds meet them, not the body's.
    repeated = timed("1,500 copies of one attachment id", {"type": "threads.add_user_message", "params": {
        "thread_id": bob.thread, "input": user_input("look", [bob.attachment] * 1500)}}, expect="any")
    if repeated.status_code < 400:
        items = target.chatkit(tally, bob.token, {"type": "items.list", "params": {
            "thread_id": bob.thread, "order": "desc", "limit": 5}}, expect="ok").json()["data"]
        message = next(i for i in items if i["type"] == "user_message")
        if len(message["attachments"]) != 1:
            tally.wrongly_allowed.append(f"1,500 copies stored as {len(message['attachments'])} attachments")
    many = [upload(target, tally, bob.token)["id"] for _ in range(11)]
    timed("11 distinct attachments (max_per_message 10)", {"type": "threads.add_user_message", "params": {
        "thread_id": bob.thread, "input": user_input("look", many)}})
    timed("1,500 feedback ids", {"type": "items.feedback", "params": {
        "thread_id": bob.thread, "item_ids": [f"msg_{i:032x}" for i in range(1500)], "kind": "negative"}})
    timed("1,500 copies of one feedback id", {"type": "items.feedback", "params": {
        "thread_id": bob.thread, "item_ids": [bob.item] * 1500, "kind": "negative"}}, expect="any")
    timed("1,500 content parts", {"type": "threads.add_user_message", "params": {
        "thread_id": bob.thread, "input": {**user_input(""), "content": [{"type": "input_text", "text": "x"}] * 1500}}})
    tags = [{"type": "input_tag", "id": f"t{i}", "text": "t", "data": {}} for i in range(300)]
    timed("300 tags", {"type": "threads.add_user_message", "params": {
        "thread_id": bob.thread, "input": {**user_input(""), "content": tags}}})
    # The same lists past max_body: refused unread.
    timed("5,000 copies of one attachment id", {"type": "threads.add_user_message", "params": {
        "thread_id": bob.thread, "input": user_input("look", [bob.attachment] * 5000)}})
    timed("20,000 feedback ids", {"type": "items.feedback", "params": {
        "thread_id": bob.thread, "item_ids": [f"msg_{i:032x}" for i in range(20000)], "kind": "negative"}})
    timed("a 1 MB body", {"type": "threads.add_user_message", "params": {
        "thread_id": bob.thread, "input": user_input("x" * 1_000_000)}})
    started = time.monotonic()
    big = target.send(tally, "POST", "/chatkit", content=_chunks(20 * MAX_BODY),
                      headers={"Authorization": f"Bearer {bob.token}", "Content-Type": "application/json"},
                      label="a chunked body past max_body")
    if big.status_code != 413 or time.monotonic() - started > 5:
        tally.wrongly_allowed.append(f"chunked body: {big.status_code}")
    timed("list limit 2^63", {"type": "threads.list", "params": {"limit": 2**63}})
    timed("items.list limit 10^6", {"type": "items.list", "params": {"thread_id": bob.thread, "limit": 10**6}})
    timed("metadata 10,000 keys", {"type": "threads.list", "params": {},
                                   "metadata": {str(i): i for i in range(10000)}})


def _chunks(total: int) -> Iterator[bytes]:
    yield b'{"type": "threads.list", "params": {}, "metadata": {"x": "'
    for _ in range(total // 8192):
        yield b"a" * 8192
    yield b'"}}'


def cross_site(target: Site, tally: Tally) -> None:
    """`auth: none` on loopback: what another site's page can make a browser send."""
    create = {"type": "threads.create", "params": {"input": user_input(SECRET_TEXT)}}
    same = {"Origin": target.served.base}
    made = target.chatkit(tally, None, create, headers=same, expect="ok")
    thread = next(e for e in events(made) if e["type"] == "thread.created")["thread"]["id"]
    delete = {"type": "threads.delete", "params": {"thread_id": thread}}
    evil = "http://evil.example"
    for request in (create, delete):
        body = encoded(request)
        for content_type in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                             "multipart/form-data; boundary=x", ""):
            target.send(tally, "POST", "/chatkit", content=body, headers={"Content-Type": content_type},
                        label=f"{request['type']} as {content_type!r}")
        for origin in (evil, "null", target.served.base + ".evil.example", "http://127.0.0.1:1"):
            target.chatkit(tally, None, request, headers={"Origin": origin}, label=f"{request['type']} from {origin}")
        for host in ("evil.example", "rebound.attack.test:80", "127.0.0.1.nip.io"):
            target.chatkit(tally, None, request, headers={"Host": host}, label=f"{request['type']} Host {host}")
    target.send(tally, "POST", "/files", files={"file": ("x.png", PNG, "image/png")}, headers={"Origin": evil},
                label="upload from another origin")
    target.send(tally, "GET", "/chatkit/state", params={"thread_id": thread}, headers={"Host": "evil.example"},
                label="state for a rebound host")
    target.send(tally, "GET", "/", headers={"Host": "evil.example"}, label="playground for a rebound host")


# --- the pass -----------------------------------------------------------------------------------

def run(root: Path, examples: int = 400, seconds: float = 300) -> dict[str, Tally]:
    """The whole pass in `root`; returns each category's tally."""
    tallies: dict[str, Tally] = {}

    def category(name: str, target: Site, work: Callable[[Tally], None]) -> None:
        tally = tallies.setdefault(name, Tally())
        traces, started = target.log_tracebacks(), time.monotonic()
        work(tally)
        tally.seconds += time.monotonic() - started
        tally.tracebacks += target.log_tracebacks() - traces

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": "k1", "alg": "RS256"}
    jwt_auth = {"mode": "jwt", "jwt": {"issuer": ISSUER, "audience": AUDIENCE, "clock_skew": 0}}
    with ExitStack() as stack:
        main = stack.enter_context(site(root / "bearer", {"mode": "bearer", "tokens": TOKENS}))
        accounts: list[Account] = []
        category("set-up (controls, must succeed)", main,
                 lambda t: accounts.extend(populate(main, t, name) for name in ("alice", "bob")))
        alice, bob = accounts
        deadline = time.monotonic() + seconds
        category("fuzz (socket, bearer)", main, lambda t: fuzz(main, t, alice, bob, examples, deadline))
        category("fuzz (file and state routes)", main,
                 lambda t: fuzz_routes(main, t, alice, bob, max(examples // 5, 20), deadline))
        category("cross-user", main, lambda t: cross_user(main, t, alice, bob))
        category("forged bearer tokens", main, lambda t: tokens(main, t, alice))
        category("signed file URLs", main, lambda t: file_urls(main, t, alice, bob))
        category("uploads", main, lambda t: uploads(main, t, alice, bob))
        category("amplification", main, lambda t: amplification(main, t, bob))
        hs = stack.enter_context(site(root / "hs256", {"mode": "jwt", "jwt": {
            **jwt_auth["jwt"], "algorithm": "HS256", "secret": JWT_SECRET}}))
        category("forged JWT (HS256)", hs, lambda t: jwt_attack(hs, t, JWT_SECRET, None))
        rs = stack.enter_context(site(root / "rs256", {"mode": "jwt", "jwt": {
            **jwt_auth["jwt"], "algorithm": "RS256", "jwks_file": "jwks.json"}},
            files={"jwks.json": json.dumps({"keys": [jwk]})}))
        category("forged JWT (RS256)", rs, lambda t: jwt_attack(rs, t, None, key))
        none = stack.enter_context(site(root / "none", {"mode": "none"}))
        category("cross-site (auth: none)", none, lambda t: cross_site(none, t))
    return tallies


def report(tallies: dict[str, Tally]) -> str:
    columns = ["sent", ">=500", "tracebacks", "rows changed by refused", "wrongly allowed", "seconds"]
    lines = ["| category | " + " | ".join(columns) + " | statuses |", "|---" * (len(columns) + 2) + "|"]
    for name, tally in tallies.items():
        figures = tally.figures()
        statuses = ", ".join(f"{code}×{count}" for code, count in figures["statuses"].items())
        lines.append(f"| {name} | " + " | ".join(str(figures[c]) for c in columns) + f" | {statuses} |")
    total = sum(t.sent for t in tallies.values())
    lines.append(f"\n{total} requests in all. >=500 leaves out 501 not_supported, the documented answer "
                 "for input.transcribe on a host without `transcription`.")
    for name, tally in tallies.items():
        lines.extend(f"  {name}: wrongly allowed: {finding}" for finding in tally.wrongly_allowed)
        lines.extend(f"  {name}: refused but changed rows: {finding}" for finding in tally.rows_changed)
        lines.extend(f"  {name}: {label}: {took:.3f}s" for label, took in tally.timings.items())
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=400, help="fuzzed requests over the socket")
    parser.add_argument("--seconds", type=float, default=300, help="time bound for the fuzzing")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--dir", type=Path, help="keep the projects and logs here (default: a temp dir)")
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="attack-pass-") as temp:
        root = args.dir or Path(temp)
        tallies = run(root, args.examples, args.seconds)
    print(report(tallies))
    if args.json:
        args.json.write_text(json.dumps({name: t.figures() | {"findings": t.wrongly_allowed}
                                         for name, t in tallies.items()}, indent=2))
    bad = sum(t.server_errors + t.tracebacks + len(t.rows_changed) + len(t.wrongly_allowed)
              for t in tallies.values())
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
