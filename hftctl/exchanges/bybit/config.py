"""Bybit v5 connector settings (hftbacktest's keys plus optional tuning knobs)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hftctl.configfile import ENV_API_KEY, ENV_SECRET, ConfigReader
from hftctl.exchanges.bybit.venues import BOOK_MS, IDLE_CUT_S, RETIRED_DEPTHS, is_demo, max_active_time_s
from hftctl.secrets import Secret

ORDER_TRANSPORTS = ("ws", "rest")


@dataclass(frozen=True)
class BybitConfig:
    public_url: str          # wss://stream-testnet.bybit.com/v5/public/linear
    private_url: str         # wss://stream-testnet.bybit.com/v5/private
    trade_url: str           # wss://stream-testnet.bybit.com/v5/trade; "" when orders go over REST (demo has none)
    rest_url: str            # https://api-testnet.bybit.com
    category: str
    order_prefix: str
    api_key: Secret = field(repr=False)
    secret: Secret = field(repr=False)
    book_depth: int = 50     # orderbook.{depth}: one of venues.BOOK_MS
    # "ws": create/amend/cancel over the trade websocket (REST while it is down); "rest": REST only
    order_transport: str = "ws"
    recv_window_ms: int = 5000
    reconnect_min_s: float = 0.2
    reconnect_max_s: float = 30.0
    request_timeout_s: float = 10.0
    ping_interval_s: float = 20.0      # Bybit's advice; without pings or data a socket is cut after 10 min
    time_resync_s: float = 600.0
    retry_after_cap_s: float = 60.0

    def urls(self) -> dict[str, str]:
        urls = {"public_url": self.public_url, "private_url": self.private_url, "rest_url": self.rest_url}
        return {**urls, "trade_url": self.trade_url} if self.trade_url else urls


def load_config(r: ConfigReader) -> BybitConfig:
    d = BybitConfig
    category = r.str("category", "linear")
    if category != "linear":
        raise r.error("category", "only 'linear' is supported for key")
    public_url = r.url("public_url", ("ws", "wss"))
    private_url, rest_url = r.url("private_url", ("ws", "wss")), r.url("rest_url", ("http", "https"))
    # demo trading has no trade websocket (docs/v5/demo.mdx § Domain): its venue names none
    transport = _order_transport(r, is_demo(private_url, rest_url) or "trade_url" not in r.data)
    # checked whenever it is given (a typo in it is an error, never an unknown key), used by "ws" only
    trade_url = r.url("trade_url", ("ws", "wss")) if transport == "ws" or "trade_url" in r.data else ""
    if transport != "ws":
        trade_url = ""
    depth = r.int("book_depth", d.book_depth)
    if depth not in BOOK_MS:
        gone = f"orderbook.{depth} was switched off by Bybit on {RETIRED_DEPTHS[depth]}: " \
            if depth in RETIRED_DEPTHS else ""
        raise r.error("book_depth", f"{gone}expected one of {', '.join(map(str, BOOK_MS))} for key")
    reconnect_min_s = r.number("reconnect_min_s", d.reconnect_min_s, 0.01, 60.0)
    ping = r.number("ping_interval_s", d.ping_interval_s, 0.5, 60.0)
    for key, url in (("private_url", private_url), ("trade_url", trade_url)):
        if not url:
            continue
        try:
            alive = max_active_time_s(url)
        except ValueError as e:
            raise r.error(key, f"{e} in") from None
        if ping >= (alive or IDLE_CUT_S):
            raise r.error("ping_interval_s", f"pings must come more often than the {key}'s "
                          f"{alive or IDLE_CUT_S:g} s idle cut: expected a smaller value for key")
    return BybitConfig(
        public_url=public_url,
        private_url=private_url,
        trade_url=trade_url,
        rest_url=rest_url,
        category=category,
        order_prefix=r.order_prefix(),
        api_key=r.secret("api_key", ENV_API_KEY),
        secret=r.secret("secret", ENV_SECRET),
        book_depth=depth,
        order_transport=transport,
        recv_window_ms=r.int("recv_window_ms", d.recv_window_ms, 1, 60_000),
        reconnect_min_s=reconnect_min_s,
        reconnect_max_s=r.number("reconnect_max_s", d.reconnect_max_s, reconnect_min_s, 3600.0),
        request_timeout_s=r.number("request_timeout_s", d.request_timeout_s, 0.1, 300.0),
        ping_interval_s=ping,
        time_resync_s=r.number("time_resync_s", d.time_resync_s, 1.0, 86400.0),
        retry_after_cap_s=r.number("retry_after_cap_s", d.retry_after_cap_s, 0.0, 3600.0),
    )


def _order_transport(r: ConfigReader, no_trade_socket: bool) -> str:
    """``order_transport`` ("ws" by default). Bybit's demo trading has no trade websocket
    (websocket/trade/guideline.mdx § Scope), nor does a config that names no ``trade_url``: those
    get "rest" unless they ask for "ws", which is an error rather than a silent downgrade."""
    if "order_transport" not in r.data:
        return "rest" if no_trade_socket else "ws"
    transport = r.choice("order_transport", ORDER_TRANSPORTS)
    if transport == "ws" and no_trade_socket:
        raise r.error("order_transport", 'there is no trade websocket here (Bybit demo trading has none, or no '
                      'trade_url is given): expected "rest" for key')
    return transport
