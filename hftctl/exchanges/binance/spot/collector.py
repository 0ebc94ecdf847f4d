"""What ``hftctl collect`` records from Binance spot: Binance's combined streams on one unrouted
connection per 1024 streams (web-socket-streams.md § WebSocket Limits), subscribed at the 5
messages per second spot allows; ``--streams aggTrade`` adds aggregate trades."""

from __future__ import annotations

from hftctl.exchanges.binance.common.collector import BinanceCollector
from hftctl.exchanges.binance.spot.venues import PATHS, SNAPSHOT_LIMIT, STREAMS

PROTOCOL = BinanceCollector(STREAMS, PATHS["depth"], SNAPSHOT_LIMIT, has_pu=False,
                            optional={"aggTrade": "aggTrade"})
