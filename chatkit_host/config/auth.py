"""`auth.jwt` in chatkit.yaml: how a JSON Web Token is checked and what is taken from it.

Kept apart from models.py (which imports it) so the JWT settings live in one small module. The
models are pure like the rest of the config: no key is read or fetched here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class JwtConfig(BaseModel):
    """Accept `Authorization: Bearer <JWT>` signed by your identity provider.

    HS256 checks the signature with a shared `secret`; RS256 with the public keys of a JWKS,
    from `jwks_url` (fetched and cached) or `jwks_file`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: Literal["HS256", "RS256"] = "RS256"
    """Signature algorithm. Tokens signed any other way (including `none`) are refused."""
    secret: str | None = Field(None, min_length=32)
    """With HS256: the shared secret, at least 32 characters; use `${JWT_SECRET}` so it stays
    out of the file."""
    jwks_url: str | None = Field(None, pattern=r"^https?://")
    """With RS256: URL of the identity provider's JSON Web Key Set, e.g.
    `https://login.example.com/.well-known/jwks.json`."""
    jwks_file: str | None = None
    """With RS256: a JWKS file on disk, relative to chatkit.yaml."""
    jwks_ttl: int = Field(300, ge=0)
    """Seconds a fetched JWKS is reused before it is fetched again. A token naming an unknown key
    id refetches sooner (at most every 10 seconds), so key rotation needs no restart."""
    issuer: str | None = None
    """Required `iss` claim. Set it: without it a token from any issuer signed by the same keys
    is accepted."""
    audience: str | list[str] | None = None
    """Required `aud` claim (one value, or a list of which the token must name one)."""
    clock_skew: int = Field(30, ge=0, le=600)
    """Seconds of leeway when checking `exp`, `nbf` and `iat` against this machine's clock."""
    user_claim: str = Field("sub", min_length=1)
    """The claim holding the user id (a dotted path reaches into objects, e.g. `user.id`). Every
    thread belongs to this id."""
    claims: list[str] = []
    """Claims passed on to templates (`{{ user.claims.email }}`) and tools; dotted paths allowed.
    Claims not listed are dropped."""

    @model_validator(mode="after")
    def _one_key_source(self) -> JwtConfig:
        if self.algorithm == "HS256":
            if not self.secret:
                raise ValueError("auth.jwt.secret is required with algorithm HS256")
            if self.jwks_url or self.jwks_file:
                raise ValueError("with HS256, tokens are checked with secret: jwks_url/jwks_file are for RS256")
            return self
        if self.secret:
            raise ValueError("with RS256, tokens are checked with public keys: use jwks_url or jwks_file, not secret")
        if bool(self.jwks_url) == bool(self.jwks_file):
            raise ValueError("with RS256, give exactly one of auth.jwt.jwks_url or auth.jwt.jwks_file")
        return self


AuthMode = Literal["none", "bearer", "jwt"]
