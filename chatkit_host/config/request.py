"""The `request` section: what of the HTTP request reaches templates and tools.

Pure models. Only the headers listed here are read; their values are client data, seen by templates
as values (`{{ request.headers['x-article-id'] }}`), never as template code.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_CREDENTIALS = ("authorization", "proxy-authorization", "cookie")


class RequestConfig(BaseModel):
    """Page context sent with each request (the article being read, the map on screen)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    headers: list[str] = []
    """Request headers that templates see as `{{ request.headers['x-article-id'] }}` and python tools
    as `run.headers`, e.g. `[x-article-id]` (case does not matter). Headers not listed never reach
    them; credentials (`authorization`, `cookie`) cannot be listed."""

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: list[str]) -> list[str]:
        bad = [repr(name) for name in value if not _HEADER_NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not a header name: "
                             "letters, digits and '-', e.g. x-article-id")
        names = [name.lower() for name in value]
        secret = [name for name in names if name in _CREDENTIALS]
        if secret:
            raise ValueError(f"{', '.join(secret)} carries credentials and is never passed to templates "
                             "or tools: use `user` and `user.claims` for who is asking")
        return list(dict.fromkeys(names))
