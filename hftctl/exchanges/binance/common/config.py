"""Binance connector settings, USD-M futures and spot alike (hftbacktest's keys plus optional knobs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hftctl.configfile import ENV_API_KEY, ENV_SECRET, ConfigReader
from hftctl.secrets import Secret


@dataclass(frozen=True)
class BinanceConfig:
    stream_url: str                     # e.g. wss://fstream.binancefuture.com/ws
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

    @property
    def ws_root(self) -> str:
        """Base websocket URL without the trailing ``/ws``; streams hang off it."""
        url = self.stream_url
        return url[:-3] if url.endswith("/ws") else url

    def urls(self) -> dict[str, str]:
        return {"stream_url": self.stream_url, "api_url": self.api_url}


# What Binance accepts (general-info, both markets): recvWindow "cannot go beyond 60,000"; a
# listenKey lapses 60 minutes after its last keepalive. The other bounds are sanity limits.
MAX_RECV_WINDOW_MS = 60_000
LISTEN_KEY_TTL_S = 3600


def load_config(r: ConfigReader, *, weight_limit_1m: int, order_limit_10s: int,
                order_limit_1m: int, snapshot_limits: Sequence[int]) -> BinanceConfig:
    """Binance's keys; each market passes its own request budgets and depth snapshot sizes
    (their ``client.load_config``)."""
    d = BinanceConfig
    reconnect_min_s = r.number("reconnect_min_s", d.reconnect_min_s, 0.01, 60.0)
    return BinanceConfig(
        stream_url=r.url("stream_url", ("ws", "wss")),
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
    )
