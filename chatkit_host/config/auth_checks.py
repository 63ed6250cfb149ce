"""Checks of the `auth` section: the bearer tokens."""

from __future__ import annotations

import re

from chatkit_host.config.checking import ProblemAt
from chatkit_host.config.models import ChatKitConfig
from chatkit_host.config.positions import KeyPath
from chatkit_host.errors import ConfigProblem

_TOKEN_SEPARATORS = re.compile(r"[,\s]+")


def check_auth(config: ChatKitConfig, problem: ProblemAt) -> tuple[dict[str, str], list[ConfigProblem]]:
    """`auth.tokens` as token → user, and its problems (bearer mode needs at least one entry)."""
    tokens, problems = parse_tokens(config.auth.tokens, problem)
    if config.auth.mode == "bearer" and not tokens and not problems:  # e.g. only separators
        problems.append(problem(("auth", "tokens"), "has no user=token entries"))
    return tokens, problems


def parse_tokens(
    tokens: dict[str, str] | str | None, problem: ProblemAt
) -> tuple[dict[str, str], list[ConfigProblem]]:
    """`auth.tokens` (a user → token map, or `alice=T1,bob=T2`) as token → user.

    The string form is split on commas and whitespace, each entry on its first `=`. An empty user
    or token, or one token for two users, is a problem. Tokens never appear in messages.
    """
    path: KeyPath = ("auth", "tokens")
    if isinstance(tokens, str):
        parts = (entry.partition("=") for entry in _TOKEN_SEPARATORS.split(tokens.strip()) if entry)
        entries = [(path, f"entry {number}", user, token, bool(equals))
                   for number, (user, equals, token) in enumerate(parts, start=1)]
    else:
        entries = [((*path, user), f"user '{user}'", user, token, True)
                   for user, token in (tokens or {}).items()]
    problems: list[ConfigProblem] = []
    by_token: dict[str, str] = {}
    for where, label, user, token, has_equals in entries:
        if not has_equals:
            problems.append(problem(where, f"{label} is not user=token",
                                    "separate entries with commas or spaces: alice=TOKEN1,bob=TOKEN2"))
        elif not user or not token:
            problems.append(problem(where, f"{label} has an empty {'token' if user else 'user'}"))
        elif by_token.setdefault(token, user) != user:
            problems.append(problem(where, f"users '{by_token[token]}' and '{user}' have the same token",
                                    "give every user a token of their own"))
    return by_token, problems
