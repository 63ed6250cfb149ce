"""Verify a JSON Web Token as `auth.jwt` says, and read the user and the chosen claims from it.

Only the configured algorithm is accepted (no `none`, no switching RS256 to HS256 with the public
key as the secret); `exp` is always required; `iss` and `aud` are checked when configured.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jwt

from chatkit_host.auth.jwks import FileKeys, KeysUnavailable, UrlKeys
from chatkit_host.config.auth import JwtConfig
from chatkit_host.context import RequestContext

logger = logging.getLogger("chatkit_host.auth")

MAX_USER_ID = 255
"""Longest user id taken from a token; every stored row carries it."""
MAX_TOKEN = 16 * 1024
"""Longest token read at all: anything longer is refused unparsed."""


class TokenRefused(Exception):
    """Why a token was refused: for the log, never for the caller."""


class JwtVerifier:
    """Checks tokens signed with a shared secret (HS256) or a JWKS's keys (RS256)."""

    def __init__(self, config: JwtConfig, base_dir: Path):
        self._config = config
        self._keys: FileKeys | UrlKeys | None = None
        if config.jwks_url:
            self._keys = UrlKeys(config.jwks_url, config.jwks_ttl)
        elif config.jwks_file:
            self._keys = FileKeys(base_dir / config.jwks_file)

    async def verify(self, token: str) -> RequestContext:
        """The caller the token names.

        Raises:
            TokenRefused: The token is malformed, forged, expired, for another audience or issuer,
                or names no usable user id.
        """
        config = self._config
        if len(token) > MAX_TOKEN:
            raise TokenRefused("token too long")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != config.algorithm:
                raise TokenRefused(f"algorithm {header.get('alg')!r} is not {config.algorithm}")
            claims = jwt.decode(
                token,
                await self._key(header.get("kid")),
                algorithms=[config.algorithm],
                audience=config.audience,
                issuer=config.issuer,
                leeway=config.clock_skew,
                options={"require": self._required(), "verify_aud": config.audience is not None},
            )
        except (jwt.PyJWTError, KeysUnavailable) as error:
            raise TokenRefused(str(error)) from None
        return RequestContext(user_id=self._user_id(claims), claims=self._passed_on(claims))

    async def _key(self, key_id: Any) -> Any:
        if self._keys is None:
            return self._config.secret
        if key_id is not None and not isinstance(key_id, str):
            raise TokenRefused("kid is not a string")
        return await self._keys.key(key_id)

    def _required(self) -> list[str]:
        required = ["exp"]
        if self._config.issuer is not None:
            required.append("iss")
        if self._config.audience is not None:
            required.append("aud")
        return required

    def _user_id(self, claims: dict[str, Any]) -> str:
        value = claim(claims, self._config.user_claim)
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise TokenRefused(f"claim {self._config.user_claim!r} is missing or not a string")
        # Exactly as issued: stripped, "alice " was alice and opened her threads (#18).
        user_id = str(value)
        if not user_id.strip() or len(user_id) > MAX_USER_ID:
            raise TokenRefused(f"claim {self._config.user_claim!r} is empty or too long")
        if "\x00" in user_id:  # no database stores it as text: refused, not a 500 later (#18)
            raise TokenRefused(f"claim {self._config.user_claim!r} contains NUL")
        return user_id

    def _passed_on(self, claims: dict[str, Any]) -> dict[str, Any]:
        chosen = {name: claim(claims, name) for name in self._config.claims}
        return {name: value for name, value in chosen.items() if value is not None}


def claim(claims: dict[str, Any], path: str) -> Any:
    """The claim at a dotted ``path`` (`user.id`), or None."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
