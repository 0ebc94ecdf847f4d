"""What ``hftctl collect`` records from Bybit: hftbacktest's topics (orderbook.1, orderbook.50,
the deepest book, and publicTrade; ``venues.BOOK_DEPTHS``) over one subscription. The deepest
linear book is orderbook.1000 since orderbook.500 was switched off (2025-09-30). The orderbook
topics start with a snapshot after every (re)subscribe, so no REST snapshot is taken. With
``--streams``: ``tickers`` (mark, index, funding, best prices; 100 ms snapshot then deltas) and
the liquidations, ``allLiquidation`` (``liquidation`` names the same: its old topic was deprecated
2025-02-20 and its doc page removed 2025-11-19)."""

from __future__ import annotations

import json

from hftctl.collector.protocol import CollectorProtocol, Connection, DepthSeq, PublicMessage
from hftctl.exchanges.bybit.venues import BOOK_DEPTHS, CATEGORY, OPTIONAL_TOPICS, PATHS, SNAPSHOT_LIMIT
from hftctl.exchanges.venues import Venue


class BybitCollector(CollectorProtocol):
    takes_rest_snapshots = False
    optional_streams = OPTIONAL_TOPICS

    def topics(self, symbol: str) -> list[str]:
        s = symbol.upper()
        return [*(f"orderbook.{d}.{s}" for d in BOOK_DEPTHS), f"publicTrade.{s}", *(f"{t}.{s}" for t in self.extra)]

    def connections(self, venue: Venue, symbols: list[str]) -> list[Connection]:
        topics = [t for sym in symbols for t in self.topics(sym)]
        return [Connection(venue.ws["public"],
                           json.dumps({"req_id": "subscribe", "op": "subscribe", "args": topics}))]

    def snapshot_url(self, venue: Venue, symbol: str) -> str:
        return (f"{venue.rest.rstrip('/')}{PATHS['orderbook']}?category={CATEGORY}&symbol={symbol.upper()}"
                f"&limit={SNAPSHOT_LIMIT}")

    def is_snapshot(self, body: object) -> bool:
        return isinstance(body, dict) and body.get("retCode") == 0 and isinstance(body.get("result"), dict)

    def read(self, msg: object) -> PublicMessage | None:
        if not isinstance(msg, dict):
            return None
        topic = msg.get("topic")
        if not isinstance(topic, str) or "." not in topic:
            return None
        return PublicMessage(topic.rsplit(".", 1)[1])

    def subscription_error(self, msg: object) -> str | None:
        if isinstance(msg, dict) and msg.get("success") is False:
            return str(msg.get("ret_msg") or msg)
        return None

    def continuous(self, prev_last: int, seq: DepthSeq) -> bool:
        return seq.first == prev_last + 1

    def gap_marker(self, symbol: str, reason: str, ts_ms: int) -> bytes:
        return json.dumps({"topic": f"gap.{symbol.upper()}", "type": "gap", "ts": ts_ms, "reason": reason},
                          separators=(",", ":")).encode()

    def is_depth_stream(self, stream: str) -> bool:
        return stream.startswith("orderbook.")

    def is_snapshot_line(self, raw: bytes) -> bool:
        return False


PROTOCOL = BybitCollector()
