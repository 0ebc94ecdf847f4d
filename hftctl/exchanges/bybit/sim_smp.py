"""Bybit's self-match prevention (docs/v5/smp.mdx) on the sim engine's self-trade prevention.

``smpType`` is ``None`` by default, so an account's orders trade with each other; ``CancelMaker``,
``CancelTaker`` and ``CancelBoth`` cancel the resting order, the incoming one or both. Only the
incoming order's type counts ("once an order is placed in the orderbook, its smpType becomes
invalid"), which is the engine's rule: it decides by the taker's mode and expires orders with
reason "stp". Bybit shows those as ``Cancelled`` with ``cancelType=CancelBySmp`` and names the
other order in ``smpOrderId``; the engine does not say which order that was, so it is taken from
the order the engine was matching when it expired them. SMP groups (institutions only) are not
modelled: the sim's accounts are separate UIDs without a group.
"""

from __future__ import annotations

from collections import OrderedDict

from hftctl.sim.engine import SimEngine
from hftctl.sim.events import OrderEvent
from hftctl.sim.orders import Order

SMP_TYPES = {"None": "none", "CancelMaker": "expire_maker", "CancelTaker": "expire_taker", "CancelBoth": "expire_both"}
SMP_NAMES = {mode: name for name, mode in SMP_TYPES.items()}
_KEEP = 50_000


class SmpTracker:
    """Which order triggered each SMP cancel. Registered before the websockets' listener, so the
    order row pushed for a cancel already carries its smpOrderId."""

    def __init__(self, engine: SimEngine) -> None:
        self.engine = engine
        self.counterparty: OrderedDict[int, int] = OrderedDict()
        self._taker: Order | None = None
        self._maker: Order | None = None
        engine.user_listeners.append(self._on_user)

    def place_args(self, smp_type: str) -> dict:
        """The engine's arguments for an order's smpType (validated by the caller)."""
        return {"stp": SMP_TYPES[smp_type]}

    def smp_type(self, order: Order) -> str:
        return SMP_NAMES.get(getattr(order, "stp", "none"), "None")

    def order_id(self, order: Order) -> int | None:
        return self.counterparty.get(order.order_id)

    def _on_user(self, ev) -> None:
        if type(ev) is not OrderEvent:
            return
        o = ev.order
        if ev.exec_type in ("new", "amended"):
            self._taker, self._maker = o, None          # the order the engine now matches
            return
        if ev.exec_type != "expired" or o.reason != "stp" or self._taker is None:
            return
        taker = self._taker
        if o is not taker:                               # CancelMaker / CancelBoth: a resting order
            self._maker = o
            self._remember(o, taker)
        else:                                            # CancelTaker / CancelBoth: the incoming one
            maker = self._maker or self._first_own_maker(taker)
            if maker is not None:
                self._remember(taker, maker)

    def _first_own_maker(self, taker: Order) -> Order | None:
        """The account's resting order the taker met first (best price, then oldest)."""
        mine = [m for m in self.engine.resting[taker.symbol].values()
                if m.account is taker.account and m.side != taker.side
                and (taker.type == "market" or (m.price_ticks <= taker.price_ticks if taker.side > 0
                                                else m.price_ticks >= taker.price_ticks))]
        return min(mine, key=lambda m: (m.price_ticks * taker.side, m.order_id), default=None)

    def _remember(self, order: Order, other: Order) -> None:
        self.counterparty[order.order_id] = other.order_id
        while len(self.counterparty) > _KEEP:
            self.counterparty.popitem(last=False)
