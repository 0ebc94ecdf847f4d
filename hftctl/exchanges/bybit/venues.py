"""Bybit v5 (linear): where its APIs live, which topics make a recording, and its REST paths.

Every entry names the official document it was checked against (docs/protocols.md lists them).
Demo trading has no public stream of its own: its market data is mainnet's (docs/v5/demo.mdx).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from hftctl.exchanges.venues import DEMO, MAINNET, TESTNET, Venue, VenueTable, host_of

_DOCS = "github.com/bybit-exchange/docs"
CHECKED = "2026-12-01"

def config_urls(venue: Venue) -> dict[str, str]:
    """A venue as connector config keys (``config.load_config`` reads them); demo has no
    ``trade_url`` (no trade websocket there)."""
    keys = {"public": "public_url", "private": "private_url", "trade": "trade_url"}
    return {**{keys[route]: url for route, url in venue.ws.items()}, "rest_url": venue.rest}


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
        # "stream-demo.bybit.com only supports the private streams; public data is identical to
        # that found on mainnet with wss://stream.bybit.com; WS Trade is not supported".
        DEMO: Venue(DEMO, rest="https://api-demo.bybit.com",
                    ws={"public": "wss://stream.bybit.com/v5/public/linear",
                        "private": "wss://stream-demo.bybit.com/v5/private"},
                    real_money=False, source=f"{_DOCS} docs/v5/demo.mdx § Domain", checked=CHECKED,
                    note="Bybit demo has no public stream of its own: public market data comes from "
                         "mainnet (wss://stream.bybit.com), and it has no trade websocket"),
    },
    default=TESTNET,
    extra_test_hosts=("api-testnet.manepa.jp",),
    config_urls=config_urls,
    public_data_keys=("public_url",),
)

CATEGORY = "linear"
# Linear order book depths and their push intervals, ms (docs/v5/websocket/public/orderbook.mdx
# § Depths). Level 1000 arrived on 2025-08-14 (300 ms, 200 ms since 2025-11-25); level 500 was
# switched off on 2025-09-30 (changelog 2025-09-11). Level 1 is snapshot-only since 2025-03-20.
BOOK_MS = {1: 10, 50: 20, 200: 100, 1000: 200}
RETIRED_DEPTHS = {500: "2025-09-30"}
# What a recording holds: hftbacktest's collector topics (level 1, level 50 and the deepest book,
# now 1000) plus publicTrade.
BOOK_DEPTHS = (1, 50, 1000)
# What ``hftctl collect --streams`` may add (name -> topic): tickers (websocket/public/ticker.mdx,
# 100 ms, snapshot then deltas) and all liquidations (all-liquidation.mdx, new 2025-02-20, 500 ms).
# The old ``liquidation.{symbol}`` was deprecated the same day ("pushes 1 liquidation per second,
# it can be discarded") and its page removed 2025-11-19: ``liquidation`` records allLiquidation.
OPTIONAL_TOPICS = {"tickers": "tickers", "allLiquidation": "allLiquidation", "liquidation": "allLiquidation"}
TICKERS_MS = 100
LIQUIDATION_MS = 500
TOP_RESEND_S = 3.0        # level 1: an unchanged book is pushed again after 3 s, with the same u

PATHS = {
    "time": "/v5/market/time",
    "instruments": "/v5/market/instruments-info",
    "orderbook": "/v5/market/orderbook",
    "create": "/v5/order/create",
    "amend": "/v5/order/amend",
    "cancel": "/v5/order/cancel",
    "cancel_all": "/v5/order/cancel-all",
    "realtime": "/v5/order/realtime",
    "history": "/v5/order/history",
    "positions": "/v5/position/list",
    "wallet": "/v5/account/wallet-balance",
    # the sim also answers these for clients that load currencies and account type (ccxt)
    "coin_info": "/v5/asset/coin/query-info",
    "api_key_info": "/v5/user/query-api",
    "account_info": "/v5/account/info",
    "dcp": "/v5/order/disconnected-cancel-all",
    "dcp_info": "/v5/account/query-dcp-info",
}
# The trade websocket's single-order ops (websocket/trade/guideline.mdx) and the REST path whose
# per-UID budget each shares (the answer's header counts "this op type" for the account).
TRADE_OPS = {"order.create": PATHS["create"], "order.amend": PATHS["amend"], "order.cancel": PATHS["cancel"]}
# Per-UID request limits per second (rate-limit/rate-limit.mdx § API Rate Limit Table, linear):
# create, amend and cancel 10/s each; the DCP endpoints 5/s.
DCP_PER_S = 5
# Disconnection protection (order/dcp.mdx, websocket/private/dcp.mdx, account/dcp-info.mdx):
# timeWindow [3, 300] whole seconds (since changelog 2023-07-04), 10 by default; only private
# connections subscribed to a dcp topic count, dcp.future covering derivatives (2024-06-18).
DCP_WINDOW_S = (3, 300)
DCP_DEFAULT_WINDOW_S = 10
DCP_PRODUCTS = ("OPTIONS", "DERIVATIVES", "SPOT")         # OPTIONS is the request's default
DCP_TOPICS = {"dcp.future": "DERIVATIVES", "dcp.spot": "SPOT", "dcp.option": "OPTIONS"}
# What an amend does to the order's place in the queue: amend-order.mdx says nothing (nor does
# any other page, checked 2026-12-01). The sim keeps a place only where an exchange documents it,
# so a Bybit amend always goes to the back (docs/protocols.md, decision).
AMEND_KEEPS_PRIORITY = False
# Order lists (docs/v5/order/open-order.mdx, order-list.mdx): order/realtime keeps an account's
# 500 most recent closed orders; order/history answers 7-day windows and lists orders that closed
# without a fill (fully cancelled, rejected) for 24 hours only.
CLOSED_KEPT = 500
HISTORY_WINDOW_MS = 7 * 24 * 3600 * 1000
UNFILLED_KEPT_MS = 24 * 3600 * 1000
SNAPSHOT_LIMIT = 1000    # GET /v5/market/orderbook: linear limit [1, 1000], default 25 (2026-05-18)

# Websocket life cycle (docs/v5/websocket/wss-authentication.mdx, the "Connect" page): clients
# ping every 20 s; a connection that sees neither ping-pong nor data for 10 minutes is cut;
# private and trade connections may ask for a shorter life with ?max_active_time=30s..600s (or
# 1m, 2m ...; checked by a 30 s ticker, so not exact); at most 500 connections per 5 minutes per
# IP and websocket domain.
PING_S = 20.0
IDLE_CUT_S = 600.0
ACTIVE_TIME_S = (30.0, 600.0)
MAX_CONNECTS, CONNECT_WINDOW_S = 500, 300.0
_ACTIVE_TIME = re.compile(r"(\d+)([sm])")


def max_active_time_s(url: str) -> float | None:
    """The ``max_active_time`` a private or trade URL asks for, in seconds (None: not set)."""
    values = parse_qs(urlsplit(url).query).get("max_active_time")
    if not values:
        return None
    m = _ACTIVE_TIME.fullmatch(values[-1])
    seconds = int(m.group(1)) * (60 if m.group(2) == "m" else 1) if m else 0
    lo, hi = ACTIVE_TIME_S
    if not lo <= seconds <= hi:
        raise ValueError(f"max_active_time={values[-1]!r} is not between {lo:g}s and {hi:g}s")
    return float(seconds)


def is_demo(*urls: str) -> bool:
    """Whether any of ``urls`` is on Bybit's demo-trading hosts (not the mainnet hosts demo
    borrows its public data from): demo has no trade websocket (websocket/trade/guideline.mdx
    § Scope: "Not support: demo trading")."""
    demo = VENUES[DEMO].hosts() - VENUES.money_hosts()
    return any(host_of(u) in demo for u in urls)
