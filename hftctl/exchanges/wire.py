"""Helpers every exchange's wire code needs: malformed-input errors, signatures, level lists, step
formatting."""

from __future__ import annotations

import hashlib
import hmac
import logging
import sys
from decimal import Decimal
from typing import Annotated, Any

import msgspec
import orjson


class MalformedMessage(ValueError):
    """An exchange message that does not have the documented shape; streams log and skip it."""


# A decimal of an exchange message, decoded to a float: nan and inf ("nan", "inf", "1e400" on
# the wire) are malformed, never a price a book or a bot would choke on later.
Finite = Annotated[float, msgspec.Meta(ge=-sys.float_info.max, le=sys.float_info.max)]
_MAX_MS = (1 << 63) // 1_000_000


def ms_ns(ms: int) -> int:
    """An exchange time in ms as ns, if it is one (int64 ns, as the IPC schema carries it)."""
    if not 0 <= ms < _MAX_MS:
        raise MalformedMessage(f"timestamp {ms!r} ms out of range")
    return ms * 1_000_000


def load_frame(raw: bytes, log: logging.Logger, stream: str) -> tuple[bytes, Any]:
    """A websocket frame as (raw bytes, parsed JSON); None and a warning if it is not JSON.

    The raw bytes are kept because collectors record them exactly as the exchange sent them.
    """
    try:
        return raw, orjson.loads(raw)
    except orjson.JSONDecodeError:
        log.warning("%s stream: undecodable message skipped: %r", stream, raw[:120])
        return raw, None


def parse_levels(raw: Any) -> list[tuple[float, float]]:
    """``[["px", "qty"], ...]`` (strings or numbers) -> ``[(px, qty), ...]``."""
    return [(float(p), float(q)) for p, q in raw]


def fmt_step(value: float, step: float) -> str:
    """``value`` rounded to the nearest multiple of ``step``, printed with the step's decimals.

    Exchanges reject prices/quantities that are not exact multiples of the tick/lot (Binance
    ``-1111``, Bybit ``10001``), and a float such as 0.1 * 3 prints with 17 digits.
    """
    if step <= 0:
        return format(Decimal(repr(value)).normalize(), "f")
    d_step = Decimal(repr(step)).normalize()
    n = (Decimal(repr(value)) / d_step).to_integral_value()
    return format((n * d_step).quantize(d_step), "f")


def hmac_sha256_hex(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def verify(expected: str, given: str) -> bool:
    """Constant-time comparison of signatures (the sim's side)."""
    return hmac.compare_digest(expected, given or "")
