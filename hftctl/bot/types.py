"""Value types of the bot API: own orders, trade prints, account state (and the instrument type
the whole package shares, ``hftctl.instrument.Instrument``).

They mirror hftbacktest's bot API (order ids chosen by the bot, ``cancellable`` while no request
is in flight, ``clear_inactive_orders``) so strategies ported from its examples read the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from hftctl.instrument import Instrument
from hftctl.ipc.schema import BUY, FINAL_STATUSES, SELL

__all__ = ["BUY", "SELL", "GTC", "GTX", "IOC", "FOK", "LIMIT", "MARKET", "Instrument", "Order",
           "TradeTick", "Account", "FINAL_STATUSES"]

GTC, GTX, IOC, FOK = "gtc", "gtx", "ioc", "fok"
LIMIT, MARKET = "limit", "market"


@dataclass(slots=True)
class Order:
    """The bot's local view of one of its orders.

    ``req`` names a request in flight ("new", "cancel", "modify"); while one is, the order is not
    cancellable, the same rule hftbacktest uses to keep strategies from stacking requests.
    """

    order_id: int
    side: int
    px: float
    qty: float
    time_in_force: str = GTX
    order_type: str = LIMIT
    status: str = "new"
    leaves_qty: float = 0.0
    cum_qty: float = 0.0
    exec_qty: float = 0.0
    exec_px: float = 0.0
    req: str | None = "new"
    local_ts: int = 0          # when the bot sent the last request
    exch_ts: int = 0           # when the exchange last acted on it (accepted, filled, ...)
    reason: str | None = None

    @property
    def active(self) -> bool:
        return self.status not in FINAL_STATUSES

    @property
    def cancellable(self) -> bool:
        return self.req is None and self.status in ("new", "partially_filled")


@dataclass(slots=True)
class TradeTick:
    """One market trade print; ``side`` is the aggressor (+1 buy, -1 sell)."""

    local_ts: int
    exch_ts: int
    side: int
    px: float
    qty: float


@dataclass(slots=True)
class Account:
    """Position and cash of one instrument (linear contract, size 1).

    balance is cash from fills (sells add, buys subtract); fees are kept apart so PnL can be
    shown before and after them, as hftbacktest's state values do.
    """

    position: float = 0.0
    balance: float = 0.0
    fee: float = 0.0
    num_trades: int = 0
    trading_volume: float = 0.0
    trading_value: float = 0.0

    def fill(self, side: int, px: float, qty: float, fee_rate: float) -> None:
        value = px * qty
        self.position += side * qty
        self.balance -= side * value
        self.fee += value * fee_rate
        self.num_trades += 1
        self.trading_volume += qty
        self.trading_value += value

    def equity(self, mid: float) -> float:
        """Mark-to-market value net of fees."""
        return self.balance + self.position * mid - self.fee
