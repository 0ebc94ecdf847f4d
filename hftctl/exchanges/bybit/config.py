"""Bybit v5 connector settings (hftbacktest's keys plus optional tuning knobs)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hftctl.configfile import ENV_API_KEY, ENV_SECRET, ConfigReader
from hftctl.exchanges.bybit.venues import BOOK_MS
from hftctl.secrets import Secret


@dataclass(frozen=True)
class BybitConfig:
    public_url: str          # wss://stream-testnet.bybit.com/v5/public/linear
    private_url: str         # wss://stream-testnet.bybit.com/v5/private
    trade_url: str           # wss://stream-testnet.bybit.com/v5/trade (orders go over REST here)
    rest_url: str            # https://api-testnet.bybit.com
    category: str
    order_prefix: str
    api_key: Secret = field(repr=False)
    secret: Secret = field(repr=False)
    book_depth: int = 50     # orderbook.{depth}: one of venues.BOOK_MS
    recv_window_ms: int = 5000
    reconnect_min_s: float = 0.2
    reconnect_max_s: float = 30.0
    request_timeout_s: float = 10.0
    ping_interval_s: float = 20.0      # Bybit drops sockets without a ping for ~30 s
    time_resync_s: float = 600.0
    retry_after_cap_s: float = 60.0

    def urls(self) -> dict[str, str]:
        return {"public_url": self.public_url, "private_url": self.private_url,
                "trade_url": self.trade_url, "rest_url": self.rest_url}


def load_config(r: ConfigReader) -> BybitConfig:
    d = BybitConfig
    category = r.str("category", "linear")
    if category != "linear":
        raise r.error("category", "only 'linear' is supported for key")
    depth = r.one_of("book_depth", BOOK_MS, d.book_depth)
    reconnect_min_s = r.number("reconnect_min_s", d.reconnect_min_s, 0.01, 60.0)
    return BybitConfig(
        public_url=r.url("public_url", ("ws", "wss")),
        private_url=r.url("private_url", ("ws", "wss")),
        trade_url=r.url("trade_url", ("ws", "wss")),
        rest_url=r.url("rest_url", ("http", "https")),
        category=category,
        order_prefix=r.order_prefix(),
        api_key=r.secret("api_key", ENV_API_KEY),
        secret=r.secret("secret", ENV_SECRET),
        book_depth=depth,
        recv_window_ms=r.int("recv_window_ms", d.recv_window_ms, 1, 60_000),
        reconnect_min_s=reconnect_min_s,
        reconnect_max_s=r.number("reconnect_max_s", d.reconnect_max_s, reconnect_min_s, 3600.0),
        request_timeout_s=r.number("request_timeout_s", d.request_timeout_s, 0.1, 300.0),
        ping_interval_s=r.number("ping_interval_s", d.ping_interval_s, 0.5, 60.0),
        time_resync_s=r.number("time_resync_s", d.time_resync_s, 1.0, 86400.0),
        retry_after_cap_s=r.number("retry_after_cap_s", d.retry_after_cap_s, 0.0, 3600.0),
    )
