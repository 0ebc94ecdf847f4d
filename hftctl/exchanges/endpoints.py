"""Public endpoints per exchange: testnet defaults, what the collector subscribes to, mainnet guard.

Stream choices follow hftbacktest's collector (Binance futures depth@0ms, spot depth@100ms,
trade, bookTicker; Bybit orderbook.1/50/500 and publicTrade) so that recordings convert the same.
"""

from __future__ import annotations

import json
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


# --- what the collector needs to know per exchange -----------------------------------------
# Mirrors hftbacktest's collector: Binance is recorded from one combined-stream connection
# (messages arrive as {"stream", "data"} envelopes and are written verbatim) plus REST depth
# snapshots written as the raw REST body; Bybit subscribes by message and its orderbook topics
# carry their own snapshots, so no REST snapshot is taken there.

@dataclass(frozen=True)
class DepthSeq:
    """Sequence numbers of one depth diff: first/last update id, and the previous last id if sent."""

    first: int
    last: int
    prev: int | None


@dataclass(frozen=True)
class PublicMessage:
    """What the collector reads from a public message: whose it is, and its depth sequence if any."""

    symbol: str
    depth: DepthSeq | None = None
    bad_depth: bool = False    # a depth diff without usable sequence ids


_BINANCE = ("binancefutures", "binancespot")


def _check_exchange(exchange: str) -> None:
    if exchange not in TESTNET:
        raise HftctlError(f"unknown exchange {exchange!r} (expected one of {', '.join(TESTNET)})")


def takes_rest_snapshots(exchange: str) -> bool:
    """Bybit's orderbook topics start with a snapshot after every (re)subscribe; Binance needs REST."""
    _check_exchange(exchange)
    return exchange in _BINANCE


def public_stream_request(exchange: str, stream_url: str, symbols: list[str]) -> tuple[str, str | None]:
    """The websocket URL to open and the subscribe message to send after connecting (or None)."""
    _check_exchange(exchange)
    streams = [s for sym in symbols for s in public_streams(exchange, sym)]
    if exchange in _BINANCE:
        # One combined-stream connection, as hftbacktest's collector does, so every line carries
        # the {"stream", "data"} envelope the converters expect.
        base = stream_url.rstrip("/")
        for suffix in ("/ws", "/stream"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                break
        return f"{base}/stream?streams={'/'.join(streams)}", None
    return stream_url, json.dumps({"req_id": "subscribe", "op": "subscribe", "args": streams})


def depth_snapshot_url(exchange: str, rest_url: str, symbol: str) -> str:
    _check_exchange(exchange)
    ep = TESTNET[exchange]
    sym = symbol.upper()
    if exchange == "bybit":
        return f"{rest_url.rstrip('/')}{ep.snapshot_path}?category=linear&symbol={sym}&limit={ep.snapshot_limit}"
    return f"{rest_url.rstrip('/')}{ep.snapshot_path}?symbol={sym}&limit={ep.snapshot_limit}"


def is_depth_snapshot(exchange: str, body: object) -> bool:
    """Is a REST response body a usable depth snapshot (and not an error object)?"""
    _check_exchange(exchange)
    if exchange in _BINANCE:
        return (isinstance(body, dict) and isinstance(body.get("lastUpdateId"), int)
                and isinstance(body.get("bids"), list) and isinstance(body.get("asks"), list))
    return isinstance(body, dict) and body.get("retCode") == 0 and isinstance(body.get("result"), dict)


def read_public_message(exchange: str, msg: object) -> PublicMessage | None:
    """Route a decoded public websocket message to its symbol; None for acks/pongs/unknown shapes."""
    if not isinstance(msg, dict):
        return None
    if exchange in _BINANCE:
        data = msg.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("s"), str):
            return None
        if data.get("e") != "depthUpdate":
            return PublicMessage(data["s"])
        first, last = data.get("U"), data.get("u")
        prev = data.get("pu") if exchange == "binancefutures" else None
        if type(first) is not int or type(last) is not int or (exchange == "binancefutures" and type(prev) is not int):
            return PublicMessage(data["s"], None, bad_depth=True)
        return PublicMessage(data["s"], DepthSeq(first, last, prev))
    if exchange == "bybit":
        topic = msg.get("topic")
        if not isinstance(topic, str) or "." not in topic:
            return None
        return PublicMessage(topic.rsplit(".", 1)[1])
    _check_exchange(exchange)
    return None


def subscription_error(exchange: str, msg: object) -> str | None:
    """The exchange's refusal of a subscribe request (Bybit ``success: false``, Binance ``error``)."""
    if not isinstance(msg, dict):
        return None
    if exchange == "bybit" and msg.get("success") is False:
        return str(msg.get("ret_msg") or msg)
    if exchange in _BINANCE and isinstance(msg.get("error"), dict):
        return str(msg["error"].get("msg") or msg["error"])
    return None


def depth_is_continuous(exchange: str, prev_last: int, seq: DepthSeq) -> bool:
    """Does this diff follow the previous one without a gap (Binance's U/u/pu rules)?"""
    if exchange == "binancefutures":
        return seq.prev == prev_last
    return seq.first == prev_last + 1


def gap_marker(exchange: str, symbol: str, reason: str, ts_ms: int) -> bytes:
    """A recording line body that marks lost data. Shaped like an envelope with an event type no
    converter knows, so hftbacktest's converters skip it while hftctl's can see the gap."""
    _check_exchange(exchange)
    if exchange in _BINANCE:
        return json.dumps({"stream": f"{symbol.lower()}@gap",
                           "data": {"e": "gap", "E": ts_ms, "s": symbol.upper(), "reason": reason}},
                          separators=(",", ":")).encode()
    return json.dumps({"topic": f"gap.{symbol.upper()}", "type": "gap", "ts": ts_ms, "reason": reason},
                      separators=(",", ":")).encode()
