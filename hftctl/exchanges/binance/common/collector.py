"""What ``hftctl collect`` records from Binance, as hftbacktest's collector does: one combined-
stream connection for every symbol (each message in its ``{"stream", "data"}`` envelope, written
verbatim) plus REST depth snapshots written as the raw REST body."""

from __future__ import annotations

import json

from hftctl.collector.protocol import CollectorProtocol, Connection, DepthSeq, PublicMessage
from hftctl.exchanges.venues import Venue


class BinanceCollector(CollectorProtocol):
    takes_rest_snapshots = True

    def __init__(self, streams: tuple[str, ...], depth_path: str, snapshot_limit: int, has_pu: bool) -> None:
        self.streams = streams            # stream kinds per symbol, e.g. ("depth@0ms", "trade", "bookTicker")
        self.depth_path = depth_path
        self.snapshot_limit = snapshot_limit
        self.has_pu = has_pu              # USD-M diffs carry pu; spot's continuity is U == prev u + 1

    def symbol_streams(self, symbol: str) -> list[str]:
        s = symbol.lower()
        return [f"{s}@{kind}" for kind in self.streams]

    def connections(self, venue: Venue, symbols: list[str]) -> list[Connection]:
        streams = [s for sym in symbols for s in self.symbol_streams(sym)]
        # Combined streams (/stream?streams=...) even for one symbol, so every line carries the
        # {"stream", "data"} envelope the converters expect.
        base = venue.ws["public"].rstrip("/")
        for suffix in ("/ws", "/stream"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                break
        return [Connection(f"{base}/stream?streams={'/'.join(streams)}")]

    def snapshot_url(self, venue: Venue, symbol: str) -> str:
        return f"{venue.rest.rstrip('/')}{self.depth_path}?symbol={symbol.upper()}&limit={self.snapshot_limit}"

    def is_snapshot(self, body: object) -> bool:
        return (isinstance(body, dict) and isinstance(body.get("lastUpdateId"), int)
                and isinstance(body.get("bids"), list) and isinstance(body.get("asks"), list))

    def read(self, msg: object) -> PublicMessage | None:
        if not isinstance(msg, dict):
            return None
        data = msg.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("s"), str):
            return None
        if data.get("e") != "depthUpdate":
            return PublicMessage(data["s"])
        first, last = data.get("U"), data.get("u")
        prev = data.get("pu") if self.has_pu else None
        if type(first) is not int or type(last) is not int or (self.has_pu and type(prev) is not int):
            return PublicMessage(data["s"], None, bad_depth=True)
        return PublicMessage(data["s"], DepthSeq(first, last, prev))

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
