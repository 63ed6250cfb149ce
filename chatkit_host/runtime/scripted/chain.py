"""Response ids that carry a scripted conversation's state, so chaining needs no memory.

With `previous_response_id` a caller sends only the new input items; a real Responses API server
remembers the rest. The scripted model must stay stateless (any replica may get the next call), so the
little it needs — the turn's user text, the turn number and how many tool outputs it had seen — travels
inside the response id itself.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

PREFIX = "resp_scripted_"


@dataclass(frozen=True)
class ChainState:
    user_text: str
    turn: int
    outputs: int
    """Steps the turn had played when the response was made: tool outputs seen, plus hosted calls
    (image steps) made, this response's own included."""


def encode_state(state: ChainState) -> str:
    data = json.dumps([state.user_text, state.turn, state.outputs], ensure_ascii=False).encode()
    return PREFIX + base64.urlsafe_b64encode(data).decode().rstrip("=")


def decode_state(response_id: str) -> ChainState:
    """The state inside a response id this model made; ValueError for anyone else's id."""
    if not response_id.startswith(PREFIX):
        raise ValueError(f"{response_id!r} is not a scripted model's response id")
    body = response_id.removeprefix(PREFIX)
    user_text, turn, outputs = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return ChainState(str(user_text), int(turn), int(outputs))
