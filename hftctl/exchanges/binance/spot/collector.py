"""What ``hftctl collect`` records from Binance spot: Binance's combined streams, split over as
many connections as spot's 1024-streams-per-connection rule needs (a symbol's streams together).
The streams are named in the URL, so no control message is sent (spot allows 5 per second)."""

from __future__ import annotations

from hftctl.collector.protocol import Connection
from hftctl.exchanges.binance.common.collector import BinanceCollector
from hftctl.exchanges.binance.spot.venues import MAX_STREAMS_PER_CONNECTION, PATHS, SNAPSHOT_LIMIT, STREAMS
from hftctl.exchanges.venues import Venue


class SpotCollector(BinanceCollector):
    def connections(self, venue: Venue, symbols: list[str]) -> list[Connection]:
        per = MAX_STREAMS_PER_CONNECTION // len(self.streams)
        out: list[Connection] = []
        for i in range(0, len(symbols), per):
            out += super().connections(venue, symbols[i:i + per])
        return out


PROTOCOL = SpotCollector(STREAMS, PATHS["depth"], SNAPSHOT_LIMIT, has_pu=False)
