"""The sim's Binance spot websockets: depth (1000 ms) / depth@100ms diffs with U/u only,
partial books as {lastUpdateId, bids, asks}, trade, aggTrade, bookTicker, user data."""

from __future__ import annotations

from hftctl.exchanges.binance.common.sim_ws import BinanceStreamsBase, _DepthAggregator
from hftctl.exchanges.binance.spot import schemas as w
from hftctl.exchanges.binance.spot import sim_messages as wire
from hftctl.sim.events import AccountEvent, DepthUpdate, OrderEvent


class BinanceSpotStreams(BinanceStreamsBase):
    SPEEDS_MS = (100, 1000)
    WIRE = wire
    DEFAULT_MS = 1000

    def encode_depth(self, ev: DepthUpdate, first_id: int) -> w.DepthUpdate:     # no unmerged stream on spot
        return wire.depth_update(ev, first_id)

    def encode_merged_depth(self, agg: _DepthAggregator, t: int, pu: int, bids: list, asks: list) -> w.DepthUpdate:
        # spot clients check U == previous u + 1: a skipped number shows as U jumping by one more
        first = agg.first + 1 if agg.gap else agg.first
        return w.DepthUpdate(E=t, s=agg.symbol, U=first, u=max(agg.last, first), b=bids, a=asks)

    def encode_partial_depth(self, agg: _DepthAggregator, t: int, pu: int, bids: list, asks: list) -> w.PartialDepth:
        return w.PartialDepth(lastUpdateId=agg.last, bids=bids, asks=asks)

    def encode_order(self, ev: OrderEvent) -> w.ExecutionReport:
        return wire.execution_report(ev, self.engine.specs[ev.order.symbol])

    def encode_account(self, ev: AccountEvent) -> w.OutboundAccountPosition:
        return wire.outbound_account_position(ev)
