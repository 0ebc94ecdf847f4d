"""Binance USD-M futures: where its APIs live, which stream goes where, and its REST paths.

Every entry names the official document it was checked against (docs/protocols.md lists them).
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

from hftctl.errors import HftctlError
from hftctl.exchanges.venues import DEMO, MAINNET, TESTNET, Venue, VenueTable

_DOCS = "developers.binance.com/docs/derivatives"
_GENERAL = f"{_DOCS}/usds-margined-futures/general-info"
_NOTICE = f"{_DOCS}/usds-margined-futures/websocket-market-streams/Important-WebSocket-Change-Notice"
_OPTIONS_TESTNET = f"{_DOCS}/options-trading/general-info § Testnet API Information"
CHECKED = "2026-12-01"

# Since the Change Notice of 2026-03-06 (legacy unrouted URLs retired on mainnet 2026-04-23) the
# streams hang off a root with three routes, each serving /ws/<streams> and /stream?streams=:
# "public" (high-frequency: depth, bookTicker), "market" (everything else public), "private"
# (user data by listenKey).
ROUTES = ("public", "market", "private")


def _routed(root: str) -> dict[str, str]:
    return {route: f"{root}/{route}" for route in ROUTES}


def ws_root(venue: Venue) -> str:
    """Where the routes hang off: what a connector config's ``stream_url`` names."""
    return venue.ws["public"].rsplit("/", 1)[0]


def config_urls(venue: Venue) -> dict[str, str]:
    """A venue as connector config keys (``client.load_config`` reads them)."""
    return {"stream_url": ws_root(venue), "api_url": venue.rest, "ws_api_url": venue.ws["api"]}


# The USD-M pages name the testnet's stream root but not its routes; the Options testnet page
# names the routed paths on the same host.
_TESTNET = Venue(TESTNET, rest="https://demo-fapi.binance.com",
                 ws={**_routed("wss://fstream.binancefuture.com"),
                     "api": "wss://testnet.binancefuture.com/ws-fapi/v1"},
                 real_money=False, source=f"{_GENERAL} § Testnet API Information; {_OPTIONS_TESTNET}",
                 checked=CHECKED)

VENUES = VenueTable(
    venues={
        MAINNET: Venue(MAINNET, rest="https://fapi.binance.com",
                       ws={**_routed("wss://fstream.binance.com"), "api": "wss://ws-fapi.binance.com/ws-fapi/v1"},
                       real_money=True, source=f"{_GENERAL}; {_NOTICE} § What's New", checked=CHECKED),
        TESTNET: _TESTNET,
        # USD-M has no separate demo hosts: General Info names demo-fapi.binance.com as the
        # testnet's REST host; the official SDK's USD-M "DEMO" constant is that same REST host and
        # it names no demo websockets (binance-connector-python constants.py, 2026-08-21).
        DEMO: replace(_TESTNET, name=DEMO, note="USD-M demo trading is its testnet (REST demo-fapi.binance.com, "
                      "streams fstream.binancefuture.com): the same hosts as --venue testnet"),
    },
    default=TESTNET,
    # Older testnet names the docs and the official SDKs still use.
    extra_test_hosts=("testnet.binancefuture.com", "stream.binancefuture.com"),
    config_urls=config_urls,
)

# Stream kind -> route ("Endpoint & Stream Mapping (Excerpt)" of the Change Notice; rpiDepth from
# its own page). The raw trade stream is in no current USD-M page; it is public: observed on
# /public and on the unrouted (public-only) path and not on /market (BYTEX-TRADE/bytex#7,
# 2026-09-18), and ccxt 4.5.x routes it to /public after first putting it on /market.
STREAM_ROUTES = {
    "depth": "public", "bookTicker": "public", "rpiDepth": "public", "trade": "public",
    "aggTrade": "market", "markPrice": "market", "kline": "market",
    "continuousKline": "market", "miniTicker": "market", "ticker": "market", "forceOrder": "market",
    "compositeIndex": "market", "contractInfo": "market", "assetIndex": "market",
}


def stream_route(name: str) -> str | None:
    """The route a stream name is served on: ``btcusdt@depth@0ms`` -> public, ``!markPrice@arr``
    -> market, a bare name (a listenKey) -> private; None for a kind the docs do not list."""
    if "@" not in name and not name.startswith("!"):
        return "private"
    kind = name[1:] if name.startswith("!") else name.partition("@")[2]
    kind = kind.partition("@")[0].partition("_")[0].rstrip("0123456789")
    return STREAM_ROUTES.get(kind)


def route_urls(stream_url: str) -> dict[str, str]:
    """Every route's base URL from what a config names: the root (``wss://fstream.binance.com``),
    one route (``.../public``, ``.../market/ws``...), or the unrouted ``.../ws`` / ``.../stream``
    of older guides; the root is what is left once those suffixes are taken off."""
    parts = urlsplit(stream_url)
    if parts.query or parts.fragment:
        raise HftctlError(f"stream_url = {stream_url}: name the websocket root (or one route, or "
                          ".../ws), without a query; streams and listenKeys are added by hftctl")
    path = parts.path.rstrip("/")
    for suffixes in (("/ws", "/stream"), tuple(f"/{r}" for r in ROUTES)):
        for suffix in suffixes:
            if path.endswith(suffix):
                path = path[: -len(suffix)]
                break
    root = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    return _routed(root)


# What hftbacktest's collector records per symbol (depth@0ms, trade, bookTicker), so recordings
# convert the same; the connector subscribes to the same streams.
STREAMS = ("depth@0ms", "trade", "bookTicker")
# What ``hftctl collect --streams`` may add: mark price, index and funding every second
# ("Mark Price Stream", 1000 ms with @1s), liquidation snapshots ("Liquidation Order Streams":
# the latest liquidation per symbol within each 1000 ms) and aggregate trades. All three are on
# the /market route.
OPTIONAL_STREAMS = {"markPrice": "markPrice@1s", "forceOrder": "forceOrder", "aggTrade": "aggTrade"}

PATHS = {
    "time": "/fapi/v1/time",
    "exchange_info": "/fapi/v1/exchangeInfo",
    "depth": "/fapi/v1/depth",
    "order": "/fapi/v1/order",
    "open_orders": "/fapi/v1/openOrders",
    "cancel_all": "/fapi/v1/allOpenOrders",
    "countdown_cancel_all": "/fapi/v1/countdownCancelAll",   # trade/rest-api/Auto-Cancel-All-Open-Orders
    "listen_key": "/fapi/v1/listenKey",
    "position_risk": "/fapi/v2/positionRisk",
    "balance": "/fapi/v2/balance",
    "leverage_bracket": "/fapi/v1/leverageBracket",
}
SNAPSHOT_LIMIT = 1000      # levels of a REST depth snapshot (the most USD-M gives)
# GET /fapi/v1/depth "limit": "Default 500; Valid limits:[5, 10, 20, 50, 100, 500, 1000]"
# (usds-margined-futures/market-data/rest-api/Order-Book, checked 2026-12-01)
SNAPSHOT_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
