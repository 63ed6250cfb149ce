"""URL templates filled with values a model, a user or a client chose (http tools, http entity sources).

A value fills its place and nothing more (#18): it is percent-encoded whole (`/`, `\\`, `%`, `?`, `#`
included), a path segment it would make `.` or `..` is refused rather than sent (HTTP clients and
servers remove dot segments, so `orders/..` would reach `/` with the tool's credentials), and the
final URL must still begin with the template's text before its first value.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import httpx

_DOT_SEGMENTS = (".", "..")


class UrlTemplateError(ValueError):
    """A value that would take the URL outside what its template fixes; the message names the fields."""


@dataclass(frozen=True)
class Piece:
    """Part of a URL being filled: the template's own text, or a value (not yet encoded)."""

    text: str
    name: str | None = None
    """What the value fills (a field, an expression); None for the template's own text."""


def field_pieces(template: str, values: Mapping[str, Any]) -> list[Piece]:
    """`template`'s text and its `{name}` fields, each field holding its value from `values`."""
    pieces: list[Piece] = []
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            pieces.append(Piece(literal))
        if name:
            pieces.append(Piece(str(values[name]), name))
    return pieces


def fill_url(pieces: Sequence[Piece]) -> httpx.URL:
    """The URL the pieces make, each value encoded; raises `UrlTemplateError` when a value would
    change the path the template fixes, or the result is not a URL."""
    climbing = _dot_segment_names(pieces)
    if climbing:
        raise UrlTemplateError(
            f"{', '.join(climbing)} may not hold a '.' or '..' path segment: a value cannot change the URL's path")
    try:
        url = httpx.URL("".join(_encoded(piece) for piece in pieces))
    except httpx.InvalidURL:
        raise UrlTemplateError("the URL is not valid with these values") from None
    prefix = _fixed_prefix(pieces)
    if prefix is not None and not str(url).startswith(prefix):
        raise UrlTemplateError("the values take the URL outside the path its template fixes")
    return url


def _encoded(piece: Piece) -> str:
    return piece.text if piece.name is None else quote(piece.text, safe="")


def _fixed_prefix(pieces: Sequence[Piece]) -> str | None:
    """The template's text before its first value, as the URL parser writes it; None without values."""
    if all(piece.name is None for piece in pieces):
        return None
    head = ""
    for piece in pieces:
        if piece.name is not None:
            break
        head += piece.text
    # A placeholder ends the head as a value would, so both are normalised the same way.
    try:
        return str(httpx.URL(head + "x"))[:-1]
    except httpx.InvalidURL:
        return None


def _dot_segment_names(pieces: Sequence[Piece]) -> list[str]:
    """What fills a path segment that is `.` or `..`, also once decoded as a server may decode it."""
    segments: list[tuple[str, list[str]]] = [("", [])]
    for piece in pieces:
        if piece.name is not None:
            text, names = segments[-1]
            segments[-1] = (text + _encoded(piece), [*names, piece.name])
            continue
        path, ends = re.split(r"[?#]", piece.text, maxsplit=1)[0], bool(re.search(r"[?#]", piece.text))
        first, *rest = path.split("/")
        text, names = segments[-1]
        segments[-1] = (text + first, names)
        segments.extend((part, []) for part in rest)
        if ends:  # the query and fragment keep their dots: no one removes them
            break
    found: list[str] = []
    for text, names in segments:
        # Split as a server that decodes `%2F` or reads a backslash as `/` would see it.
        if names and any(part in _DOT_SEGMENTS for part in re.split(r"[/\\]", _decoded(text))):
            found.extend(name for name in names if name not in found)
    return found


def _decoded(segment: str) -> str:
    # Decoded until stable (bounded): `%252e` is `.` to a server that decodes twice.
    for _ in range(4):
        decoded = unquote(segment)
        if decoded == segment:
            break
        segment = decoded
    return segment
