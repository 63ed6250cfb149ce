"""`auth.mode: jwt`: HS256 and RS256 (JWKS file and URL) tokens, claims, and 401s that say nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chatkit_host.auth import jwks
from chatkit_host.config.loader import load_config
from chatkit_host.errors import ConfigError
from chatkit_host.runtime.build import build_runtime
from chatkit_host.testing import ChatKitClient, ChatKitHTTPError, run_host
from loopback import JsonHandler, serving
from projects import base_config, recorded_calls, write_project

SECRET = "s3cret-" + "x" * 40
ISSUER = "https://login.example.test/"
AUDIENCE = "chatkit-host-tests"
UNAUTHORIZED = {"error": {"code": "unauthorized", "message": "a valid bearer token is required"}}


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600,
            "email": "alice@example.test", "org": {"id": "acme", "plan": "gold"}}
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


def hs256(**overrides: Any) -> str:
    return jwt.encode(claims(**overrides), SECRET, algorithm="HS256")


def rs256(key: rsa.RSAPrivateKey, kid: str = "k1", **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm="RS256", headers={"kid": kid})


def jwt_project(root: Path, **jwt_config: Any) -> Path:
    config = base_config()
    config["store"] = {"url": f"sqlite:///{root}/chatkit.db"}
    config["auth"] = {"mode": "jwt", "jwt": {
        "issuer": ISSUER, "audience": AUDIENCE, "clock_skew": 30,
        "claims": ["email", "org.id"], **jwt_config,
    }}
    files = {"agents/triage.md": "User {{ user }} <{{ user.claims.email }}> of {{ user.claims['org.id'] }}.\n"}
    return write_project(root, config, files=files)


async def refusal(http: httpx.AsyncClient, token: str | None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = await http.post("/chatkit", content=b'{"type":"threads.list","params":{}}',
                               headers=headers)
    return response.status_code, response.json()


async def test_hs256_tokens_name_the_user_and_pass_chosen_claims_to_templates(tmp_path: Path) -> None:
    path = jwt_project(tmp_path, algorithm="HS256", secret=SECRET, user_claim="email")
    async with run_host(path) as running:
        http = running.http
        alice = ChatKitClient("/chatkit", token=hs256(), client=http)
        turn = await alice.create_thread("hello")
        assert turn.assistant_text == "Echo 1: hello"
        bob = ChatKitClient("/chatkit", token=hs256(sub="bob", email="bob@example.test"), client=http)
        assert (await bob.list_threads())["data"] == []
        with pytest.raises(ChatKitHTTPError) as hidden:
            await bob.get_thread(turn.thread_id)
        assert hidden.value.status == 404
    # The user id came from `email`, and only the chosen claims reached the template.
    assert recorded_calls(tmp_path)[0]["instructions"] == (
        "User alice@example.test <alice@example.test> of acme.\n"
    )


async def test_every_bad_token_gets_the_same_bare_401(tmp_path: Path) -> None:
    path = jwt_project(tmp_path, algorithm="HS256", secret=SECRET)
    now = int(time.time())
    other_key = rsa_key()
    bad = {
        "missing": None,
        "empty": "",
        "not a jwt": "not.a.jwt",
        "garbage": "x" * 20_000,
        "wrong secret": jwt.encode(claims(), "another-secret-" + "y" * 40, algorithm="HS256"),
        "expired beyond the skew": hs256(exp=now - 60, iat=now - 700),
        "not yet valid": hs256(nbf=now + 120),
        "no expiry": hs256(exp=None),
        "wrong issuer": hs256(iss="https://evil.example.test/"),
        "no issuer": hs256(iss=None),
        "wrong audience": hs256(aud="someone-else"),
        "no user claim": hs256(sub=None),
        "user claim not a string": hs256(sub={"id": "alice"}),
        "alg none": jwt.encode(claims(), None, algorithm="none"),
        "RS256 instead": jwt.encode(claims(), other_key, algorithm="RS256"),
        "tampered payload": _tampered(hs256()),
    }
    async with run_host(path) as running:
        http = running.http
        answers = {name: await refusal(http, token) for name, token in bad.items()}
        # Within the clock skew an expired token still counts: clocks drift.
        status, _ = await refusal(http, hs256(exp=now - 10, iat=now - 600))
        assert status == 200
    assert answers == {name: (401, UNAUTHORIZED) for name in bad}


async def test_a_subject_is_the_user_id_exactly(tmp_path: Path) -> None:
    # "alice " and " alice" are other subjects: read as "alice", they opened her threads (#18).
    path = jwt_project(tmp_path, algorithm="HS256", secret=SECRET)
    async with run_host(path) as running:
        http = running.http
        thread_id = (await ChatKitClient("/chatkit", token=hs256(), client=http).create_thread("mine")).thread_id
        read = {}
        for sub in ("alice ", " alice", "alice\n", "\talice"):
            response = await http.post("/chatkit", headers={"Authorization": f"Bearer {hs256(sub=sub)}"},
                                       content=json.dumps({"type": "threads.get_by_id",
                                                           "params": {"thread_id": thread_id}}))
            read[sub] = response.status_code
        blank = await refusal(http, hs256(sub="  "))
    assert read == {"alice ": 404, " alice": 404, "alice\n": 404, "\talice": 404}
    assert blank == (401, UNAUTHORIZED)


async def test_rs256_with_a_jwks_file(tmp_path: Path) -> None:
    key = rsa_key()
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys/jwks.json").write_text(json.dumps({"keys": [public_jwk(key, "k1")]}))
    path = jwt_project(tmp_path, algorithm="RS256", jwks_file="keys/jwks.json")
    async with run_host(path) as running:
        http = running.http
        client = ChatKitClient("/chatkit", token=rs256(key), client=http)
        assert (await client.create_thread("hi")).assistant_text == "Echo 1: hi"
        assert await refusal(http, rs256(rsa_key())) == (401, UNAUTHORIZED)  # signed by a stranger
        assert await refusal(http, rs256(key, kid="k2")) == (401, UNAUTHORIZED)  # unknown key id
        # Alg confusion: an HS256 token "signed" with the public key as the secret.
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        forged = _hs256_with_raw_key(claims(), public_pem)
        assert await refusal(http, forged) == (401, UNAUTHORIZED)


class JwksServer:
    """A loopback HTTP server serving a JWKS, counting fetches (`jwks_server()` runs it and sets `url`)."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.fetches = 0
        self.url = ""
        owner = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner.fetches += 1
                self.send_json(owner.document)

        self.handler = Handler


@contextmanager
def jwks_server() -> Iterator[JwksServer]:
    served = JwksServer()
    with serving(served.handler) as base:
        served.url = f"{base}/.well-known/jwks.json"
        yield served


async def test_rs256_with_a_jwks_url_is_fetched_once_per_ttl_and_follows_rotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = rsa_key(), rsa_key()
    with jwks_server() as served:
        served.document = {"keys": [public_jwk(old, "old")]}
        path = jwt_project(tmp_path, algorithm="RS256", jwks_url=served.url, jwks_ttl=300)
        async with run_host(path) as running:
            http = running.http
            for _ in range(5):
                assert (await refusal(http, rs256(old, kid="old")))[0] == 200
            assert served.fetches == 1  # cached for the TTL

            # The provider rotates: a token with the new key id refetches at once (the refetch
            # interval for unknown key ids is set to 0 here so the test need not wait).
            monkeypatch.setattr(jwks, "MIN_REFETCH", 0.0)
            served.document = {"keys": [public_jwk(new, "new")]}
            assert (await refusal(http, rs256(new, kid="new")))[0] == 200
            assert served.fetches == 2
            assert await refusal(http, rs256(old, kid="old")) == (401, UNAUTHORIZED)


async def test_an_unreachable_jwks_url_refuses_tokens_without_detail(tmp_path: Path) -> None:
    with jwks_server() as served:
        url = served.url
    path = jwt_project(tmp_path, algorithm="RS256", jwks_url=url)  # nothing listens there now
    async with run_host(path) as running:
        http = running.http
        assert await refusal(http, rs256(rsa_key())) == (401, UNAUTHORIZED)


@pytest.mark.parametrize(("jwt_config", "message"), [
    ({"algorithm": "HS256"}, "auth.jwt.secret is required with algorithm HS256"),
    ({"algorithm": "RS256"}, "with RS256, give exactly one of auth.jwt.jwks_url or auth.jwt.jwks_file"),
    ({"algorithm": "RS256", "jwks_file": "missing.json"}, "cannot read"),
    ({"algorithm": "HS256", "secret": SECRET, "jwks_url": "http://127.0.0.1/jwks"},
     "with HS256, tokens are checked with secret"),
])
def test_jwt_settings_are_checked_when_the_config_loads(
    tmp_path: Path, jwt_config: dict[str, Any], message: str
) -> None:
    config = base_config()
    config["auth"] = {"mode": "jwt", "jwt": jwt_config}
    path = write_project(tmp_path, config)
    with pytest.raises(ConfigError) as error:
        build_runtime(load_config(path, environ={}))
    rendered = str(error.value)
    assert message in rendered and "auth" in rendered
    assert SECRET not in rendered


def test_jwt_mode_needs_its_section(tmp_path: Path) -> None:
    config = base_config()
    config["auth"] = {"mode": "jwt"}
    with pytest.raises(ConfigError, match="auth.jwt is required when auth.mode is jwt"):
        load_config(write_project(tmp_path, config), environ={})


def _tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    body = json.loads(jwt.utils.base64url_decode(payload))
    body["sub"] = "mallory"
    forged = jwt.utils.base64url_encode(json.dumps(body).encode()).decode()
    return f"{head}.{forged}.{signature}"


def _hs256_with_raw_key(payload: dict[str, Any], secret: bytes) -> str:
    import hashlib
    import hmac

    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = jwt.utils.base64url_encode(json.dumps(payload).encode())
    signing_input = header + b"." + body
    signature = jwt.utils.base64url_encode(hmac.new(secret, signing_input, hashlib.sha256).digest())
    return (signing_input + b"." + signature).decode()
