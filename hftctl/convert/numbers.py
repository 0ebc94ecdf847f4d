"""Decimal strings to float64 in bulk.

Exchange messages carry prices and quantities as JSON strings (``["61800.20","0.014"]``); making a
Python str then a float per value is the converter's main cost. Stripping quotes and brackets from
whole ``[[...]]`` segments leaves a comma-separated list of JSON numbers that orjson parses in one
call, correctly rounded, so values equal ``float(s)`` bit for bit.
"""

from __future__ import annotations

from array import array

import numpy as np
import orjson

from hftctl.convert import accel

_STRIP = b'[]"'


def parse_pair_segments(segments: list[bytes]) -> np.ndarray | None:
    """Parse segments like ``["1.5","2"],["3","4"]`` into a flat float64 array (px, qty, px, ...).

    Returns None if any segment is malformed, so the caller can find the culprit line by line.
    Empty segments are allowed and contribute nothing.
    """
    body = b",".join([s for s in segments if s]).translate(None, _STRIP)
    if not body:
        return np.zeros(0, np.float64)
    return _floats(body, None)


def parse_numbers(texts: list[bytes]) -> np.ndarray | None:
    """Decimal strings (without quotes) to float64 in one orjson call; None if any is malformed."""
    if not texts:
        return np.zeros(0, np.float64)
    joined = b",".join(texts)
    if accel.scan is not None:
        values = accel.scan.parse_decimals(joined, len(texts))
        if values is not None:
            return np.frombuffer(values, np.float64)
    return _floats(joined, len(texts))


def _floats(joined: bytes, count: int | None) -> np.ndarray | None:
    """``[joined]`` as float64, or None unless it is a JSON list of ``count`` (any) numbers."""
    try:
        values = orjson.loads(b"[" + joined + b"]")
    except orjson.JSONDecodeError:
        return None
    if count is not None and len(values) != count:
        return None
    try:
        # array('d') takes a list of floats faster than np.array; it refuses anything else.
        return np.frombuffer(array("d", values), np.float64)
    except TypeError:
        return None
