"""Exchange-neutral events the engine publishes; protocol adapters encode them to wire messages.

Listeners are called synchronously while the engine's state is exactly as the event describes,
so adapters may read the referenced Order/Account without copying.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hftctl.sim.accounts import Account, Position
    from hftctl.sim.orders import Order


@dataclass(slots=True)
class DepthUpdate:
    """A change of the public book, covering sequence numbers first_id..last_id."""

    symbol: str
    first_id: int            # first sequence number this update covers
    last_id: int             # last sequence number this update covers
    prev_id: int             # last_id of the previous update (differs only after an injected gap)
    bids: list               # [[price str, qty str], ...]; qty "0" removes the level
    asks: list
    event_ms: int            # when the exchange published it
    trans_ms: int            # when the matching engine made the change (never after event_ms)


@dataclass(slots=True)
class Trade:
    symbol: str
    trade_id: int
    price: str
    qty: str
    buyer_is_maker: bool
    event_ms: int
    trade_ms: int
    ticks: int = 0
    lots: int = 0


@dataclass(slots=True)
class BookTicker:
    symbol: str
    update_id: int
    bid: str
    bid_qty: str
    ask: str
    ask_qty: str
    event_ms: int
    trans_ms: int


@dataclass(slots=True)
class MarkPrice:
    """A perpetual's mark price, index price and funding (the latest is ``SimEngine.marks``)."""

    symbol: str
    mark: float
    index: float
    funding_rate: float      # per funding interval, e.g. 0.0001 = 0.01 %
    next_funding_ms: int
    event_ms: int


@dataclass(slots=True)
class Liquidation:
    """A forced close of someone's position (public market data, not an engine order)."""

    symbol: str
    long: bool               # the liquidated position was long (its close order sells)
    price: str
    qty: str
    event_ms: int
    trade_ms: int


@dataclass(slots=True)
class OrderEvent:
    """One state change of a user's order (new, trade, canceled, expired, amended)."""

    order: "Order"
    exec_type: str           # new | trade | canceled | expired | amended
    event_ms: int
    last_lots: int = 0
    last_ticks: int = 0
    commission: float = 0.0
    is_maker: bool = False
    trade_id: int = 0
    realized_pnl: float = 0.0
    commission_asset: str = ""


@dataclass(slots=True)
class AccountEvent:
    """Balances and positions after a change; ``reason`` says what changed them ("order", ...)."""

    account: "Account"
    reason: str
    event_ms: int
    assets: list[str] = field(default_factory=list)
    balance_changes: dict[str, float] = field(default_factory=dict)
    positions: list["Position"] = field(default_factory=list)
