"""Instrument rules (tick, lot step, filters) and exact price/quantity conversion.

The engine keeps prices as integer ticks and quantities as integer lots so matching and book
maintenance never accumulate float error; the wire sees fixed-decimal strings as the exchanges send.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class BadNumber(ValueError):
    """A price or quantity string that is not a number, or not on the instrument's grid."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason   # "illegal" | "precision" | "tick" | "step" | "nonpositive"


@dataclass(frozen=True)
class SymbolSpec:
    symbol: str
    base: str
    quote: str
    tick: float
    price_decimals: int
    step: float
    qty_decimals: int
    min_qty: float
    max_qty: float
    min_price: float
    max_price: float
    min_notional: float
    start_price: float        # synthetic market's first mid

    def ticks(self, price: str | float) -> int:
        """Exact tick index of a wire price; raises BadNumber when it is off the grid."""
        return _grid_index(_number(price), self.tick, "tick")

    def lots(self, qty: str | float) -> int:
        """Exact lot count of a wire quantity; raises BadNumber when it is off the grid."""
        return _grid_index(_number(qty), self.step, "step")

    def price_str(self, ticks: int) -> str:
        return f"{ticks * self.tick:.{self.price_decimals}f}"

    def qty_str(self, lots: int) -> str:
        return f"{lots * self.step:.{self.qty_decimals}f}"

    def price(self, ticks: int) -> float:
        return round(ticks * self.tick, self.price_decimals)

    def qty(self, lots: int) -> float:
        return round(lots * self.step, self.qty_decimals)

    def book_ticks(self, price: str) -> int:
        """Tick index of a price from a recorded book (trusted; no grid check, fast path)."""
        return round(float(price) / self.tick)

    def book_lots(self, qty: str) -> int:
        return round(float(qty) / self.step)


def _number(text: str | float) -> float:
    if isinstance(text, float | int):
        value = float(text)
    else:
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise BadNumber("illegal") from None
        if "e" in text.lower() or text.strip() != text:
            raise BadNumber("illegal")
    if not math.isfinite(value):
        raise BadNumber("illegal")
    return value


def _grid_index(value: float, unit: float, reason: str) -> int:
    # A tolerance, not equality: 3 * 0.1 is 0.30000000000000004 in binary floating point.
    n = round(value / unit)
    if abs(n * unit - value) > unit * 1e-6:
        raise BadNumber(reason)
    return n
