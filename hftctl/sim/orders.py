"""A user's order as the engine tracks it (exchange-neutral; adapters map names to wire enums)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hftctl.sim.accounts import Account

FINAL = {"FILLED", "CANCELED", "EXPIRED", "REJECTED"}


@dataclass(slots=True, eq=False)
class Order:
    order_id: int
    client_id: str
    account: "Account"
    symbol: str
    side: int                # +1 buy, -1 sell
    type: str                # LIMIT | MARKET
    tif: str                 # GTC | IOC | FOK | GTX
    price_ticks: int         # 0 for market orders
    qty_lots: int
    reduce_only: bool
    create_ms: int
    update_ms: int
    filled_lots: int = 0
    cum_quote: float = 0.0   # sum(price * qty) of fills
    status: str = "NEW"
    last_trade_ms: int = 0
    reason: str = ""            # why it ended early, e.g. "post_only" (Bybit cancels instead of rejecting)
    # (ticks, lots, commission, commission asset, trade id, is_maker, time ms, realized pnl)
    fills: list | None = None

    @property
    def remaining(self) -> int:
        return self.qty_lots - self.filled_lots

    @property
    def is_open(self) -> bool:
        return self.status not in FINAL
