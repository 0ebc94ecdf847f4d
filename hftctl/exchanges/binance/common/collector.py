"""What ``hftctl collect`` records from Binance, as hftbacktest's collector does: combined-stream
connections (each message in its ``{"stream", "data"}`` envelope, written verbatim) plus REST
depth snapshots written as the raw REST body.

A routed market (USD-M) gets one connection per route its streams live on (depth and
bookTicker on ``/public``, trades, mark price and liquidations on ``/market``); an unrouted one
(spot, COIN-M) a single connection.
Streams are subscribed with ``SUBSCRIBE`` messages after connecting (batched, paced under the
market's per-connection message limit) rather than in the URL, which stays short whatever the
number of symbols; more than a connection's documented stream limit opens another connection.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

from hftctl.collector.protocol import CollectorProtocol, Connection, DepthSeq, PublicMessage
from hftctl.exchanges.venues import Venue

MAX_STREAMS = 1024   # streams per connection (USD-M Change Log 2025-07-02; spot web-socket-streams.md)
MAX_PARAMS = 200     # streams named in one SUBSCRIBE (no documented cap: Binance's old stream limit)
_UNROUTED = "public"


class BinanceCollector(CollectorProtocol):
    takes_rest_snapshots = True

    def __init__(self, streams: tuple[str, ...], depth_path: str, snapshot_limit: int, has_pu: bool,
                 route_of: Callable[[str], str | None] | None = None,
                 route_urls: Callable[[str], dict[str, str]] | None = None,
                 messages_per_s: float = 5, optional: dict[str, str] | None = None,
                 max_streams: int = MAX_STREAMS) -> None:
        self.streams = streams            # stream kinds per symbol, e.g. ("depth@0ms", "trade", "bookTicker")
        self.depth_path = depth_path
        self.snapshot_limit = snapshot_limit
        self.has_pu = has_pu              # USD-M diffs carry pu; spot's continuity is U == prev u + 1
        self.route_of = route_of          # stream name -> route (routed markets only)
        self.route_urls = route_urls      # a configured stream URL -> every route's base URL
        self.messages_per_s = messages_per_s   # the market's incoming-message limit per connection
        self.optional_streams = optional or {}
        self.max_streams = max_streams    # streams one connection may carry

    def symbol_streams(self, symbol: str) -> list[str]:
        s = symbol.lower()
        return [f"{s}@{kind}" for kind in (*self.streams, *self.extra)]

    def with_stream_url(self, venue: Venue, url: str) -> Venue:
        if self.route_urls is None:
            return super().with_stream_url(venue, url)
        return replace(venue, name="custom", ws={**venue.ws, **self.route_urls(url)})

    def _base(self, venue: Venue, route: str) -> str:
        base = venue.ws[route].rstrip("/")
        if self.route_of is None:        # an unrouted URL may name /ws or /stream; streams hang off the root
            for suffix in ("/ws", "/stream"):
                if base.endswith(suffix):
                    return base[: -len(suffix)]
        return base

    def connections(self, venue: Venue, symbols: list[str]) -> list[Connection]:
        by_route: dict[str, list[str]] = {}
        for sym in symbols:
            for name in self.symbol_streams(sym):
                route = self.route_of(name) if self.route_of else _UNROUTED
                by_route.setdefault(route or _UNROUTED, []).append(name)
        out = []
        for route, names in by_route.items():
            # Combined streams (/stream) even for one symbol, so every line carries the
            # {"stream", "data"} envelope the converters expect.
            url = f"{self._base(venue, route)}/stream"
            for i in range(0, len(names), self.max_streams):
                chunk = names[i:i + self.max_streams]
                messages = tuple(json.dumps({"method": "SUBSCRIBE", "params": chunk[j:j + MAX_PARAMS], "id": n + 1},
                                            separators=(",", ":"))
                                 for n, j in enumerate(range(0, len(chunk), MAX_PARAMS)))
                depth = tuple(dict.fromkeys(n.partition("@")[0].upper() for n in chunk if self.is_depth_stream(n)))
                out.append(Connection(url, messages, self.messages_per_s, depth))
        return out

    def snapshot_url(self, venue: Venue, symbol: str) -> str:
        return f"{venue.rest.rstrip('/')}{self.depth_path}?symbol={symbol.upper()}&limit={self.snapshot_limit}"

    def is_snapshot(self, body: object) -> bool:
        return (isinstance(body, dict) and isinstance(body.get("lastUpdateId"), int)
                and isinstance(body.get("bids"), list) and isinstance(body.get("asks"), list))

    def read(self, msg: object) -> PublicMessage | None:
        if not isinstance(msg, dict):
            return None
        data, stream = msg.get("data"), msg.get("stream")
        if not isinstance(data, dict):
            return None
        symbol = data.get("s")
        if not isinstance(symbol, str):
            # forceOrder carries its symbol inside "o": the stream name says whose it is
            if not isinstance(stream, str) or "@" not in stream:
                return None
            symbol = stream.partition("@")[0].upper()
        if data.get("e") != "depthUpdate":
            return PublicMessage(symbol)
        first, last = data.get("U"), data.get("u")
        prev = data.get("pu") if self.has_pu else None
        if type(first) is not int or type(last) is not int or (self.has_pu and type(prev) is not int):
            return PublicMessage(symbol, None, bad_depth=True)
        return PublicMessage(symbol, DepthSeq(first, last, prev))

    def subscription_error(self, msg: object) -> str | None:
        if isinstance(msg, dict) and isinstance(msg.get("error"), dict):
            return str(msg["error"].get("msg") or msg["error"])
        return None

    def continuous(self, prev_last: int, seq: DepthSeq) -> bool:
        if self.has_pu:
            return seq.prev == prev_last
        return seq.first == prev_last + 1

    def gap_marker(self, symbol: str, reason: str, ts_ms: int) -> bytes:
        # Shaped like an envelope with an event type no converter knows: hftbacktest's skip it,
        # hftctl's see the gap.
        return json.dumps({"stream": f"{symbol.lower()}@gap",
                           "data": {"e": "gap", "E": ts_ms, "s": symbol.upper(), "reason": reason}},
                          separators=(",", ":")).encode()

    def is_depth_stream(self, stream: str) -> bool:
        return "@depth" in stream

    def is_snapshot_line(self, raw: bytes) -> bool:
        return raw.startswith(b'{"lastUpdateId"')
