"""What ``hftctl collect`` records from Binance spot."""

from hftctl.exchanges.binance.common.collector import BinanceCollector
from hftctl.exchanges.binance.spot.venues import PATHS, SNAPSHOT_LIMIT, STREAMS

PROTOCOL = BinanceCollector(STREAMS, PATHS["depth"], SNAPSHOT_LIMIT, has_pu=False)
