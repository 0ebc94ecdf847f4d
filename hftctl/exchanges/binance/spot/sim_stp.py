"""Spot's self-trade prevention in the sim: modes and defaults, and the prevented matches the
engine's expiries stand for.

The engine decides (``place(..., stp=)``, the taker's mode; an expired order gets reason
"stp"); Binance spot names the modes, makes ``defaultSelfTradePreventionMode`` the default of an
order that gives none and reports each prevented match (faqs/stp_faq.md, user-data-stream.md
§ Conditional Fields in Execution Report, checked 2026-12-01): a per-symbol ``preventedMatchId``,
the counter order, the quantity expired, the price the match would have had. The engine's events
carry only the expired order, so this rebuilds the match from their order: a placement's "new"
event names the taker; a resting order of the same account then expiring was its maker
(EXPIRE_MAKER / EXPIRE_BOTH); the taker expiring was stopped by the first of its own resting
orders it reached (EXPIRE_TAKER), or by the maker that just expired with it (EXPIRE_BOTH, one
match for both).
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from dataclasses import dataclass

from hftctl.sim.engine import SimEngine
from hftctl.sim.events import OrderEvent
from hftctl.sim.orders import Order

# The modes the sim's engine has (DECREMENT and TRANSFER, also allowed on the exchange, are not
# modelled: the sim's symbols do not list them, so an order asking for them gets -1013).
MODES = {"NONE": "none", "EXPIRE_TAKER": "expire_taker", "EXPIRE_MAKER": "expire_maker",
         "EXPIRE_BOTH": "expire_both"}
MODE_OUT = {v: k for k, v in MODES.items()}
DEFAULT_MODE = "EXPIRE_MAKER"
NOT_ALLOWED = (400, -1013, "This symbol does not allow the specified self-trade prevention mode.")
_KEEP = 50_000      # matches remembered (as many orders as the engine keeps done)


@dataclass(slots=True)
class Prevented:
    match_id: int                  # preventedMatchId, counted per symbol from 0
    taker: Order
    maker: Order | None            # None: the taker expired with no own order found (never seen)
    ticks: int                     # the price the match would have had: the resting order's
    taker_lots: int = 0            # quantity the taker lost (EXPIRE_TAKER / EXPIRE_BOTH)
    maker_lots: int = 0            # quantity the maker lost (EXPIRE_MAKER / EXPIRE_BOTH)
    taker_left: int = 0            # each side's remaining quantity when the match was prevented
    maker_left: int = 0

    def lots_of(self, order: Order) -> int:
        return self.taker_lots if order is self.taker else self.maker_lots

    def counter(self, order: Order) -> Order | None:
        return self.maker if order is self.taker else self.taker


class SpotStp:
    def __init__(self, engine: SimEngine) -> None:
        self.engine = engine
        self.expired: OrderedDict[int, Prevented] = OrderedDict()     # order id -> match that expired it
        self.as_taker: OrderedDict[int, list[Prevented]] = OrderedDict()
        self._ids: dict[str, int] = defaultdict(int)
        self._taker: Order | None = None
        self._last: Prevented | None = None
        engine.user_listeners.append(self.on_user)

    def on_user(self, ev) -> None:
        if type(ev) is not OrderEvent:
            return
        o = ev.order
        if ev.exec_type == "new":
            self._taker, self._last = o, None
            return
        if ev.exec_type != "expired" or o.reason != "stp" or self._taker is None:
            return
        taker = self._taker
        if o is not taker:
            m = self._match(taker, o)
            m.maker_lots = o.remaining
        elif self._last is not None and self._last.taker is taker and taker.stp == "expire_both":
            m = self._last
            m.taker_lots = o.remaining
        else:
            m = self._match(taker, self._first_own_maker(taker))
            m.taker_lots = o.remaining
        self.expired[o.order_id] = m
        if len(self.expired) > _KEEP:
            self.expired.popitem(last=False)

    def _match(self, taker: Order, maker: Order | None) -> Prevented:
        sym = taker.symbol
        m = Prevented(self._ids[sym], taker, maker, maker.price_ticks if maker else taker.price_ticks,
                      taker_left=taker.remaining, maker_left=maker.remaining if maker else 0)
        self._ids[sym] += 1
        self._last = m
        self.as_taker.setdefault(taker.order_id, []).append(m)
        if len(self.as_taker) > _KEEP:
            self.as_taker.popitem(last=False)
        return m

    def _first_own_maker(self, taker: Order) -> Order | None:
        """The resting order of the taker's account it reached first: best price, then oldest."""
        own = [o for o in self.engine.resting[taker.symbol].values()
               if o.account is taker.account and o.side != taker.side
               and (taker.type != "limit" or (o.price_ticks <= taker.price_ticks if taker.side > 0
                                              else o.price_ticks >= taker.price_ticks))]
        return min(own, key=lambda o: (o.price_ticks * taker.side, o.order_id), default=None)
