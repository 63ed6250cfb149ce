"""Who is calling: the Authorization header → `RequestContext`, or None (answered 401 by the app).

`authenticator.py` chooses by `auth.mode`; `jwt_tokens.py` verifies JSON Web Tokens with keys from
`jwks.py`. Nothing here says why a token was refused to the caller: the reason goes to the log.

May import: `config`, `storage` and the foundation (`errors`, `refs`, `context`).
"""

from chatkit_host.auth.authenticator import Authenticator, auth_problems

__all__ = ["Authenticator", "auth_problems"]
