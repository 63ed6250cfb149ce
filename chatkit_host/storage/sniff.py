"""What a file really is, from its first bytes: the type an upload is checked and stored as.

A client's declared MIME type and file name are claims; the magic numbers are facts. Executables
are recognised by their own signatures and refused whatever they claim to be, so `invoice.png`
that starts with `MZ` never reaches storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    # (magic bytes, offset, MIME type)
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"BM", 0, "image/bmp"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"%PDF-", 0, "application/pdf"),
    (b"PK\x03\x04", 0, "application/zip"),
    (b"\x1f\x8b", 0, "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", 0, "application/x-7z-compressed"),
    (b"OggS", 0, "audio/ogg"),
    (b"ID3", 0, "audio/mpeg"),
    (b"\x1a\x45\xdf\xa3", 0, "video/webm"),
)

_EXECUTABLES: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "a Windows executable"),
    (b"\x7fELF", "a Linux (ELF) executable"),
    (b"\xfe\xed\xfa\xce", "a macOS (Mach-O) executable"),
    (b"\xfe\xed\xfa\xcf", "a macOS (Mach-O) executable"),
    (b"\xce\xfa\xed\xfe", "a macOS (Mach-O) executable"),
    (b"\xcf\xfa\xed\xfe", "a macOS (Mach-O) executable"),
    (b"\xca\xfe\xba\xbe", "a macOS universal binary or Java class"),
    (b"#!", "a script with an interpreter line"),
    (b"\x00asm", "a WebAssembly module"),
)


@dataclass(frozen=True)
class Sniffed:
    """What the bytes are: a MIME type, and whether they are an executable (and which kind)."""

    mime_type: str
    executable: str | None = None


def sniff(head: bytes) -> Sniffed:
    """The type of a file from its first bytes (a few KB are plenty).

    Unknown binary data is `application/octet-stream`; valid UTF-8 without NUL bytes is
    `text/plain`.
    """
    for magic, what in _EXECUTABLES:
        if head.startswith(magic):
            return Sniffed("application/x-executable", executable=what)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image/webp")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Sniffed("audio/wav")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return Sniffed("image/avif")
        if brand in (b"heic", b"heix", b"mif1"):
            return Sniffed("image/heic")
        return Sniffed("audio/mp4" if brand.startswith(b"M4A") else "video/mp4")
    for magic, offset, mime in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return Sniffed(mime)
    if _is_text(head):
        return Sniffed("text/plain")
    return Sniffed("application/octet-stream")


def accepted(mime_type: str, patterns: list[str]) -> bool:
    """Whether `mime_type` matches one of `patterns` (`image/*`, `application/pdf`, …)."""
    mime_type = mime_type.split(";", 1)[0].strip().lower()
    return any(fnmatchcase(mime_type, pattern) for pattern in patterns)


def stored_type(declared: str, sniffed: Sniffed) -> str:
    """The type to keep: the sniffed one, except a declared `text/…` subtype for text files
    (bytes cannot tell Markdown from CSV, and both are text)."""
    declared = declared.split(";", 1)[0].strip().lower()
    if sniffed.mime_type == "text/plain" and declared.startswith("text/"):
        return declared
    return sniffed.mime_type


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    for cut in range(4):  # the sample may end inside a multi-byte character
        try:
            head[: len(head) - cut].decode("utf-8")
            return True
        except UnicodeDecodeError:
            continue
    return False
