"""The pictures the scripted model "generates": tiny, valid PNGs built in code.

An `image` step streams its partial images and then the final one, like the hosted image_generation
tool. Real bytes (not a placeholder string) matter: the host sniffs, stores and serves them, and a
browser must be able to show them. Each is 2×2 pixels, so a test can compare them byte for byte.
"""

from __future__ import annotations

import struct
import zlib

SIZE = 2
"""Width and height of every scripted image, in pixels."""


def scripted_png(color: tuple[int, int, int], partial: int | None = None, partials: int = 0) -> bytes:
    """The final image of `color`, or partial image `partial` (0-based) of `partials`.

    A partial image is the color faded towards grey, less so as the index grows: the progression
    a user sees, and bytes that differ from the final image's.
    """
    if partial is not None:
        share = (partial + 1) / (partials + 1)
        return _png(SIZE, SIZE, bytes(round(128 + (channel - 128) * share) for channel in color) * (SIZE * SIZE))
    return _png(SIZE, SIZE, bytes(color) * (SIZE * SIZE))


def _png(width: int, height: int, rgb: bytes) -> bytes:
    """A truecolor, 8-bit PNG of `rgb` (row-major pixels, 3 bytes each)."""
    row = width * 3
    # Every scanline starts with its filter type; 0 = none.
    raw = b"".join(b"\x00" + rgb[y * row : (y + 1) * row] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
