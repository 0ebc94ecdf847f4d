"""A user's order as the engine tracks it, in the IPC schema's vocabulary.

Statuses, types and times in force are the words bots see (``hftctl.ipc.schema``): ``new``,
``partially_filled``, ``filled``, ``canceled``, ``expired``, ``rejected``; ``limit``/``market``;
``gtc``/``gtx``/``ioc``/``fok``. Each protocol adapter maps them to its exchange's enums.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hftctl.ipc.schema import FINAL_STATUSES

if TYPE_CHECKING:
    from hftctl.sim.accounts import Account

# Self-trade prevention, decided by the *taker's* mode when it would match a resting order of the
# same account (the modes Binance and Bybit share; each adapter maps its exchange's names and
# default): "none" lets the account trade with itself, "expire_taker" / "expire_maker" /
# "expire_both" expire the taker's remainder, the resting order, or both, and matching goes on
# only while the taker lives.
STP_MODES = ("none", "expire_taker", "expire_maker", "expire_both")


@dataclass(slots=True, frozen=True)
class Fill:
    """One execution of an order (the history endpoints list them)."""

    ticks: int
    lots: int
    fee: float
    fee_asset: str
    trade_id: int
    is_maker: bool
    time_ms: int
    realized_pnl: float


@dataclass(slots=True, eq=False)
class PreventedMatch:
    """A match self-trade prevention stopped. The engine records it on both orders because every
    exchange reports it from the expired order's side: Binance spot's ``preventedMatchId`` and
    prevented quantities, Binance USD-M's expiry, Bybit's ``smpOrderId`` (the other order)."""

    match_id: int               # counted per symbol from 0 (spot's preventedMatchId)
    taker: "Order"
    maker: "Order"
    ticks: int                  # the price the match would have had: the resting order's
    taker_left: int             # each side's remaining quantity when it was prevented
    maker_left: int
    taker_lots: int = 0         # quantity each side lost (0: that side was not expired)
    maker_lots: int = 0

    def lots_of(self, order: "Order") -> int:
        return self.taker_lots if order is self.taker else self.maker_lots

    def counter(self, order: "Order") -> "Order":
        return self.maker if order is self.taker else self.taker


@dataclass(slots=True, eq=False)
class Order:
    order_id: int
    client_id: str
    account: "Account"
    symbol: str
    side: int                # +1 buy, -1 sell
    type: str                # limit | market
    tif: str                 # gtc | ioc | fok | gtx (post-only)
    price_ticks: int         # 0 for market orders
    qty_lots: int
    reduce_only: bool
    create_ms: int
    update_ms: int
    filled_lots: int = 0
    cum_quote: float = 0.0   # sum(price * qty) of fills
    status: str = "new"
    last_trade_ms: int = 0
    reason: str = ""         # why it ended early: "post_only" (Bybit cancels instead of rejecting),
                             # "stp" (self-trade prevention expired it), or whatever a
                             # dead man's switch that cancelled it was armed with
    stp: str = "none"        # self-trade prevention mode, see STP_MODES
    fills: list[Fill] = field(default_factory=list)
    prevented: list[PreventedMatch] = field(default_factory=list)   # matches STP stopped, as taker or maker
    # Time priority at its price: a sequence number taken when the order starts resting and
    # again when an amend loses priority, and the public book's lots ahead of it then (worked
    # down by trades at its price and by the level shrinking: hftbacktest's risk-averse model).
    priority: int = 0
    queue_ahead: int = 0
    stp_match: PreventedMatch | None = None    # the prevented match that expired this order
    amends: int = 0          # amends it has had (spot limits them: MAX_NUM_ORDER_AMENDS)

    @property
    def remaining(self) -> int:
        return self.qty_lots - self.filled_lots

    @property
    def is_open(self) -> bool:
        return self.status not in FINAL_STATUSES

    @property
    def fee_total(self) -> float:
        return sum(f.fee for f in self.fills)
