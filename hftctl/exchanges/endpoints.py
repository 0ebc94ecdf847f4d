"""Public endpoints per exchange: testnet defaults, what the collector subscribes to, mainnet guard.

Stream choices follow hftbacktest's collector (Binance futures depth@0ms, spot depth@100ms,
trade, bookTicker; Bybit orderbook.1/50/500 and publicTrade) so that recordings convert the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from hftctl.errors import HftctlError


@dataclass(frozen=True)
class PublicEndpoints:
    """Where an exchange's public market data lives, and which streams make a full recording."""

    stream_url: str          # websocket base for public market data
    rest_url: str            # REST base (depth snapshots, exchange info)
    snapshot_path: str       # REST path of the depth snapshot
    snapshot_limit: int      # levels asked for in a snapshot

    def streams(self, exchange: str, symbol: str) -> list[str]:
        return public_streams(exchange, symbol)


TESTNET: dict[str, PublicEndpoints] = {
    "binancefutures": PublicEndpoints(
        stream_url="wss://fstream.binancefuture.com/ws",
        rest_url="https://demo-fapi.binance.com",
        snapshot_path="/fapi/v1/depth",
        snapshot_limit=1000,
    ),
    "binancespot": PublicEndpoints(
        stream_url="wss://stream.testnet.binance.vision/ws",
        rest_url="https://testnet.binance.vision",
        snapshot_path="/api/v3/depth",
        snapshot_limit=1000,
    ),
    "bybit": PublicEndpoints(
        stream_url="wss://stream-testnet.bybit.com/v5/public/linear",
        rest_url="https://api-testnet.bybit.com",
        snapshot_path="/v5/market/orderbook",
        snapshot_limit=500,
    ),
}

# Bybit's private, trade and public websockets are separate endpoints on testnet.
BYBIT_TESTNET_PRIVATE_URL = "wss://stream-testnet.bybit.com/v5/private"
BYBIT_TESTNET_TRADE_URL = "wss://stream-testnet.bybit.com/v5/trade"


def public_streams(exchange: str, symbol: str) -> list[str]:
    """Stream (Binance) or topic (Bybit) names that hftbacktest's collector records for a symbol."""
    if exchange == "binancefutures":
        s = symbol.lower()
        return [f"{s}@depth@0ms", f"{s}@trade", f"{s}@bookTicker"]
    if exchange == "binancespot":
        s = symbol.lower()
        return [f"{s}@depth@100ms", f"{s}@trade", f"{s}@bookTicker"]
    if exchange == "bybit":
        s = symbol.upper()
        return [f"orderbook.1.{s}", f"orderbook.50.{s}", f"orderbook.500.{s}", f"publicTrade.{s}"]
    raise HftctlError(f"unknown exchange {exchange!r} (expected one of binancefutures, binancespot, bybit)")


# Hosts that move real money. Anything under these domains that is not a known testnet/demo host
# is treated as mainnet.
_MAINNET_SUFFIXES = ("binance.com", "binance.us", "bybit.com", "bytick.com")
_TESTNET_HOSTS = {
    "fstream.binancefuture.com", "testnet.binancefuture.com", "dstream.binancefuture.com",
    "demo-fapi.binance.com", "demo-dapi.binance.com", "fstream.binancefuture.com",
    "stream.binancefuture.com", "demo-stream.binance.com", "demo-api.binance.com",
    "testnet.binance.vision", "stream.testnet.binance.vision", "ws-api.testnet.binance.vision",
    "api-testnet.bybit.com", "stream-testnet.bybit.com", "api-demo.bybit.com",
    "stream-demo.bybit.com",
}


def is_mainnet(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    if host in _TESTNET_HOSTS:
        return False
    return any(host == s or host.endswith("." + s) for s in _MAINNET_SUFFIXES)


def check_not_mainnet(urls: dict[str, str], allow_mainnet: bool = False) -> None:
    """Refuse to run against real-money endpoints unless the user said so explicitly."""
    if allow_mainnet:
        return
    for key, url in urls.items():
        if url and is_mainnet(url):
            raise HftctlError(f"{key} = {url} is a mainnet URL; pass --allow-mainnet to trade real money")
