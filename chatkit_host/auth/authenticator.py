"""`auth.mode` → how a request's Authorization header becomes a `RequestContext`."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from pathlib import Path

from chatkit_host.config.loader import LoadedConfig
from chatkit_host.config.models import AuthConfig
from chatkit_host.context import RequestContext
from chatkit_host.errors import ConfigProblem

logger = logging.getLogger("chatkit_host.auth")


class Authenticator:
    """Turns an Authorization header into a user, as `auth` in chatkit.yaml says."""

    def __init__(self, config: AuthConfig, tokens: Mapping[str, str], base_dir: Path | None = None):
        self._config = config
        # Compare as bytes with compare_digest: token checks must not leak timing.
        self._tokens = [(token.encode(), user) for token, user in tokens.items()]
        self._jwt = None
        if config.jwt:
            # PyJWT and cryptography are only loaded for auth.mode jwt.
            from chatkit_host.auth.jwt_tokens import JwtVerifier

            self._jwt = JwtVerifier(config.jwt, base_dir or Path.cwd())

    async def authenticate(self, authorization: str | None) -> RequestContext | None:
        """The caller, or None when the header is missing or names nobody (the app answers 401)."""
        if self._config.mode == "none":
            return RequestContext(user_id=self._config.user)
        scheme, _, presented = (authorization or "").partition(" ")
        presented = presented.strip()
        if scheme.lower() != "bearer" or not presented:
            return None
        if self._config.mode == "jwt":
            return await self._verified(presented)
        return self._bearer(presented)

    def _bearer(self, presented: str) -> RequestContext | None:
        presented_bytes = presented.encode()
        user = None
        for token, owner in self._tokens:
            if hmac.compare_digest(token, presented_bytes):
                user = owner
        return RequestContext(user_id=user) if user else None

    async def _verified(self, token: str) -> RequestContext | None:
        from chatkit_host.auth.jwt_tokens import TokenRefused

        assert self._jwt is not None  # AuthConfig requires auth.jwt with mode jwt
        try:
            return await self._jwt.verify(token)
        except TokenRefused as refused:
            # The reason helps whoever runs the host; the caller only learns "401".
            logger.info("refused a JWT: %s", refused)
            return None


def auth_problems(loaded: LoadedConfig) -> list[ConfigProblem]:
    """What is wrong with `auth` beyond its schema: an unreadable or empty `jwks_file`."""
    jwt_config = loaded.config.auth.jwt
    if loaded.config.auth.mode != "jwt" or jwt_config is None or not jwt_config.jwks_file:
        return []
    from chatkit_host.auth.jwks import FileKeys, KeysUnavailable

    try:
        keys = FileKeys(loaded.base_dir / jwt_config.jwks_file).load()
    except KeysUnavailable as error:
        return [loaded.problem(("auth", "jwt", "jwks_file"), str(error),
                               "export the provider's public keys as a JWKS: {\"keys\": [...]}")]
    if not keys:
        return [loaded.problem(("auth", "jwt", "jwks_file"), "the JWKS holds no signing key")]
    return []
