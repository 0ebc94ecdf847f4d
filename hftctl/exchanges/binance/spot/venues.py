"""Binance spot: where its APIs live, which streams make a recording, and its REST paths.

Every entry names the official document it was checked against (docs/protocols.md lists them).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from hftctl.exchanges.venues import DEMO, MAINNET, TESTNET, Venue, VenueTable

_DOCS = "github.com/binance/binance-spot-api-docs"
CHECKED = "2026-12-01"

def config_urls(venue: Venue) -> dict[str, str]:
    """A venue as connector config keys (``config.load_config`` reads them)."""
    return {"stream_url": venue.ws["public"], "api_url": venue.rest, "ws_api_url": venue.ws["api"]}


VENUES = VenueTable(
    venues={
        MAINNET: Venue(MAINNET, rest="https://api.binance.com",
                       ws={"public": "wss://stream.binance.com:9443",
                           "private": "wss://stream.binance.com:9443",
                           "api": "wss://ws-api.binance.com:443/ws-api/v3"},
                       real_money=True, source=f"{_DOCS} rest-api.md, web-socket-streams.md § General",
                       checked=CHECKED,
                       other_hosts=("api-gcp.binance.com", "api1.binance.com", "api2.binance.com",
                                    "api3.binance.com", "api4.binance.com", "data-api.binance.vision",
                                    "data-stream.binance.vision")),
        TESTNET: Venue(TESTNET, rest="https://testnet.binance.vision",
                       ws={"public": "wss://stream.testnet.binance.vision",
                           "private": "wss://stream.testnet.binance.vision",
                           "api": "wss://ws-api.testnet.binance.vision/ws-api/v3"},
                       real_money=False, source=f"{_DOCS} testnet/general-info.md", checked=CHECKED),
        DEMO: Venue(DEMO, rest="https://demo-api.binance.com",
                    ws={"public": "wss://demo-stream.binance.com",
                        "private": "wss://demo-stream.binance.com",
                        "api": "wss://demo-ws-api.binance.com/ws-api/v3"},
                    real_money=False, source=f"{_DOCS} demo-mode/general-info.md", checked=CHECKED),
    },
    default=TESTNET,
    extra_test_hosts=("api1.testnet.binance.vision",),
    config_urls=config_urls,
)

STREAMS = ("depth@100ms", "trade", "bookTicker")

PATHS = {
    "time": "/api/v3/time",
    "exchange_info": "/api/v3/exchangeInfo",
    "depth": "/api/v3/depth",
    "order": "/api/v3/order",
    "cancel_replace": "/api/v3/order/cancelReplace",
    "amend": "/api/v3/order/amend/keepPriority",
    "open_orders": "/api/v3/openOrders",
    "cancel_all": "/api/v3/openOrders",
    "account": "/api/v3/account",
}
# Retired 2026-02-20 07:00 UTC (testnet 2026-02-04): the listenKey endpoints (CHANGELOG.md
# § 2026-01-21). Nothing in hftctl calls them; the sim answers them as gone (docs/protocols.md).
RETIRED_PATHS = ("/api/v3/userDataStream",)
# The WebSocket API (orders, user data): the same path on every venue (web-socket-api.md § General).
WS_API_PATH = urlsplit(VENUES.venues[TESTNET].ws["api"]).path
SNAPSHOT_LIMIT = 1000
# GET /api/v3/depth "limit": "Default: 100; Maximum: 5000" (rest-api.md § Order book, checked 2026-12-01)
SNAPSHOT_LIMITS = range(1, 5001)
