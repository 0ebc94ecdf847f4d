"""What ``hftctl collect`` records from Binance COIN-M futures: hftbacktest's streams (depth@0ms,
trade, bookTicker) on one unrouted dstream connection per 200 streams, REST snapshots from
/dapi/v1/depth; depth continuity by ``pu`` as on USD-M ("How to manage a local order book
correctly" is the same page with dstream and dapi)."""

from hftctl.exchanges.binance.coinm.venues import (MAX_STREAMS, MESSAGES_PER_S, OPTIONAL_STREAMS, PATHS,
                                                   SNAPSHOT_LIMIT, STREAMS)
from hftctl.exchanges.binance.common.collector import BinanceCollector

PROTOCOL = BinanceCollector(STREAMS, PATHS["depth"], SNAPSHOT_LIMIT, has_pu=True, messages_per_s=MESSAGES_PER_S,
                            optional=OPTIONAL_STREAMS, max_streams=MAX_STREAMS)
