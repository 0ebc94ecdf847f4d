"""Bybit v5 (linear): where its APIs live, which topics make a recording, and its REST paths.

Every entry names the official document it was checked against (docs/protocols.md lists them).
Demo trading has no public stream of its own: its market data is mainnet's (docs/v5/demo.mdx).
"""

from __future__ import annotations

from hftctl.exchanges.venues import DEMO, MAINNET, TESTNET, Venue, VenueTable

_DOCS = "github.com/bybit-exchange/docs"
CHECKED = "2026-12-01"

VENUES = VenueTable(
    venues={
        MAINNET: Venue(MAINNET, rest="https://api.bybit.com",
                       ws={"public": "wss://stream.bybit.com/v5/public/linear",
                           "private": "wss://stream.bybit.com/v5/private",
                           "trade": "wss://stream.bybit.com/v5/trade"},
                       real_money=True, source=f"{_DOCS} docs/v5/guide.mdx § Authentication; "
                       "docs/v5/websocket/wss-authentication.mdx", checked=CHECKED,
                       other_hosts=("api.bytick.com", "api.bybit.nl", "api.bybit.tr", "api.bybit.kz",
                                    "api.bybitgeorgia.ge", "api.bybit.ae", "api.bybit.eu", "api.bybit.id",
                                    "api.manepa.jp", "stream.bybit.tr", "stream.bybit.id", "stream.bybit.kz",
                                    "stream.bybitgeorgia.ge", "stream.manepa.jp", "stream.bybit.eu")),
        TESTNET: Venue(TESTNET, rest="https://api-testnet.bybit.com",
                       ws={"public": "wss://stream-testnet.bybit.com/v5/public/linear",
                           "private": "wss://stream-testnet.bybit.com/v5/private",
                           "trade": "wss://stream-testnet.bybit.com/v5/trade"},
                       real_money=False, source=f"{_DOCS} docs/v5/guide.mdx § Authentication",
                       checked=CHECKED),
        DEMO: Venue(DEMO, rest="https://api-demo.bybit.com",
                    ws={"public": "wss://stream.bybit.com/v5/public/linear",
                        "private": "wss://stream-demo.bybit.com/v5/private"},
                    real_money=False, source=f"{_DOCS} docs/v5/demo.mdx § Domain", checked=CHECKED),
    },
    default=TESTNET,
    extra_test_hosts=("api-testnet.manepa.jp",),
)

CATEGORY = "linear"
# hftbacktest's collector records orderbook.1, .50 and .500 plus publicTrade.
BOOK_DEPTHS = (1, 50, 500)
BOOK_MS = {1: 10, 50: 20, 200: 100, 500: 100}     # push interval per depth (orderbook.mdx § Depths)

PATHS = {
    "time": "/v5/market/time",
    "instruments": "/v5/market/instruments-info",
    "orderbook": "/v5/market/orderbook",
    "create": "/v5/order/create",
    "amend": "/v5/order/amend",
    "cancel": "/v5/order/cancel",
    "cancel_all": "/v5/order/cancel-all",
    "realtime": "/v5/order/realtime",
    "positions": "/v5/position/list",
    "wallet": "/v5/account/wallet-balance",
}
SNAPSHOT_LIMIT = 500
