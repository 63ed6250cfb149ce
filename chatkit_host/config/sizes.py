"""Sizes in bytes, written as people write them: `4096`, `64KB`, `20MiB`.

KB, MB and GB are powers of 1000 and KiB, MiB and GiB powers of 1024, as their standards say
(units are case-insensitive; `B` is bytes). A size remembers how it was written, so a refusal
quotes the limit as configured ("the largest accepted is 1MB"), never a conversion of it into
other units (#18). Defaults are written the same way (`20MiB`).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
         "kib": 1024, "mib": 1024**2, "gib": 1024**3}

PATTERN = r"^\s*[0-9]+(\.[0-9]+)?\s*([bB]|[kKmMgG][iI]?[bB])?\s*$"
"""What a size written as text looks like (for the JSON Schema, which has no flags)."""

MESSAGE = "must be a size such as 4MB, 512KiB or a number of bytes"
HINT = "KB, MB, GB are powers of 1000; KiB, MiB, GiB powers of 1024"

_TEXT = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*", re.IGNORECASE)


class Size(int):
    """A number of bytes that remembers how it was written."""

    written: str

    def __new__(cls, written: str | int) -> Size:
        size = super().__new__(cls, parse(written))
        size.written = written.strip() if isinstance(written, str) else str(written)
        return size

    def __repr__(self) -> str:
        return f"Size({self.written!r})"

    def describe(self) -> str:
        """As written, with the bytes it means when it has a unit: `1MB (1,000,000 bytes)`,
        `2000 bytes`."""
        if self.written.isdigit():
            return f"{self.written} bytes"
        return f"{self.written} ({int(self):,} bytes)"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda size: size.written if isinstance(size, Size) else size),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"anyOf": [{"type": "string", "pattern": PATTERN}, {"type": "integer", "minimum": 0}]}

    @classmethod
    def _validate(cls, value: Any) -> Size:
        if isinstance(value, Size):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise PydanticCustomError("size", MESSAGE)
        try:
            return cls(value)
        except ValueError:
            raise PydanticCustomError("size", MESSAGE) from None


def parse(written: str | int) -> int:
    """The bytes `written` means.

    Raises:
        ValueError: it is negative, or not a number with a known unit.
    """
    if isinstance(written, int):
        if written < 0:
            raise ValueError("a size is not negative")
        return written
    match = _TEXT.fullmatch(written)
    if match is None or match.group(2).lower() not in ("", *UNITS):
        raise ValueError(MESSAGE)
    number, unit = match.groups()
    return int(float(number) * UNITS[unit.lower() or "b"])
