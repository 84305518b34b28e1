"""Slice dimensions: validated at decode, and encoded into keys no value can break.

A slice is surface x region x recommender model version x item category. Values come from producers,
so they are checked against an allowed character set and length (config), and the key that joins
them is length-prefixed: no value, whatever it holds, can run into the next one.

>>> slice_key(("shorts", "br", "recsys-1", "news"))
'6:shorts2:br8:recsys-14:news'
>>> parse_slice_key(slice_key(("a:b", "", "3:x", "\\x1f")))
('a:b', '', '3:x', '\\x1f')
"""
from __future__ import annotations

import re

from riskstream.core.job_config import DecodeSettings
from riskstream.core.errors import DecodeError, ErrorCode
from riskstream.core.rows import DIMENSIONS


class DimensionRules:
    """Rejects dimension values outside the configured character set or length."""

    def __init__(self, settings: DecodeSettings, remembered: int = 100_000):
        self._pattern = re.compile(settings.dimension_pattern)
        self._max_length = settings.dimension_max_length
        # Values seen valid (the same rules hold for every field): dimensions and cohorts take few values,
        # so most records skip the regular expression. Bounded, so a stream of new values costs no memory.
        self._valid: set[str] = set()
        self._remembered = remembered

    def check(self, values: tuple[str, ...], names: tuple[str, ...] = DIMENSIONS) -> None:
        valid = self._valid
        for name, value in zip(names, values):
            if value in valid:
                continue
            if len(value) > self._max_length:
                raise DecodeError(ErrorCode.INVALID_DIMENSION,
                                  f"{name} is {len(value)} characters long, more than {self._max_length}")
            if not self._pattern.fullmatch(value):
                raise DecodeError(ErrorCode.INVALID_DIMENSION,
                                  f"{name} {value[:80]!r} does not match {self._pattern.pattern!r}")
            if len(valid) < self._remembered:
                valid.add(value)


def slice_key(values: tuple[str, ...]) -> str:
    """Length-prefixed join: `len:value` per dimension."""
    return "".join(f"{len(v)}:{v}" for v in values)


def parse_slice_key(key: str) -> tuple[str, ...]:
    values, position = [], 0
    while position < len(key):
        colon = key.index(":", position)
        length = int(key[position:colon])
        values.append(key[colon + 1:colon + 1 + length])
        position = colon + 1 + length
    return tuple(values)
