"""Who is calling: request headers → `RequestContext`, or None (answered 401 by the app)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from chatkit_host.config.models import AuthConfig
from chatkit_host.context import RequestContext


class Authenticator:
    """Turns an Authorization header into a user, as `auth` in chatkit.yaml says."""

    def __init__(self, config: AuthConfig, tokens: Mapping[str, str]):
        self._config = config
        # Compare as bytes with compare_digest: token checks must not leak timing.
        self._tokens = [(token.encode(), user) for token, user in tokens.items()]

    def authenticate(self, authorization: str | None) -> RequestContext | None:
        if self._config.mode == "none":
            return RequestContext(user_id=self._config.user)
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return None
        presented_bytes = presented.strip().encode()
        user = None
        for token, owner in self._tokens:
            if hmac.compare_digest(token, presented_bytes):
                user = owner
        return RequestContext(user_id=user) if user else None
