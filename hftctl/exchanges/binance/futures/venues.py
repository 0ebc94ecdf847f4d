"""Binance USD-M futures: where its APIs live, which stream goes where, and its REST paths.

Every entry names the official document it was checked against (docs/protocols.md lists them).
"""

from __future__ import annotations

from hftctl.exchanges.venues import MAINNET, TESTNET, Venue, VenueTable

_GENERAL = "developers.binance.com/docs/derivatives/usds-margined-futures/general-info"
CHECKED = "2026-12-01"

VENUES = VenueTable(
    venues={
        MAINNET: Venue(MAINNET, rest="https://fapi.binance.com",
                       ws={"public": "wss://fstream.binance.com", "private": "wss://fstream.binance.com",
                           "api": "wss://ws-fapi.binance.com/ws-fapi/v1"},
                       real_money=True, source=_GENERAL, checked=CHECKED),
        TESTNET: Venue(TESTNET, rest="https://demo-fapi.binance.com",
                       ws={"public": "wss://fstream.binancefuture.com",
                           "private": "wss://fstream.binancefuture.com",
                           "api": "wss://testnet.binancefuture.com/ws-fapi/v1"},
                       real_money=False, source=f"{_GENERAL} § Testnet API Information", checked=CHECKED),
    },
    default=TESTNET,
    # Older testnet names the docs and the official SDKs still use.
    extra_test_hosts=("testnet.binancefuture.com", "stream.binancefuture.com"),
)

# What hftbacktest's collector records per symbol (depth@0ms, trade, bookTicker), so recordings
# convert the same; the connector subscribes to the same streams.
STREAMS = ("depth@0ms", "trade", "bookTicker")

PATHS = {
    "time": "/fapi/v1/time",
    "exchange_info": "/fapi/v1/exchangeInfo",
    "depth": "/fapi/v1/depth",
    "order": "/fapi/v1/order",
    "open_orders": "/fapi/v1/openOrders",
    "cancel_all": "/fapi/v1/allOpenOrders",
    "listen_key": "/fapi/v1/listenKey",
    "position_risk": "/fapi/v2/positionRisk",
    "balance": "/fapi/v2/balance",
}
SNAPSHOT_LIMIT = 1000      # levels of a REST depth snapshot (the most USD-M gives)
# GET /fapi/v1/depth "limit": "Default 500; Valid limits:[5, 10, 20, 50, 100, 500, 1000]"
# (usds-margined-futures/market-data/rest-api/Order-Book, checked 2026-12-01)
SNAPSHOT_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
