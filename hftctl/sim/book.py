"""The sim's public order book per symbol: price levels by integer tick, with the last update id.

This is the book the REST depth snapshot returns and the diff stream describes, so a client that
rebuilds it from snapshot + diffs must land on exactly this state. Users' orders are not in it
(see docs/sim.md, "Fill rule").
"""

from __future__ import annotations

import heapq

from hftctl.sim.instruments import SymbolSpec


class SimBook:
    def __init__(self, spec: SymbolSpec) -> None:
        self.spec = spec
        self.bids: dict[int, int] = {}   # ticks -> lots
        self.asks: dict[int, int] = {}
        self.last_update_id = 0
        self._best_bid: int | None = None
        self._best_ask: int | None = None
        self._dirty = True

    def apply_wire(self, bids: list, asks: list) -> None:
        """Apply [[price, qty], ...] string levels as they appear on the wire (qty 0 removes)."""
        book_ticks, book_lots = self.spec.book_ticks, self.spec.book_lots
        for book, wire in ((self.bids, bids), (self.asks, asks)):
            for p, q in wire:
                t = book_ticks(p)
                n = book_lots(q)
                if n <= 0:
                    book.pop(t, None)
                else:
                    book[t] = n
        self._dirty = True

    def replace(self, bids: dict[int, int], asks: dict[int, int]) -> None:
        self.bids = dict(bids)
        self.asks = dict(asks)
        self._dirty = True

    def _refresh(self) -> None:
        self._best_bid = max(self.bids) if self.bids else None
        self._best_ask = min(self.asks) if self.asks else None
        self._dirty = False

    @property
    def best_bid(self) -> int | None:
        if self._dirty:
            self._refresh()
        return self._best_bid

    @property
    def best_ask(self) -> int | None:
        if self._dirty:
            self._refresh()
        return self._best_ask

    def mid(self) -> float | None:
        bb, ba = self.best_bid, self.best_ask
        if bb is None or ba is None:
            return None
        return (bb + ba) / 2 * self.spec.tick

    def top(self, side: int, limit: int) -> list[tuple[int, int]]:
        """Best `limit` levels of a side, best first."""
        if side > 0:
            keys = heapq.nlargest(limit, self.bids) if limit < len(self.bids) else sorted(self.bids, reverse=True)
            return [(k, self.bids[k]) for k in keys]
        keys = heapq.nsmallest(limit, self.asks) if limit < len(self.asks) else sorted(self.asks)
        return [(k, self.asks[k]) for k in keys]

    def wire_levels(self, side: int, limit: int) -> list[list[str]]:
        spec = self.spec
        return [[spec.price_str(t), spec.qty_str(n)] for t, n in self.top(side, limit)]

    def diff_to(self, bids: dict[int, int], asks: dict[int, int]) -> tuple[list, list]:
        """Wire levels that turn this book into (bids, asks); used when a replay loops."""
        spec = self.spec
        out = []
        for mine, target in ((self.bids, bids), (self.asks, asks)):
            levels = [[spec.price_str(t), spec.qty_str(0)] for t in mine if t not in target]
            levels += [[spec.price_str(t), spec.qty_str(n)] for t, n in target.items() if mine.get(t) != n]
            out.append(levels)
        return out[0], out[1]
