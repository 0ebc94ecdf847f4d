"""What ``hftctl collect`` records from Binance USD-M futures."""

from hftctl.exchanges.binance.common.collector import BinanceCollector
from hftctl.exchanges.binance.futures.venues import PATHS, SNAPSHOT_LIMIT, STREAMS

PROTOCOL = BinanceCollector(STREAMS, PATHS["depth"], SNAPSHOT_LIMIT, has_pu=True)
