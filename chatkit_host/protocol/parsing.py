"""Parsing a ChatKit request once per process, not once per request.

The SDK's `ChatKitServer.process` builds a new pydantic `TypeAdapter` for the request union on
every call: schema generation that cost about a sixth of a streamed turn's CPU in `bench/`
(issue 10). `ParsedOnce.process` is the SDK's method with one adapter built at import.
"""

from __future__ import annotations

import logging
from typing import Any

from chatkit.server import NonStreamingResult, StreamingResult
from chatkit.types import ChatKitReq, is_streaming_req
from pydantic import TypeAdapter

REQUEST: TypeAdapter[ChatKitReq] = TypeAdapter(ChatKitReq)
"""The request union's validator, built once."""

_sdk_logger = logging.getLogger("chatkit")


class ParsedOnce:
    """Mixin for a `ChatKitServer` subclass (list it before `ChatKitServer`)."""

    async def process(
        self, request: str | bytes | bytearray, context: Any
    ) -> StreamingResult | NonStreamingResult:
        """As `ChatKitServer.process` (same routing, same log line), with the cached adapter."""
        return await self.process_parsed(REQUEST.validate_json(request), context)

    async def process_parsed(
        self, parsed: ChatKitReq, context: Any
    ) -> StreamingResult | NonStreamingResult:
        """`process` for a request already parsed (the app parses once, to check it first)."""
        _sdk_logger.info("Received request op: %s", parsed.type)
        # A mixin: the ChatKitServer it is listed before has these two methods.
        if is_streaming_req(parsed):
            return StreamingResult(self._process_streaming(parsed, context))  # type: ignore[attr-defined]
        return NonStreamingResult(await self._process_non_streaming(parsed, context))  # type: ignore[attr-defined]
