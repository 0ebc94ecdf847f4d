"""Helpers every exchange's wire code needs: malformed-input errors, level lists, step formatting."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


class MalformedMessage(ValueError):
    """An exchange message that does not have the documented shape; streams log and skip it."""


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
