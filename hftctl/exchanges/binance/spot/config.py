"""Binance spot connector settings: Binance's keys plus the WebSocket API, which carries spot's
user data since the listenKey retirement (and orders too, if ``order_api = "websocket"``).

``ws_api_url`` may be left out: it is derived from ``stream_url``, the venue whose stream host
that is (testnet's stream.testnet.binance.vision -> wss://ws-api.testnet.binance.vision/ws-api/v3),
or for any other host (the sim, a local proxy) the same scheme, host and port with the WebSocket
API's path, so configs written before the retirement keep working.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from urllib.parse import urlsplit, urlunsplit

from hftctl.configfile import ConfigReader
from hftctl.exchanges.binance.common import config as binance_config
from hftctl.exchanges.binance.common.config import BinanceConfig
from hftctl.exchanges.binance.spot.venues import VENUES, WS_API_PATH
from hftctl.exchanges.venues import host_of

ORDER_APIS = ("rest", "websocket")


@dataclass(frozen=True)
class SpotConfig(BinanceConfig):
    ws_api_url: str = ""                # the WebSocket API (user data; orders if order_api says so)
    order_api: str = "rest"             # "rest" | "websocket": where orders are placed, cancelled, queried

    def urls(self) -> dict[str, str]:
        return {**super().urls(), "ws_api_url": self.ws_api_url}


def ws_api_url_for(stream_url: str) -> str:
    """The WebSocket API that goes with a market stream URL (see the module docstring)."""
    host = host_of(stream_url)
    for venue in VENUES.venues.values():
        if host_of(venue.url("public")) == host:
            return venue.url("api")
    parts = urlsplit(stream_url)
    return urlunsplit((parts.scheme, parts.netloc, WS_API_PATH, "", ""))


def load_config(r: ConfigReader) -> SpotConfig:
    """Spot's request budgets: 6000 weight/min, 100 orders/10 s (spot has no per-minute order
    limit; its daily one is far above what a session sends)."""
    base = binance_config.load_config(r, weight_limit_1m=6000, order_limit_10s=100, order_limit_1m=1_000_000)
    ws_api_url = (r.url("ws_api_url", ("ws", "wss")) if "ws_api_url" in r.data
                  else ws_api_url_for(base.stream_url))
    return SpotConfig(**{f.name: getattr(base, f.name) for f in fields(BinanceConfig)}, ws_api_url=ws_api_url,
                      order_api=r.choice("order_api", ORDER_APIS, SpotConfig.order_api))
