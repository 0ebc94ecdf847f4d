"""Binance COIN-M futures: where its APIs live, which streams make a recording, its REST paths.

Every entry names the official document it was checked against (docs/protocols.md lists them).
COIN-M's streams have no routes: the USD-M routing notice (2026-03-06) does not cover dstream,
whose connect page still names only ``/ws/<streamName>`` and ``/stream?streams=``, and the
official SDK's COIN-M streams use no route either. hftctl has no COIN-M connector (trading), so
``config_urls`` is None and the private and WebSocket API entries are listed for the mainnet guard
and the record only.
"""

from __future__ import annotations

from hftctl.exchanges.venues import MAINNET, TESTNET, Venue, VenueTable

_DOCS = "developers.binance.com/docs/derivatives/coin-margined-futures"
_SDK = "binance-connector-python common/src/binance_common/constants.py (2026-08-21)"
CHECKED = "2026-12-01"

VENUES = VenueTable(
    venues={
        MAINNET: Venue(MAINNET, rest="https://dapi.binance.com",
                       ws={"public": "wss://dstream.binance.com", "private": "wss://dstream.binance.com",
                           "api": "wss://ws-dapi.binance.com/ws-dapi/v1"},
                       real_money=True, source=f"{_DOCS}/general-info; {_DOCS}/websocket-market-streams; {_SDK}",
                       checked=CHECKED,
                       # "Base Url 2": the same streams with ?listenKey= (websocket-market-streams)
                       other_hosts=("dstream-auth.binance.com",)),
        TESTNET: Venue(TESTNET, rest="https://testnet.binancefuture.com",
                       ws={"public": "wss://dstream.binancefuture.com", "private": "wss://dstream.binancefuture.com",
                           "api": "wss://testnet.binancefuture.com/ws-dapi/v1"},
                       real_money=False, source=f"{_DOCS}/general-info § Testnet; {_SDK}", checked=CHECKED),
        # No COIN-M demo hosts are documented (the SDK's only futures DEMO constant is USD-M's REST).
    },
    default=TESTNET,
)

# What hftbacktest's collector records for "binancefuturescm" (collector/src/main.rs): the same
# streams as USD-M, on dstream's combined /stream. depth@0ms is, as on USD-M, only in the 2020
# change log; COIN-M documents 250/500/100 ms.
STREAMS = ("depth@0ms", "trade", "bookTicker")
# collect --streams: mark price and funding every second, liquidation snapshots, aggregate trades
# (websocket-market-streams: "Mark Price Stream", "Liquidation Order Streams", "Aggregate Trade Streams").
OPTIONAL_STREAMS = {"markPrice": "markPrice@1s", "forceOrder": "forceOrder", "aggTrade": "aggTrade"}
# "A single connection can listen to a maximum of 200 streams"; "10 incoming messages per second"
# (websocket-market-streams; USD-M raised its limit to 1024 on 2025-07-02, COIN-M's page still says 200).
MAX_STREAMS = 200
MESSAGES_PER_S = 10

PATHS = {
    "ping": "/dapi/v1/ping",
    "time": "/dapi/v1/time",
    "exchange_info": "/dapi/v1/exchangeInfo",
    "depth": "/dapi/v1/depth",
    "book_ticker": "/dapi/v1/ticker/bookTicker",
}
SNAPSHOT_LIMIT = 1000      # GET /dapi/v1/depth: limits 5..1000, weight 20 at 1000 (as hftbacktest asks)
