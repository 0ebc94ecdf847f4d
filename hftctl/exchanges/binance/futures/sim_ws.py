"""The sim's Binance USD-M futures websockets: depth@0ms/100ms/250ms/500ms with pu, partial
books in the diff format, user data (ORDER_TRADE_UPDATE, ACCOUNT_UPDATE)."""

from __future__ import annotations

from hftctl.exchanges.binance.common.sim_ws import BinanceStreamsBase, _DepthAggregator
from hftctl.exchanges.binance.futures import schemas as w
from hftctl.exchanges.binance.futures import sim_messages as wire
from hftctl.sim.events import AccountEvent, DepthUpdate, OrderEvent


class BinanceFuturesStreams(BinanceStreamsBase):
    SPEEDS_MS = (0, 100, 250, 500)
    DEFAULT_MS = 250
    WIRE = wire

    def __init__(self, *args, snapshot_marks: set[str]) -> None:
        super().__init__(*args)
        self.snapshot_marks = snapshot_marks

    def first_id(self, ev: DepthUpdate) -> int:
        """USD-M's first-event rule is U <= lastUpdateId <= u. The sim's snapshot id is the last
        diff's u, so after a REST snapshot the next diff's range is widened to start there (U =
        pu): even a client that subscribed after the snapshot then meets the rule."""
        if ev.symbol in self.snapshot_marks:
            self.snapshot_marks.discard(ev.symbol)
            return ev.prev_id
        return ev.first_id

    def encode_depth(self, ev: DepthUpdate, first_id: int) -> w.DepthUpdate:
        return wire.depth_update(ev, first_id)

    def encode_merged_depth(self, agg: _DepthAggregator, t: int, pu: int, bids: list, asks: list) -> w.DepthUpdate:
        return w.DepthUpdate(E=t, T=t, s=agg.symbol, U=agg.first, u=agg.last, pu=pu, b=bids, a=asks)

    encode_partial_depth = encode_merged_depth

    def encode_order(self, ev: OrderEvent) -> w.OrderTradeUpdate:
        return wire.order_trade_update(ev, self.engine.specs[ev.order.symbol])

    def encode_account(self, ev: AccountEvent) -> w.AccountUpdate:
        return wire.account_update(self.engine, ev)
