"""The sim's Binance spot websockets: depth (1000 ms) / depth@100ms diffs with U/u only,
partial books as {lastUpdateId, bids, asks}, trade, aggTrade, bookTicker, user data."""

from __future__ import annotations

from hftctl.exchanges.binancefutures.sim_ws import BinanceStreamsBase
from hftctl.exchanges.binancespot import sim_messages as wire
from hftctl.sim.events import AccountEvent, DepthUpdate, ListenKeyExpired, OrderEvent


class BinanceSpotStreams(BinanceStreamsBase):
    SPEEDS_MS = (100, 1000)
    WIRE = wire
    DEFAULT_MS = 1000

    def encode_depth(self, ev: DepthUpdate) -> dict:     # no unmerged stream on spot
        return {"e": "depthUpdate", "E": ev.event_ms, "s": ev.symbol, "U": ev.first_id, "u": ev.last_id,
                "b": ev.bids, "a": ev.asks}

    def encode_merged_depth(self, agg, t: int, pu: int, bids: list, asks: list) -> dict:
        # spot clients check U == previous u + 1: a skipped number shows as U jumping by one more
        first = agg.first + 1 if agg.gap else agg.first
        return {"e": "depthUpdate", "E": t, "s": agg.symbol, "U": first, "u": max(agg.last, first),
                "b": bids, "a": asks}

    def encode_partial_depth(self, agg, t: int, pu: int, bids: list, asks: list) -> dict:
        return {"lastUpdateId": agg.last, "bids": bids, "asks": asks}

    def encode_order(self, ev: OrderEvent) -> dict:
        return wire.execution_report(ev, self.engine.specs[ev.order.symbol])

    def encode_account(self, ev: AccountEvent) -> dict:
        return wire.outbound_account_position(ev)

    def encode_expired(self, ev: ListenKeyExpired) -> dict:
        return {"e": "listenKeyExpired", "E": ev.event_ms, "listenKey": ev.listen_key}
