"""Binance connector settings, USD-M futures and spot alike (hftbacktest's keys plus optional knobs).

``ws_api_url`` (the WebSocket API: orders, and spot's user data) may be left out: it is derived
from ``stream_url``, the venue whose stream host that is (testnet's fstream.binancefuture.com ->
wss://testnet.binancefuture.com/ws-fapi/v1, stream.testnet.binance.vision ->
wss://ws-api.testnet.binance.vision/ws-api/v3), or for any other host (the sim, a local proxy)
the same scheme, host and port with the market's WebSocket API path, so configs written for
hftbacktest keep working.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from hftctl.configfile import ENV_API_KEY, ENV_SECRET, ConfigReader
from hftctl.exchanges.venues import VenueTable, host_of, normalize_host
from hftctl.secrets import Secret

ORDER_TRANSPORTS = ("ws", "rest")


@dataclass(frozen=True)
class BinanceConfig:
    stream_url: str                     # USD-M: the root, e.g. wss://fstream.binancefuture.com; spot: .../ws
    api_url: str                        # e.g. https://demo-fapi.binance.com
    order_prefix: str
    api_key: Secret = field(repr=False)
    secret: Secret = field(repr=False)
    recv_window_ms: int = 5000
    listen_key_keepalive_s: float = 1800.0   # Binance: keepalive at least every 60 min
    reconnect_min_s: float = 0.2
    reconnect_max_s: float = 30.0
    snapshot_limit: int = 1000
    request_timeout_s: float = 10.0
    time_resync_s: float = 600.0
    # Request budgets (each market's own defaults); throttling starts at ``throttle_ratio`` of them.
    weight_limit_1m: int = 0
    order_limit_10s: int = 0
    order_limit_1m: int = 0
    throttle_ratio: float = 0.9
    retry_after_cap_s: float = 60.0     # longest Retry-After we honour before trying again
    ws_api_url: str = ""                # the WebSocket API (orders; spot's user data)
    # Where orders, cancels, amends and order queries go: "ws" (the WebSocket API, REST while it
    # is down) or "rest".
    order_transport: str = "ws"

    @property
    def ws_root(self) -> str:
        """Base websocket URL without the trailing ``/ws``; streams hang off it."""
        url = self.stream_url
        return url[:-3] if url.endswith("/ws") else url

    def urls(self) -> dict[str, str]:
        return {"stream_url": self.stream_url, "api_url": self.api_url, "ws_api_url": self.ws_api_url}


def ws_api_url_for(stream_url: str, venues: VenueTable) -> str:
    """The WebSocket API that goes with a market stream URL (see the module docstring)."""
    host = host_of(stream_url)
    for venue in venues.venues.values():
        if any(host_of(url) == host for route, url in venue.ws.items() if route != "api"):
            return venue.url("api")
    default = venues[venues.default].url("api")
    if host in {normalize_host(h) for h in venues.extra_test_hosts}:
        return default
    parts = urlsplit(stream_url)
    return urlunsplit((parts.scheme, parts.netloc, urlsplit(default).path, "", ""))


# What Binance accepts (general-info, both markets): recvWindow "cannot go beyond 60,000"; a
# listenKey lapses 60 minutes after its last keepalive. The other bounds are sanity limits.
MAX_RECV_WINDOW_MS = 60_000
LISTEN_KEY_TTL_S = 3600


def load_config(r: ConfigReader, *, weight_limit_1m: int, order_limit_10s: int,
                order_limit_1m: int, snapshot_limits: Sequence[int], venues: VenueTable) -> BinanceConfig:
    """Binance's keys; each market passes its own request budgets, depth snapshot sizes and venues
    (their ``client.load_config``)."""
    d = BinanceConfig
    stream_url = r.url("stream_url", ("ws", "wss"))
    reconnect_min_s = r.number("reconnect_min_s", d.reconnect_min_s, 0.01, 60.0)
    return BinanceConfig(
        stream_url=stream_url,
        api_url=r.url("api_url", ("http", "https")),
        order_prefix=r.order_prefix(),
        api_key=r.secret("api_key", ENV_API_KEY),
        secret=r.secret("secret", ENV_SECRET),
        recv_window_ms=r.int("recv_window_ms", d.recv_window_ms, 1, MAX_RECV_WINDOW_MS),
        listen_key_keepalive_s=r.number("listen_key_keepalive_s", d.listen_key_keepalive_s, 0.1,
                                        LISTEN_KEY_TTL_S - 60),
        reconnect_min_s=reconnect_min_s,
        reconnect_max_s=r.number("reconnect_max_s", d.reconnect_max_s, reconnect_min_s, 3600.0),
        snapshot_limit=r.one_of("snapshot_limit", snapshot_limits, d.snapshot_limit),
        request_timeout_s=r.number("request_timeout_s", d.request_timeout_s, 0.1, 300.0),
        time_resync_s=r.number("time_resync_s", d.time_resync_s, 1.0, 86400.0),
        weight_limit_1m=r.int("weight_limit_1m", weight_limit_1m, 1, 10_000_000),
        order_limit_10s=r.int("order_limit_10s", order_limit_10s, 1, 10_000_000),
        order_limit_1m=r.int("order_limit_1m", order_limit_1m, 1, 10_000_000),
        throttle_ratio=r.number("throttle_ratio", d.throttle_ratio, 0.1, 1.0),
        retry_after_cap_s=r.number("retry_after_cap_s", d.retry_after_cap_s, 0.0, 3600.0),
        ws_api_url=(r.url("ws_api_url", ("ws", "wss")) if "ws_api_url" in r.data
                    else ws_api_url_for(stream_url, venues)),
        order_transport=r.choice("order_transport", ORDER_TRANSPORTS, d.order_transport),
    )
