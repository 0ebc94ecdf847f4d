"""The connector's copy of each synced book, so a bot that arrives late starts from a snapshot."""

from __future__ import annotations

from hftctl.book import OrderBook
from hftctl.ipc.schema import DepthClear, DepthDiff, DepthSnapshot, Message

# Used until a bot registers the symbol's real tick (e.g. a raw-only collector subscription).
FALLBACK_TICK = 1e-8


class BookCache:
    def __init__(self) -> None:
        self.books: dict[str, OrderBook] = {}
        self.synced: dict[str, bool] = {}
        self.last_ts: dict[str, tuple[int, int]] = {}

    def ensure(self, symbol: str, tick_size: float | None) -> None:
        book = self.books.get(symbol)
        if book is None or (tick_size and book.tick_size == FALLBACK_TICK and not self.synced.get(symbol)):
            self.books[symbol] = OrderBook(tick_size or FALLBACK_TICK)
            self.synced.setdefault(symbol, False)

    def apply(self, msg: Message) -> None:
        t = type(msg)
        if t is DepthDiff:
            if self.synced.get(msg.symbol):
                self.books[msg.symbol].apply_diff(msg.bids, msg.asks)
                self.last_ts[msg.symbol] = (msg.exch_ts, msg.local_ts)
        elif t is DepthSnapshot:
            self.ensure(msg.symbol, None)
            self.books[msg.symbol].apply_snapshot(msg.bids, msg.asks)
            self.synced[msg.symbol] = True
            self.last_ts[msg.symbol] = (msg.exch_ts, msg.local_ts)
        elif t is DepthClear:
            if msg.symbol in self.books:
                self.books[msg.symbol].clear()
            self.synced[msg.symbol] = False

    def snapshot(self, symbol: str) -> DepthSnapshot | None:
        """The current book as a snapshot message, or None while it is not in sync."""
        if not self.synced.get(symbol):
            return None
        book = self.books[symbol]
        exch_ts, local_ts = self.last_ts.get(symbol, (0, 0))
        return DepthSnapshot(symbol, exch_ts, local_ts, book.bid_levels(), book.ask_levels())
