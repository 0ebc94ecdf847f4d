"""Accounts: API credentials, balances, one-way positions, fees and a simple margin rule.

Linear (USDT-margined) accounting: wallet balance changes by realized PnL minus commission;
the margin check compares an order's initial margin (notional / leverage) with the available
balance, which is what testnet users meet first when they over-size orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hftctl.sim.orders import Order


@dataclass(slots=True)
class Position:
    symbol: str
    lots: int = 0              # signed: + long, - short
    entry_price: float = 0.0
    realized_pnl: float = 0.0
    update_ms: int = 0


@dataclass(eq=False)
class Account:
    name: str
    api_key: str
    secret: str
    balances: dict[str, float]
    maker_fee: float = 0.0002
    taker_fee: float = 0.0005
    leverage: int = 20
    # Bybit: disconnection protection (DCP) is for institutional clients only (order/dcp.mdx);
    # on by default so tests and demos get it, `institutional = false` in the sim config says no
    institutional: bool = True
    positions: dict[str, Position] = field(default_factory=dict)
    orders: dict[int, "Order"] = field(default_factory=dict)      # open orders by id
    locked: dict[str, float] = field(default_factory=dict)        # spot: held by open orders

    def position(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position(symbol)
        return pos


def apply_fill(pos: Position, signed_lots: int, price: float, lot: float) -> float:
    """Update a one-way position with a fill; returns the realized PnL (quote currency)."""
    realized = 0.0
    old = pos.lots
    new = old + signed_lots
    if old == 0 or (old > 0) == (signed_lots > 0):
        # opening or adding: volume-weighted entry
        total = abs(old) + abs(signed_lots)
        pos.entry_price = (pos.entry_price * abs(old) + price * abs(signed_lots)) / total
    else:
        closed = min(abs(old), abs(signed_lots))
        direction = 1 if old > 0 else -1
        realized = (price - pos.entry_price) * closed * lot * direction
        if new == 0:
            pos.entry_price = 0.0
        elif (new > 0) != (old > 0):
            pos.entry_price = price       # flipped: the remainder opens at the fill price
    pos.lots = new
    pos.realized_pnl += realized
    return realized
