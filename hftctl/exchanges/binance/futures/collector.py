"""What ``hftctl collect`` records from Binance USD-M futures: depth and bookTicker from the
``/public`` route, trades from ``/market``; with ``--streams``, mark price / funding
(``markPrice@1s``), liquidations (``forceOrder``) and ``aggTrade`` from ``/market`` too."""

from hftctl.exchanges.binance.common.collector import BinanceCollector
from hftctl.exchanges.binance.futures.venues import (OPTIONAL_STREAMS, PATHS, SNAPSHOT_LIMIT, STREAMS, route_urls,
                                                     stream_route)

PROTOCOL = BinanceCollector(STREAMS, PATHS["depth"], SNAPSHOT_LIMIT, has_pu=True, route_of=stream_route,
                            route_urls=route_urls, messages_per_s=10, optional=OPTIONAL_STREAMS)
