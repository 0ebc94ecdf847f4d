"""The sim's Binance spot market streams: depth (1000 ms) / depth@100ms diffs with U/u only,
partial books as {lastUpdateId, bids, asks}, trade, aggTrade, bookTicker, under spot's
connection rules. User data is not here: it moved to the WebSocket API (``sim_ws_api.py``)."""

from __future__ import annotations

from hftctl.exchanges.binance.common.sim_ws import BinanceStreamsBase, _DepthAggregator
from hftctl.exchanges.binance.spot import schemas as w
from hftctl.exchanges.binance.spot import sim_messages as wire
from hftctl.sim.events import DepthUpdate
from hftctl.sim.wshub import WsLimits


class BinanceSpotStreams(BinanceStreamsBase):
    SPEEDS_MS = (100, 1000)
    WIRE = wire
    DEFAULT_MS = 1000
    # web-socket-streams.md § WebSocket Limits and § General WSS information (checked 2026-12-01):
    # 5 incoming messages per second (pings, pongs and JSON control messages count; beyond:
    # disconnected), 300 connection attempts per 5 minutes per IP, 24 h per connection.
    LIMITS = WsLimits(max_incoming_per_s=5, max_lifetime_s=24 * 3600, max_connects=300, connect_window_s=300)
    PING_INTERVAL_S = 20.0     # "The WebSocket server will send a ping frame every 20 seconds."

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ping_interval_s = min(self.ping_interval_s, self.PING_INTERVAL_S)

    def encode_depth(self, ev: DepthUpdate, first_id: int) -> w.DepthUpdate:     # no unmerged stream on spot
        return wire.depth_update(ev, first_id)

    def encode_merged_depth(self, agg: _DepthAggregator, t: int, pu: int, bids: list, asks: list) -> w.DepthUpdate:
        # spot clients check U == previous u + 1: a skipped number shows as U jumping by one more
        first = agg.first + 1 if agg.gap else agg.first
        return w.DepthUpdate(E=t, s=agg.symbol, U=first, u=max(agg.last, first), b=bids, a=asks)

    def encode_partial_depth(self, agg: _DepthAggregator, t: int, pu: int, bids: list, asks: list) -> w.PartialDepth:
        return w.PartialDepth(lastUpdateId=agg.last, bids=bids, asks=asks)

    def on_user(self, ev) -> None:
        """No user data on the market streams since the listenKey retirement (2026-02-20)."""
