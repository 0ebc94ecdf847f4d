"""The sim's Binance COIN-M market streams: USD-M's streams and speeds without routes (dstream
serves ``/ws/<streams>`` and ``/stream?streams=`` at its root), payloads with the pair ``ps``,
200 streams per connection, no user data (no COIN-M connector)."""

from __future__ import annotations

from hftctl.exchanges.binance.coinm import schemas as w
from hftctl.exchanges.binance.coinm import sim_messages as wire
from hftctl.exchanges.binance.coinm.sim_instruments import pair
from hftctl.exchanges.binance.coinm.venues import MAX_STREAMS
from hftctl.exchanges.binance.common.sim_ws import BinanceStreamsBase, _DepthAggregator
from hftctl.exchanges.binance.futures.sim_ws import BinanceFuturesStreams
from hftctl.sim.events import DepthUpdate


class BinanceCoinmStreams(BinanceFuturesStreams):
    WIRE = wire
    MAX_STREAMS = MAX_STREAMS

    # dstream has no routes: Binance's unrouted behaviour (the base's), not USD-M's
    path_routes = BinanceStreamsBase.path_routes
    serves = BinanceStreamsBase.serves
    needs_listen_key = BinanceStreamsBase.needs_listen_key

    def encode_depth(self, ev: DepthUpdate, first_id: int) -> w.DepthUpdate:
        return wire.depth_update(ev, first_id)

    def encode_merged_depth(self, agg: _DepthAggregator, t: int, pu: int, bids: list, asks: list) -> w.DepthUpdate:
        return w.DepthUpdate(E=t, T=t, s=agg.symbol, ps=pair(agg.symbol), U=agg.first, u=agg.last, pu=pu,
                             b=bids, a=asks)

    encode_partial_depth = encode_merged_depth

    def on_user(self, ev) -> None:
        """No user data: the COIN-M sim has no accounts that trade."""
